//! Sign-in through OpenID Connect providers, as pure decisions.
//!
//! The provider is a third party whose answers arrive through the browser (the authorization
//! response) and over the network (discovery, keys, tokens); none of it is trusted until checked
//! here. What the edge makes of a successful sign-in is the same session as a password login's,
//! so rotation, limits and revocation apply unchanged, and the provider's own tokens are
//! dropped once read: they never reach the browser or the origin.

pub mod config;
pub mod discovery;
pub mod flow;
pub mod id_token;
pub mod identity;
pub mod logout;
pub mod refresh_policy;
pub mod transport;
