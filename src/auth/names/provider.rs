//! The id of an OpenID provider, as configured (`OIDC_PROVIDERS`) and as the first half of a
//! federated username (`<provider>:<sub>`).

/// Longest provider id.
pub const MAX_PROVIDER_ID_LEN: usize = 20;

/// Whether `id` may name a provider: lower-case letters, digits and `-`, not starting with `-`.
pub fn is_valid_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PROVIDER_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}
