//! Sessions: records and their timeouts, refresh-token rotation, the device a session is bound
//! to, the store trait with its guarantees, the authority's atomic commands, the KV layout and
//! the watch over open WebSockets.

pub mod authority;
pub mod device;
pub mod kv_layout;
pub mod record;
pub mod refresh;
pub mod socket_watch;
pub mod store;
pub mod user_sessions;
