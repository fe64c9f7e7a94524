//! `POST /auth/device/register` and `POST /auth/device/refresh`: device-bound browser sessions
//! (W3C DBSC), decided by the gate (`gate::device`) and carried here: the session instructions
//! with the bound cookie, the challenge (403 with `Secure-Session-Challenge`), or the refusal.

use crate::auth::gate::device::DeviceAnswer;
use crate::auth::http::answers::{BoundCredential, InstructionScope, SessionInstructions};
use crate::auth::http::cookie::device_attributes;
use crate::auth::http::request::RequestFacts;
use crate::auth::token::dbsc::{challenge_header, REFRESH_PATH};
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{http, Ctx};

/// Which of the two endpoints.
pub(super) enum Step {
    /// The browser registers its key.
    Register,
    /// The browser renews its bound cookie.
    Refresh,
}

pub(super) async fn device(step: Step, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let gate = ctx.gate();
    let answer = match step {
        Step::Register => gate.register_device(facts).await,
        Step::Refresh => gate.refresh_device(facts).await,
    }
    .map_err(EdgeError::Refused)?;
    match answer {
        DeviceAnswer::Bound { record, cookie } => {
            let spec = &ctx.config.cookies;
            let instructions = SessionInstructions {
                session_identifier: &record.id,
                refresh_url: REFRESH_PATH,
                scope: InstructionScope {
                    origin: &facts.own_origin,
                    include_site: false,
                    scope_specification: [],
                },
                credentials: [BoundCredential {
                    kind: "cookie",
                    name: spec.names().device,
                    attributes: device_attributes(spec),
                }],
                allowed_refresh_initiators: [],
            };
            let mut response = http::json(&instructions, 200)?;
            http::add_cookies(&mut response, &[cookie])?;
            Ok(response)
        }
        DeviceAnswer::Challenge { challenge, session } => {
            let mut response = http::error(
                403,
                "device_challenge",
                "sign this challenge with the session's device key",
            )?;
            response.headers_mut().set(
                "Secure-Session-Challenge",
                &challenge_header(&challenge, &session),
            )?;
            Ok(response)
        }
        DeviceAnswer::Refused {
            status,
            code,
            reason,
        } => Ok(http::error(status, code, reason)?),
    }
}
