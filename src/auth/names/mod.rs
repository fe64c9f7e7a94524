//! Names: the identifiers every other part speaks of, each validated once.

pub mod dns;
pub mod encoding;
pub mod provider;
pub mod role;
pub mod session_id;
pub mod thumbprint;
pub mod username;
