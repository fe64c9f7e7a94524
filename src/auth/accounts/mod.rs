//! Accounts: the built-in users' credentials (password records and passkeys) and the throttling
//! of failed sign-ins.

pub mod passkey;
pub mod password;
pub mod throttle;
