//! The admin endpoint: the operator tool's session commands, run by the same core as the
//! worker's own session endpoints (see [`crate::auth::gate::admin`]).

use worker::web_sys;

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::admin::{
    authorize, AdminCommand, AdminError, AdminPasskey, AdminSession, Ended, PasskeyList,
    PasskeyRemoved, SessionList,
};
use crate::auth::gate::passkey::PasskeyFailure;
use crate::auth::gate::Held;
use crate::auth::http::request::RequestFacts;
use crate::auth::session::store::SessionStore;
use crate::edge::bindings::AuthorityPasskeys;
use crate::edge::error::EdgeError;
use crate::edge::error::EdgeResult;
use crate::edge::{http, Ctx};

pub(super) async fn admin(
    req: &web_sys::Request,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
) -> EdgeResult {
    let authorization = req.headers().get("authorization").ok().flatten();
    if let Err(err) = authorize(ctx.config.admin_secret.as_ref(), authorization.as_deref()) {
        if err == AdminError::Unauthenticated {
            ctx.audit(
                AuditEvent::new(EventKind::AdminRefused, ctx.now)
                    .client(facts.client())
                    .detail(format!("{} {}", facts.method, facts.path)),
            );
        }
        return Err(err.into());
    }
    let command = AdminCommand::parse(&facts.method, &facts.path)?;
    let user = command.user().clone();
    let gate = ctx.gate();
    let (kind, reply) = match command {
        AdminCommand::ListSessions { .. } => {
            let records = ctx.store.sessions_of(&user, ctx.now).await?;
            let sessions = records.iter().map(AdminSession::from).collect();
            let reply = serde_json::to_value(SessionList {
                user: user.clone(),
                sessions,
            });
            (EventKind::AdminList, reply)
        }
        AdminCommand::EndSession { session, .. } => {
            let held = Held {
                id: session,
                user: user.clone(),
            };
            let record = gate
                .end_session(&held)
                .await?
                .ok_or(AdminError::UnknownSession)?;
            let reply = serde_json::to_value(Ended {
                user: user.clone(),
                ended: vec![record.id.to_string()],
            });
            (EventKind::AdminRevoke, reply)
        }
        AdminCommand::ListPasskeys { .. } => {
            let vault = AuthorityPasskeys(ctx.env);
            let passkeys = gate
                .passkeys_of(&user, (&vault, &vault))
                .await
                .map_err(passkey_error)?;
            let reply = serde_json::to_value(PasskeyList {
                user: user.clone(),
                passkeys: passkeys.iter().map(AdminPasskey::from).collect(),
            });
            (EventKind::AdminList, reply)
        }
        AdminCommand::RemovePasskey { passkey, .. } => {
            let vault = AuthorityPasskeys(ctx.env);
            let removed = gate
                .remove_passkey(&user, &passkey, (&vault, &vault), "an operator")
                .await
                .map_err(passkey_error)?;
            let reply = serde_json::to_value(PasskeyRemoved {
                user: user.clone(),
                removed: removed.id.encoded(),
            });
            (EventKind::AdminRevoke, reply)
        }
        AdminCommand::EndAllSessions { .. } => {
            let ended = gate.end_all(&user).await?;
            let reply = serde_json::to_value(Ended {
                user: user.clone(),
                ended: ended.iter().map(ToString::to_string).collect(),
            });
            (EventKind::AdminRevoke, reply)
        }
    };
    ctx.audit(
        AuditEvent::new(kind, ctx.now)
            .user(&user)
            .client(facts.client())
            .detail(format!("{} {}", facts.method, facts.path)),
    );
    let reply = reply.map_err(|err| crate::edge::error::EdgeError::Internal(err.to_string()))?;
    Ok(http::json(&reply, 200)?)
}

/// The operator's answer to a passkey step that failed.
fn passkey_error(failure: PasskeyFailure) -> EdgeError {
    match failure {
        PasskeyFailure::LastPasskey => AdminError::LastPasskey.into(),
        PasskeyFailure::NotFound => AdminError::UnknownPasskey.into(),
        PasskeyFailure::Store(err) => err.into(),
        PasskeyFailure::Entropy(err) => EdgeError::Internal(err.to_string()),
        PasskeyFailure::Unavailable
        | PasskeyFailure::NotRecent
        | PasskeyFailure::BrowserOnly
        | PasskeyFailure::Refused(_)
        | PasskeyFailure::Name => AdminError::PasskeysOff.into(),
    }
}
