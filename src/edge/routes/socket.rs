//! The relay of an authenticated WebSocket: the edge stays between client and origin, so that
//! the socket closes when its session ends.
//!
//! The origin's socket (from its 101 answer) and the server end of a new `WebSocketPair` are
//! both accepted by the worker; the pair's client end goes back to the client in our own 101.
//! One task then owns both sockets: it passes every text and binary message on unchanged, passes
//! a close (code and reason, where the code may be sent on the wire) or an error of either side to
//! the other, and runs the session checks that [`crate::auth::session::socket_watch::SocketWatch`] schedules:
//! each asks the store directly ([`SessionStore::standing`]), never the isolate's "not revoked"
//! cache, which would hide a revocation KV already shows. When the watch says close, the client
//! gets 4401 "session ended" (4503 "session check failed" after two failed checks), the origin a
//! normal closure with the same reason, and the log a `socket_closed` line.
//!
//! The task is spawned, not awaited: the response must go back for the socket to open. Workerd
//! keeps the request alive while its accepted sockets are open, and the task's timers and
//! listeners live in it; when both sockets have closed the task ends and drops them.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::Stream;
use wasm_bindgen::JsCast;
use worker::worker_sys::ext::ResponseInitExt;
use worker::{web_sys, Delay, EventStream, WebSocket, WebSocketPair, WebsocketEvent};

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::AuditSink;
use crate::auth::http::forward::Identity;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::socket_watch::{
    relayed_code, Closing, SocketWatch, Step, NORMAL_CLOSURE, PEER_FAILED,
};
use crate::auth::session::store::{SessionStore, Standing, StoreError};
use crate::edge::bindings::Sessions;
use crate::edge::error::js_error;
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{now, ConsoleAudit, Ctx};

/// Headers of the origin's 101 that belong to its own handshake with the edge: the runtime
/// writes the client's.
const HANDSHAKE_HEADERS: &[&str] = &[
    "connection",
    "upgrade",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// The close reason one side gets when the other failed.
const PEER_FAILED_REASON: &str = "the other side failed";

/// Takes over the origin's accepted upgrade `answer` for `identity`'s session: returns the 101
/// to send to the client (the origin's headers but those of its own handshake), whose socket is
/// relayed to the origin's until either side closes or the session ends.
pub(super) fn relay(
    answer: &web_sys::Response,
    origin: web_sys::WebSocket,
    identity: &Identity,
    incoming: &web_sys::Request,
    ctx: &Ctx<'_>,
) -> EdgeResult<web_sys::Response> {
    let session = SessionId::parse(&identity.session).ok_or_else(|| {
        EdgeError::Internal("the forwarded identity names no valid session id".into())
    })?;
    let (watch, first) = SocketWatch::open(
        session,
        identity.user.clone(),
        ctx.now,
        ctx.config.websocket_check_interval,
        ctx.config.policy.absolute_timeout,
    );
    let pair = WebSocketPair::new()?;
    let headers = web_sys::Headers::new().map_err(js_error("headers"))?;
    for (name, value) in worker::Headers(answer.headers()).entries() {
        if !HANDSHAKE_HEADERS.contains(&name.as_str()) {
            headers
                .append(&name, &value)
                .map_err(js_error("header copy"))?;
        }
    }
    let mut init = web_sys::ResponseInit::new();
    init.set_status(101);
    init.set_headers(&headers);
    init.websocket(pair.client.as_ref())
        .map_err(js_error("response socket"))?;
    let response = web_sys::Response::new_with_opt_str_and_init(None, &init)
        .map_err(js_error("upgrade response"))?;
    let task = Relay {
        client: pair.server,
        origin: WebSocket::from(origin),
        store: Sessions::new(ctx.env, ctx.config),
        audit: ConsoleAudit::new(incoming),
    };
    wasm_bindgen_futures::spawn_local(task.run(watch, first));
    Ok(response)
}

/// What the task owns: both sockets, the store to check with, and where audit lines go.
struct Relay {
    /// The server end of the pair whose client end the client holds.
    client: WebSocket,
    origin: WebSocket,
    store: Sessions,
    audit: ConsoleAudit,
}

/// What woke the task.
enum Happened {
    FromClient(Option<worker::Result<WebsocketEvent>>),
    FromOrigin(Option<worker::Result<WebsocketEvent>>),
    /// The time of the next check has come.
    Due,
    /// The store answered the check.
    Answer(Result<Standing, StoreError>),
}

/// The task's one pending step: waiting for the next check, or for the store's answer to it.
enum Pending<'a> {
    Waiting(Delay),
    Asking(Pin<Box<dyn Future<Output = Result<Standing, StoreError>> + 'a>>),
}

fn wait_until(at: i64) -> Pending<'static> {
    let seconds = u64::try_from(at.saturating_sub(now())).unwrap_or(0);
    Pending::Waiting(Delay::from(Duration::from_secs(seconds)))
}

/// Passes one event of `from` on to `to`; `false` once the relay is over (a close or an error).
fn pass_on(event: Option<worker::Result<WebsocketEvent>>, to: &WebSocket) -> bool {
    match event {
        Some(Ok(WebsocketEvent::Message(message))) => {
            let data = message.as_ref().data();
            let sent = match data.as_string() {
                Some(text) => to.as_ref().send_with_str(&text),
                None => match data.dyn_ref::<js_sys::ArrayBuffer>() {
                    Some(bytes) => to.as_ref().send_with_array_buffer(bytes),
                    None => Err(data),
                },
            };
            if sent.is_err() {
                close(to, Some(PEER_FAILED), PEER_FAILED_REASON);
                return false;
            }
            true
        }
        Some(Ok(WebsocketEvent::Close(event))) => {
            close(to, relayed_code(event.code()), &event.reason());
            false
        }
        Some(Err(_)) | None => {
            close(to, Some(PEER_FAILED), PEER_FAILED_REASON);
            false
        }
    }
}

/// Closes `socket` with `code` and `reason`, or with neither; one already closed (or closing)
/// stays so.
fn close(socket: &WebSocket, code: Option<u16>, reason: &str) {
    let _ = socket.close(code, code.map(|_| reason));
}

impl Relay {
    async fn run(self, mut watch: SocketWatch, first: Step) {
        let (Ok(mut from_client), Ok(mut from_origin)) =
            (self.client.events(), self.origin.events())
        else {
            return self.fail("the sockets' events cannot be read");
        };
        // Binary messages as `ArrayBuffer`s, which `send` takes back as they are (the standard
        // default is `Blob`).
        for socket in [&self.client, &self.origin] {
            socket
                .as_ref()
                .set_binary_type(web_sys::BinaryType::Arraybuffer);
        }
        if self.client.accept().is_err() || self.origin.accept().is_err() {
            return self.fail("the sockets cannot be accepted");
        }
        let session = watch.session().clone();
        let user = watch.user().clone();
        let mut pending = match first {
            Step::CheckAt(at) => wait_until(at),
            Step::Close(closing) => return self.end(&watch, &closing),
        };
        // The check comes first, so that no flood of messages can put it off; then the sides
        // take turns at being read first, so that a busy one cannot starve the other.
        let mut client_first = true;
        loop {
            client_first = !client_first;
            let happened = poll_fn(|cx| {
                let check = match &mut pending {
                    Pending::Waiting(delay) => Pin::new(delay).poll(cx).map(|()| Happened::Due),
                    Pending::Asking(answer) => answer.as_mut().poll(cx).map(Happened::Answer),
                };
                if check.is_ready() {
                    return check;
                }
                for client in [client_first, !client_first] {
                    let ready = if client {
                        poll_events(&mut from_client, cx).map(Happened::FromClient)
                    } else {
                        poll_events(&mut from_origin, cx).map(Happened::FromOrigin)
                    };
                    if ready.is_ready() {
                        return ready;
                    }
                }
                Poll::Pending
            })
            .await;
            match happened {
                Happened::FromClient(event) => {
                    if !pass_on(event, &self.origin) {
                        return;
                    }
                }
                Happened::FromOrigin(event) => {
                    if !pass_on(event, &self.client) {
                        return;
                    }
                }
                Happened::Due => {
                    let at = now();
                    if let Some(closing) = watch.due(at) {
                        return self.end(&watch, &closing);
                    }
                    let store = &self.store;
                    let (session, user) = (&session, &user);
                    pending = Pending::Asking(Box::pin(store.standing(session, user, at)));
                }
                Happened::Answer(answer) => {
                    let at = now();
                    if let Err(err) = &answer {
                        self.audit.record(
                            AuditEvent::new(EventKind::StoreFailure, at)
                                .user(&user)
                                .session(session.as_str())
                                .detail(format!("open socket's session check: {err}")),
                        );
                    }
                    match watch.observe(answer, at) {
                        Step::CheckAt(next) => pending = wait_until(next),
                        Step::Close(closing) => return self.end(&watch, &closing),
                    }
                }
            }
        }
    }

    /// The session has ended (or cannot be checked): both sides are closed, and it is logged.
    fn end(&self, watch: &SocketWatch, closing: &Closing) {
        close(&self.client, Some(closing.code()), closing.reason());
        close(&self.origin, Some(NORMAL_CLOSURE), closing.reason());
        self.audit.record(watch.closed(closing, now()));
    }

    /// The relay could not start: both sides are closed, and the log says why.
    fn fail(&self, why: &str) {
        close(&self.client, Some(PEER_FAILED), PEER_FAILED_REASON);
        close(&self.origin, Some(PEER_FAILED), PEER_FAILED_REASON);
        self.audit
            .record(AuditEvent::new(EventKind::InternalError, now()).detail(why));
    }
}

fn poll_events(
    events: &mut EventStream<'_>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Option<worker::Result<WebsocketEvent>>> {
    Pin::new(events).poll_next(cx)
}
