//! When a token is valid in time: `exp` and `nbf` with a leeway for clock skew. One rule for
//! edgegate's own tokens and the providers' (RFC 7519 §4.1.4-4.1.5): a token is good up to and
//! including `exp + leeway`, and from `nbf - leeway` on.

use crate::auth::env::UnixTime;

/// Why a token is not valid now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// `exp` plus the leeway has passed.
    Expired,
    /// `nbf` minus the leeway is still ahead.
    NotYetValid,
}

/// Whether `now` lies within `expires_at` and `not_before` (each checked when present), with
/// `leeway` seconds either way.
pub fn validity(
    now: UnixTime,
    expires_at: Option<UnixTime>,
    not_before: Option<UnixTime>,
    leeway: i64,
) -> Result<(), TimeError> {
    if expires_at.is_some_and(|exp| now > exp.saturating_add(leeway)) {
        return Err(TimeError::Expired);
    }
    if not_before.is_some_and(|nbf| now < nbf.saturating_sub(leeway)) {
        return Err(TimeError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leeway_counts_inclusively_on_both_ends() {
        assert_eq!(validity(130, Some(100), None, 30), Ok(()));
        assert_eq!(validity(131, Some(100), None, 30), Err(TimeError::Expired));
        assert_eq!(validity(70, None, Some(100), 30), Ok(()));
        assert_eq!(
            validity(69, None, Some(100), 30),
            Err(TimeError::NotYetValid)
        );
        assert_eq!(validity(i64::MAX, None, None, 30), Ok(()));
        assert_eq!(
            validity(0, Some(i64::MAX), Some(i64::MIN), i64::MAX),
            Ok(())
        );
    }
}
