//! Bodies on the wire: sign-in and token requests as they arrive, the admin protocol.

pub mod admin;
pub mod login;
