//! Secrets that cannot leak by accident, nor be mistaken for one another.
//!
//! Each kind of secret is its own type ([`AccessToken`], [`RefreshToken`], [`Assertion`],
//! [`Password`], ...): a refresh token cannot be passed where an access token is expected. None has
//! a `Display`, so `format!("Bearer {token}")` does not compile; `Debug` prints `[redacted]`, so a
//! stray `{:?}` in a log line exposes nothing. Reading the value goes through
//! [`Secret::expose`], which makes every use greppable, and equality runs in constant time.

use core::fmt;
use core::marker::PhantomData;
use subtle::ConstantTimeEq;

/// A secret value of kind `K`. Read it with [`Secret::expose`].
pub struct Secret<K, T = String> {
    value: T,
    kind: PhantomData<fn() -> K>,
}

impl<K, T> Secret<K, T> {
    /// Wraps `value` as a secret of kind `K`.
    pub fn new(value: T) -> Self {
        Self {
            value,
            kind: PhantomData,
        }
    }

    /// The secret itself.
    pub fn expose(&self) -> &T {
        &self.value
    }

    /// The secret itself, by value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<K, T: Clone> Clone for Secret<K, T> {
    fn clone(&self) -> Self {
        Self::new(self.value.clone())
    }
}

impl<K, T> fmt::Debug for Secret<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Constant time in the content (lengths are not secret).
impl<K, T: AsRef<[u8]>> PartialEq for Secret<K, T> {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.value.as_ref(), other.value.as_ref())
    }
}

impl<K, T: AsRef<[u8]>> Eq for Secret<K, T> {}

/// The kinds of secret, as type-level tags.
pub mod kind {
    /// A session access token (the `__Host-eg_access` cookie, or a Bearer token).
    pub enum Access {}
    /// A refresh token (the refresh cookie, or a non-browser client's copy).
    pub enum Refresh {}
    /// The signed identity assertion forwarded to the origin.
    pub enum Assertion {}
    /// A user's password, as typed.
    pub enum Password {}
    /// The shared secret that authenticates the worker to the origin's password check.
    pub enum OriginShared {}
    /// The secret that authenticates an operator to the worker's admin endpoint.
    pub enum Admin {}
    /// Signing key material: key-ring text, raw key bytes, a private JWK.
    pub enum SigningKey {}
    /// The client secret this edge holds at an OpenID provider.
    pub enum ProviderClient {}
}

/// A session access token.
pub type AccessToken = Secret<kind::Access>;
/// A refresh token.
pub type RefreshToken = Secret<kind::Refresh>;
/// A signed identity assertion.
pub type Assertion = Secret<kind::Assertion>;
/// A password as typed.
pub type Password = Secret<kind::Password>;
/// The worker's shared secret with the origin's password check.
pub type OriginSecret = Secret<kind::OriginShared>;
/// The operator's admin secret.
pub type AdminSecret = Secret<kind::Admin>;
/// The client secret at an OpenID provider.
pub type ClientSecret = Secret<kind::ProviderClient>;
/// Signing key material of type `T`.
pub type KeyMaterial<T = String> = Secret<kind::SigningKey, T>;

/// Constant-time equality for secret bytes (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Shortest `ADMIN_SECRET` accepted: it is a bearer credential with the power to end sessions.
pub const MIN_ADMIN_SECRET_LEN: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    // No secret can be formatted for display, nor turned into another kind of secret.
    static_assertions::assert_not_impl_any!(AccessToken: fmt::Display, From<RefreshToken>);
    static_assertions::assert_not_impl_any!(RefreshToken: fmt::Display, From<AccessToken>);
    static_assertions::assert_not_impl_any!(Assertion: fmt::Display, From<AccessToken>);
    static_assertions::assert_not_impl_any!(Password: fmt::Display);
    static_assertions::assert_not_impl_any!(OriginSecret: fmt::Display);
    static_assertions::assert_not_impl_any!(AdminSecret: fmt::Display);
    static_assertions::assert_not_impl_any!(KeyMaterial: fmt::Display);
    static_assertions::assert_not_impl_any!(ClientSecret: fmt::Display);
    static_assertions::assert_not_impl_any!(KeyMaterial<Vec<u8>>: fmt::Display);

    #[test]
    fn debug_redacts() {
        let secret = Password::new(String::from("hunter2"));
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn equality_compares_content_and_length() {
        let token = |value: &str| AccessToken::new(value.to_owned());
        assert_eq!(token("abc"), token("abc"));
        assert_ne!(token("abc"), token("abd"));
        assert_ne!(token("abc"), token("ab"));
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
