//! A session's tokens and the cookies that carry them, or clear them.

use crate::auth::http::cookie::{
    clear_access, clear_refresh, set_access, set_refresh, CookieError, SetCookie,
};
use crate::auth::http::request::RequestFacts;
use crate::auth::session::record::SessionRecord;
use crate::auth::session::refresh::NewRefresh;
use crate::auth::session::store::SessionStore;
use crate::auth::token::{issue_access, Subject};

use super::*;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// The `Set-Cookie` values an answer to `req` with `refusal` carries: the clearing ones when
    /// the cookies are known to be dead, none otherwise.
    pub fn refusal_cookies(&self, req: &RequestFacts, refusal: &Refusal) -> Vec<SetCookie> {
        match refusal.clears_cookies() {
            true => self.clearing_cookies(req),
            false => Vec::new(),
        }
    }

    /// `Set-Cookie` values that delete both session cookies; none for a request that spoke with
    /// a bearer token, whose client's cookies (a browser's, say) are not the session in question.
    pub fn clearing_cookies(&self, req: &RequestFacts) -> Vec<SetCookie> {
        if req.bearer.presented() {
            return Vec::new();
        }
        let spec = &self.config.cookies;
        vec![clear_access(spec), clear_refresh(spec)]
    }

    /// A session's new tokens: an access token, and the refresh token if one was minted.
    pub fn session_tokens(
        &self,
        record: &SessionRecord,
        refresh: Option<&NewRefresh>,
    ) -> Result<SessionTokens, Refusal> {
        let config = self.config;
        let expires = record.access_expiry(self.now, &config.policy);
        let subject = Subject {
            user: &record.user,
            session: record.id.as_str(),
            roles: &record.roles,
            key: record.key.as_ref(),
        };
        let access = issue_access(
            &config.session_keys,
            &config.access_audience,
            &subject,
            self.now,
            expires - self.now,
            self.entropy,
        )
        .map_err(|err| Refusal::Internal(InternalCause::Mint(err)))?;
        Ok(SessionTokens {
            access,
            access_expires_in: expires - self.now,
            refresh: refresh.map(|refresh| refresh.token(&record.user)),
            // The session may be refreshed until its absolute end; idleness is checked on refresh.
            refresh_expires_in: (record.absolute_expires_at - self.now).max(1),
        })
    }

    /// The `Set-Cookie` values that carry `tokens` to a browser.
    pub fn session_cookies(&self, tokens: &SessionTokens) -> Result<Vec<SetCookie>, Refusal> {
        let spec = &self.config.cookies;
        let internal = |err: &CookieError| Refusal::Internal(InternalCause::Cookie(err.clone()));
        // The cookie outlives the token by the leeway, so an expired token still reaches the
        // edge and can be refreshed in place.
        let access_age = tokens.access_expires_in + self.config.policy.leeway;
        let mut cookies =
            vec![set_access(&tokens.access, access_age, spec).map_err(|err| internal(&err))?];
        if let Some(refresh) = &tokens.refresh {
            cookies.push(
                set_refresh(refresh, tokens.refresh_expires_in, spec)
                    .map_err(|err| internal(&err))?,
            );
        }
        Ok(cookies)
    }
}
