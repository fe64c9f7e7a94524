//! HTTP as the core sees it: the request read once and whether it is admitted at all, cookies, the checked path, redirects, the
//! sign-in and token request bodies, and the headers forwarded to the origin.

pub mod admission;
pub mod answers;
pub mod cookie;
pub mod form;
pub mod forward;
pub mod path;
pub mod redirect;
pub mod request;
pub mod signin;
