//! Key-bound tokens (DPoP, RFC 9449) on the request path and at the token endpoint: the proof
//! checked against the request and the token, every refusal logged.

use crate::auth::audit::EventKind;
use crate::auth::http::request::{RequestFacts, Scheme};
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::secret::AccessToken;
use crate::auth::session::store::SessionStore;
use crate::auth::token::dpop::proof::{check, ProofError, ProofRequest, VerifiedProof};
use crate::auth::token::dpop::DpopPolicy;
use crate::auth::token::VerifiedAccess;

use super::*;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// Logs `refusal` of a proof or a binding and returns it, with the nonce in force when it
    /// asks for one.
    pub(super) fn proof_refused(
        &self,
        req: &RequestFacts,
        refusal: Refusal,
        access: Option<&VerifiedAccess>,
    ) -> Refusal {
        let mut event = self
            .log(EventKind::DpopRefused)
            .client(req.client())
            .detail(format!(
                "{} {}: {}",
                req.method,
                req.path,
                refusal.message()
            ));
        if let Some(access) = access {
            event = event.user(access.user()).session(access.session().as_str());
        }
        self.audit.record(event);
        match refusal {
            Refusal::Proof {
                error: ProofError::NonceNeeded,
                ..
            } => Refusal::Proof {
                error: ProofError::NonceNeeded,
                nonce: self
                    .config
                    .dpop_nonces
                    .as_ref()
                    .map(|nonces| nonces.issue(self.now)),
            },
            other => other,
        }
    }

    /// Checks the request's proof for a token bound to `bound_to` (or, at the token endpoint,
    /// for none yet).
    async fn checked_proof(
        &self,
        req: &RequestFacts,
        token: Option<&AccessToken>,
        bound_to: Option<&Thumbprint>,
    ) -> Result<VerifiedProof, ProofError> {
        let text = req.dpop.as_deref().ok_or(ProofError::Missing)?;
        let url = format!("{}{}", req.own_origin, req.path);
        let request = ProofRequest {
            method: &req.method,
            url: &url,
            access_token: token.map(|token| token.expose().as_str()),
            bound_to,
            nonces: self.config.dpop_nonces.as_ref(),
            now: self.now,
            leeway: self.config.policy.leeway,
        };
        let seen = match token {
            Some(_) => self.caches.seen_proofs(),
            None => self.caches.seen_token_request_proofs(),
        };
        check(text, &request, self.proofs, seen).await
    }

    /// The claims of a token presented with the `DPoP` scheme: valid, bound to a key, and
    /// accompanied by a proof of that key for this request and this token.
    pub(super) async fn proven_access(
        &self,
        req: &RequestFacts,
        token: &AccessToken,
    ) -> Result<VerifiedAccess, Refusal> {
        if self.config.dpop == DpopPolicy::Off {
            return Err(self.proof_refused(req, Refusal::TokenBinding { bound: false }, None));
        }
        let access = self.presented_access(req, token, Scheme::Dpop)?;
        let Some(bound_to) = access.key() else {
            return Err(self.proof_refused(
                req,
                Refusal::TokenBinding { bound: false },
                Some(&access),
            ));
        };
        match self.checked_proof(req, Some(token), Some(bound_to)).await {
            Ok(_) => Ok(access),
            Err(error) => {
                Err(self.proof_refused(req, Refusal::Proof { error, nonce: None }, Some(&access)))
            }
        }
    }

    /// The proof of a token request (RFC 9449 §5), whose key the new tokens get bound to: `None`
    /// when the request has none and none is required, or when DPoP is off (its header is then
    /// not read).
    pub async fn token_request_proof(
        &self,
        req: &RequestFacts,
    ) -> Result<Option<VerifiedProof>, Refusal> {
        let refused = |error| self.proof_refused(req, Refusal::Proof { error, nonce: None }, None);
        match (self.config.dpop, &req.dpop) {
            (DpopPolicy::Off, _) | (DpopPolicy::Allow, None) => Ok(None),
            (DpopPolicy::Require, None) => Err(refused(ProofError::Missing)),
            (_, Some(_)) => self
                .checked_proof(req, None, None)
                .await
                .map(Some)
                .map_err(refused),
        }
    }
}
