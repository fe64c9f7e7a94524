//! The name a session, a token and an audit line are about.
//!
//! A username is checked once, where it enters (a login form, an admin path, an ID token, a stored
//! record or a token being read back), so everything after can rely on it: one spelling per
//! account, nothing that could break a KV key, a header or a log line. Two kinds exist. Built-in
//! users are normalised by [`Username::parse`]; people signed in through an OpenID provider are
//! `<provider>:<sub>` ([`Username::federated`]). Built-in names cannot contain `:`, so the two
//! never collide.

use core::fmt;
use core::ops::Deref;

use serde::{Deserialize, Serialize, Serializer};

use crate::auth::names::provider::is_valid_provider_id;

/// Longest built-in username.
pub const MAX_USERNAME_LEN: usize = 64;

/// Longest `sub` taken (OpenID Connect Core caps it at 255 ASCII characters).
pub const MAX_SUB_LEN: usize = 255;

/// A validated username: a normalised built-in name or a federated `<provider>:<sub>`.
///
/// Stored and sent exactly as the string it holds. Reading one back (serde's `Deserialize`, or
/// [`TryFrom<String>`]) applies the same rules as the constructors, so a record or token cannot
/// smuggle in a name that no login could have produced.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Username(String);

impl Username {
    /// The one spelling of a built-in username that is stored, looked up and rate-limited.
    ///
    /// Surrounding whitespace is dropped and ASCII letters lowercased; the result must be 1 to
    /// [`MAX_USERNAME_LEN`] characters of `a-z 0-9 . _ - @ +` (enough for e-mail addresses)
    /// starting with a letter or digit. Non-ASCII is refused rather than folded, so no two
    /// distinct inputs (e.g. `K` and the Kelvin sign) can name the same account.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let username = raw.trim().to_ascii_lowercase();
        if username.is_empty() || username.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::Length);
        }
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@+".contains(&b);
        let starts_well = username
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
        if !starts_well || !username.bytes().all(allowed) {
            return Err(UsernameError::Characters);
        }
        Ok(Self(username))
    }

    /// The user `sub` at the provider `provider`, as `<provider>:<sub>`; `None` when the provider
    /// id is not one (see [`is_valid_provider_id`]) or `sub` is longer than [`MAX_SUB_LEN`] or not
    /// printable ASCII.
    pub fn federated(provider: &str, sub: &str) -> Option<Self> {
        let usable = sub.len() <= MAX_SUB_LEN && sub.bytes().all(|b| b.is_ascii_graphic());
        (is_valid_provider_id(provider) && usable).then(|| Self(format!("{provider}:{sub}")))
    }

    /// Whether this is a `<provider>:<sub>` id rather than a built-in user.
    pub fn is_federated(&self) -> bool {
        self.0.contains(':')
    }

    /// The name as stored and forwarded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Username {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Username {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Username {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<Username> for String {
    fn from(username: Username) -> Self {
        username.0
    }
}

/// Reads a name back from storage or a token: it must already be in the form a constructor
/// makes (a normalised built-in name, or `<provider>:<sub>`), not merely normalisable to one.
impl TryFrom<String> for Username {
    type Error = UsernameError;

    fn try_from(text: String) -> Result<Self, UsernameError> {
        if let Some((provider, sub)) = text.split_once(':') {
            return Self::federated(provider, sub).ok_or(UsernameError::Characters);
        }
        let username = Self::parse(&text)?;
        if username.0 != text {
            return Err(UsernameError::Characters);
        }
        Ok(username)
    }
}

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A username that no sign-in could have produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameError {
    /// Empty or longer than [`MAX_USERNAME_LEN`] characters.
    Length,
    /// Characters other than `a-z`, `0-9`, `. _ - @ +`, or not starting with a letter or digit
    /// (or, read back, not in the one spelling a constructor makes).
    Characters,
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length => write!(f, "username must be 1 to {MAX_USERNAME_LEN} characters"),
            Self::Characters => f.write_str(
                "username may contain only a-z, 0-9 and . _ - @ +, and must start with a letter \
                 or digit",
            ),
        }
    }
}

impl std::error::Error for UsernameError {}

/// Names for tests, which are known to be valid.
#[cfg(test)]
pub(crate) mod testing {
    use super::Username;

    /// The built-in user `name`; panics if it is not a valid username.
    pub(crate) fn named(name: &str) -> Username {
        Username::parse(name).expect("a valid username")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(Username::parse("  Alice\t").unwrap(), "alice");
        assert_eq!(
            Username::parse("Bob.Smith+test@Example.COM").unwrap(),
            "bob.smith+test@example.com"
        );
        assert_eq!(Username::parse("7_x-y").unwrap(), "7_x-y");
        let longest = "a".repeat(MAX_USERNAME_LEN);
        assert_eq!(Username::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn unsafe_usernames_are_refused() {
        for raw in ["", "   ", &"a".repeat(MAX_USERNAME_LEN + 1)] {
            assert_eq!(Username::parse(raw), Err(UsernameError::Length));
        }
        for raw in [
            "al ice",
            "alice:admin",
            "alice/..",
            "\u{212a}elvin",
            "ålice",
            "alice\0",
            ".alice",
            "-alice",
            "@alice",
            "ali$ce",
        ] {
            assert_eq!(
                Username::parse(raw),
                Err(UsernameError::Characters),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn federated_ids_are_namespaced_and_checked() {
        let user = Username::federated("corp-id", "u:123").unwrap();
        assert_eq!(user.as_str(), "corp-id:u:123");
        assert_eq!(user.to_string(), "corp-id:u:123");
        assert!(user.is_federated());
        assert!(!Username::parse("alice").unwrap().is_federated());
        assert_eq!(
            Username::federated("corp", &"x".repeat(MAX_SUB_LEN)).map(|u| u.len()),
            Some(260)
        );
        assert!(Username::federated("corp", &"x".repeat(MAX_SUB_LEN + 1)).is_none());
        assert!(Username::federated("corp", "with space").is_none());
        assert!(Username::federated("corp", "é").is_none());
        assert!(Username::federated("Corp", "u").is_none());
        assert!(Username::federated("", "u").is_none());
    }

    #[test]
    fn serde_keeps_the_plain_string() {
        for user in [
            Username::parse("alice").unwrap(),
            Username::federated("corp", "u-1").unwrap(),
        ] {
            let json = serde_json::to_string(&user).unwrap();
            assert_eq!(json, format!("\"{user}\""));
            assert_eq!(serde_json::from_str::<Username>(&json).unwrap(), user);
        }
    }

    #[test]
    fn deserialize_refuses_what_no_constructor_makes() {
        for bad in [
            "\"\"",
            "\"Alice\"",
            "\" alice\"",
            "\".alice\"",
            "\"al ice\"",
            "\"Corp:u\"",
            "\"corp:a b\"",
            "\":u\"",
            "7",
        ] {
            assert!(serde_json::from_str::<Username>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Username::try_from("Alice".to_owned()),
            Err(UsernameError::Characters)
        );
    }
}
