//! Signing in: the sign-in and token request bodies as they arrive, password records, and the
//! throttling of failed attempts.

pub mod body;
pub mod password;
pub mod throttle;
