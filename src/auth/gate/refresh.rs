//! Refreshing a session: the rotation with reuse detection, the account check and the device
//! binding.

use crate::auth::audit::EventKind;
use crate::auth::http::request::RequestFacts;
use crate::auth::session::device::{compare, Binding, BindingPolicy, Device};
use crate::auth::session::record::SessionRecord;
use crate::auth::session::refresh::{NewRefresh, PresentedRefresh};
use crate::auth::session::store::{Rotation, SessionStore};
use crate::auth::token::dpop::{ProofError, VerifiedProof};

use super::*;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// Holds a refreshed session to the device of its login (`SESSION_BINDING`): `None` when the
    /// refresh goes on, else the refusal. Asked only once the store has matched the token to the
    /// session, so nobody without its current refresh token can raise a mismatch (or, under
    /// `enforce`, end someone's session); the cookie's holder could end it anyway by reusing it.
    ///
    /// Under `enforce` the session ends rather than merely refusing this refresh: the token did
    /// match, so it has been copied, and a refusal alone would leave the copy free to try again
    /// with another `User-Agent` until one passes.
    pub(super) async fn bound(
        &self,
        record: &SessionRecord,
        from: &RequestFacts,
    ) -> Option<Refusal> {
        if self.config.binding == BindingPolicy::Off {
            return None;
        }
        let presented = Device::of(&from.user_agent);
        let recorded = record.device.as_deref();
        if compare(recorded, presented.as_ref()) != Binding::Different {
            return None;
        }
        let enforce = self.config.binding == BindingPolicy::Enforce;
        let describe = |device: Option<&Device>| {
            device.map_or_else(|| "no device".to_owned(), Device::summary)
        };
        self.audit.record(
            self.log(EventKind::BindingMismatch)
                .user(&record.user)
                .session(record.id.as_str())
                .client(from.client())
                .detail(format!(
                    "signed in on {}, refreshed from {}; {}",
                    describe(recorded),
                    describe(presented.as_ref()),
                    if enforce {
                        "refused, ending the session"
                    } else {
                        "allowed (audit only)"
                    }
                )),
        );
        if !enforce {
            return None;
        }
        let held = Held {
            id: record.id.clone(),
            user: record.user.clone(),
        };
        Some(self.end_refusing(&held, Refusal::DeviceMismatch).await)
    }

    /// Holds a refreshed session to the key it is bound to (DPoP): `None` when the refresh goes
    /// on, else the refusal. Asked, like the device, once the store has matched the token, and
    /// for the same reason the session then ends: the refresh token was copied.
    async fn key_held(
        &self,
        record: &SessionRecord,
        from: &RequestFacts,
        proof: Option<&VerifiedProof>,
    ) -> Option<Refusal> {
        let bound = record.key.as_ref()?;
        let error = match proof {
            Some(proof) if proof.thumbprint() == bound => return None,
            Some(_) => ProofError::OtherKey,
            None => ProofError::Missing,
        };
        let held = Held {
            id: record.id.clone(),
            user: record.user.clone(),
        };
        if let Err(err) = self.end_session(&held).await {
            return Some(self.unavailable(err));
        }
        self.audit.record(
            self.log(EventKind::DpopRefused)
                .user(&record.user)
                .session(record.id.as_str())
                .client(from.client())
                .detail(format!(
                    "refresh of a key-bound session: {error}; the session has been ended"
                )),
        );
        Some(Refusal::Proof { error, nonce: None })
    }

    /// Rotates `presented` (a refresh token that the request `from` carries, with `proof` when
    /// it is a token request with one) and mints the session's new tokens, with the account
    /// check first and the key and device bindings after.
    pub async fn refresh(
        &self,
        presented: &PresentedRefresh,
        from: &RequestFacts,
        proof: Option<&VerifiedProof>,
    ) -> Restored {
        let refused = |refusal| Restored::Refused(refusal);
        let Ok(next) = NewRefresh::mint(&presented.session, self.entropy) else {
            return refused(Refusal::Internal(InternalCause::NoRandomness));
        };
        if let Some(refusal) = self.device_held(presented, from).await {
            return refused(refusal);
        }
        // The account check comes before the rotation: a refusal or an outage here must not
        // leave behind a rotation whose new token the client never received. The user is the
        // one the token names (a token naming someone else reaches an authority that does not
        // hold its session); tokens minted before they named one are looked up in KV.
        if self.config.checks_accounts() {
            let user = match &presented.user {
                Some(user) => Some(user.clone()),
                None => match self.store.session(&presented.session, self.now).await {
                    Ok(current) => current.map(|record| record.user),
                    Err(err) => return refused(self.unavailable(err)),
                },
            };
            // A provider's users have no account here: the provider is where they are disabled.
            let local = user.filter(|user| self.config.oidc.provider_of(user).is_none());
            if let Some(user) = local {
                match self.accounts.still_enabled(&user).await {
                    Ok(true) => {}
                    Ok(false) => {
                        if let Err(err) = self.end_all(&user).await {
                            return refused(self.unavailable(err));
                        }
                        self.audit.record(
                            self.log(EventKind::RevokeAll)
                                .user(&user)
                                .detail("account disabled"),
                        );
                        return refused(Refusal::SessionExpired);
                    }
                    Err(err) => return refused(self.unavailable(err)),
                }
            }
        }
        let rotation = self
            .store
            .rotate(presented, next.hash.clone(), &self.config.policy, self.now)
            .await;
        let (record, new_refresh, event) = match rotation {
            Ok(Rotation::Rotated(record)) => (record, Some(&next), EventKind::Refresh),
            Ok(Rotation::Grace(record)) => (record, None, EventKind::RefreshGrace),
            Ok(Rotation::Reused(record)) => {
                self.caches.forget(record.id.as_str());
                self.audit.record(
                    self.log(EventKind::ReuseDetected)
                        .user(&record.user)
                        .session(record.id.as_str()),
                );
                return refused(Refusal::RefreshReused);
            }
            Ok(Rotation::Ended | Rotation::Unknown) => {
                self.audit.record(
                    self.log(EventKind::RefreshRefused)
                        .session(presented.session.as_str()),
                );
                return refused(Refusal::SessionExpired);
            }
            Err(err) => return refused(self.unavailable(err)),
        };
        // The new refresh token (if any) has not left the edge: refused here, nobody holds it.
        if let Some(refusal) = self.key_held(&record, from, proof).await {
            return refused(refusal);
        }
        if let Some(refusal) = self.bound(&record, from).await {
            return refused(refusal);
        }
        self.audit.record(
            self.log(event)
                .user(&record.user)
                .session(record.id.as_str()),
        );
        match self.session_tokens(&record, new_refresh) {
            Ok(tokens) => Restored::Session {
                record: Box::new(record),
                tokens,
            },
            Err(refusal) => refused(refusal),
        }
    }
}
