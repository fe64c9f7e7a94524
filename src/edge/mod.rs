//! The Workers shell (placeholder).
//!
//! For now this only proves the build, run and test pipeline: it answers
//! `GET /.edgegate/health` with `200 ok` and forwards every other request unchanged (method,
//! path, query, headers and body) to the origin named by the `ORIGIN_URL` var.

use worker::{event, Context, Env, Fetch, Request, RequestInit, Response, Result, Url};

/// Path of the liveness probe answered by the worker itself.
const HEALTH_PATH: &str = "/.edgegate/health";

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    if url.path() == HEALTH_PATH {
        return Response::ok("ok");
    }

    let origin = env.var("ORIGIN_URL")?.to_string();
    let mut target = Url::parse(&origin)?;
    target.set_path(url.path());
    target.set_query(url.query());

    let method = req.method();
    let body = req.bytes().await?;
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(req.headers().clone());
    if !body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    }
    let upstream = Request::new_with_init(target.as_str(), &init)?;
    Fetch::Request(upstream).send().await
}
