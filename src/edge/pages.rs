//! The pages of `www/`, served through the assets binding with the page security headers.

use worker::Response;

use super::error::{EdgeError, EdgeResult};
use super::{http, Ctx};

pub(super) const LOGIN_PATH: &str = "/auth/login";
pub(super) const ASSETS_PREFIX: &str = "/auth/assets/";

/// Serves `file` of `www/`; anything that is not a plain file name is not found.
pub(super) async fn page(ctx: &Ctx<'_>, file: &str) -> EdgeResult {
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !plain {
        return Err(EdgeError::NotFound("no such asset"));
    }
    let assets = ctx.env.assets("ASSETS")?;
    let mut fetched = assets
        .fetch(format!("https://assets.invalid/{file}"), None)
        .await?;
    if fetched.status_code() != 200 {
        return Err(EdgeError::NotFound("no such asset"));
    }
    let body = fetched.bytes().await?;
    let content_type = fetched
        .headers()
        .get("Content-Type")?
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut response = Response::from_bytes(body)?;
    response.headers_mut().set("Content-Type", &content_type)?;
    http::harden(response.headers_mut())?;
    Ok(response)
}
