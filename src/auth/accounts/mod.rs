//! Accounts: password records and the throttling of failed sign-ins.

pub mod password;
pub mod throttle;
