//! Login failure counters, per account and per client address prefix.
//!
//! With the session authority (the default wherever it is bound) each counter has one owner and
//! an attempt is admitted and counted in one atomic step before its password is checked, so a
//! burst of concurrent guesses gets no more password checks than the limit; a right password
//! takes its count back. On KV alone (`SESSION_STORE = kv`) counting is best effort: KV has no
//! atomic increment and spreads writes in up to 60 s, so concurrent failures can each read the
//! same count and other locations see it late.

use worker::kv::KvStore;

use super::authority;
use crate::auth::accounts::throttle::{
    check, counter_key, record_failure, storage_ttl, Counter, ThrottleCommand, Verdict, Window,
};
use crate::auth::config::StoreBackend;
use crate::auth::gate::signin::Throttle;
use crate::auth::session::kv_layout::kv_ttl;
use crate::auth::session::store::StoreError;
use crate::edge::Ctx;

fn key(counter: &Counter<'_>) -> String {
    format!("rate:{}", counter_key(counter.scope, counter.value))
}

/// The authority object that owns `counter`: one named by the counter's key, for an account as
/// for an address prefix. Not the user's own object: a user's activity keeps that one warm, and
/// a warm object answers sooner, which would tell an active account from an unknown name.
fn owner(counter: &Counter<'_>) -> String {
    format!("throttle:{}", counter_key(counter.scope, counter.value))
}

fn store_error(err: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(err.to_string())
}

async fn window(kv: &KvStore, counter: &Counter<'_>) -> worker::Result<Option<Window>> {
    let text = kv.get(&key(counter)).text().await?;
    Ok(text.and_then(|text| serde_json::from_slice(text.as_bytes()).ok()))
}

/// Admits one login attempt on every counter, or answers the longest `Retry-After` any counter
/// demands. With the authority an admitted attempt is already counted (every counter that
/// admitted it keeps the count, even when another refused).
async fn admit(ctx: &Ctx<'_>, counters: &[Counter<'_>]) -> worker::Result<Option<i64>> {
    let mut retry_after = None;
    for counter in counters {
        let verdict = match ctx.config.store {
            StoreBackend::Authority => {
                let command = ThrottleCommand::Admit {
                    limit: *counter.limit,
                    now: ctx.now,
                };
                authority::throttle(ctx.env, &owner(counter), &command)
                    .await
                    .map_err(store_error)?
            }
            StoreBackend::Kv => {
                let kv = super::sessions_kv(ctx.env)?;
                check(window(&kv, counter).await?.as_ref(), counter.limit, ctx.now)
            }
        };
        if let Verdict::Limited { retry_after_secs } = verdict {
            retry_after = Some(retry_after.unwrap_or(0).max(retry_after_secs));
        }
    }
    Ok(retry_after)
}

/// Records that an admitted attempt failed: with the authority it is counted already; on KV it
/// is counted now.
async fn failed(ctx: &Ctx<'_>, counters: &[Counter<'_>]) -> worker::Result<()> {
    if ctx.config.store == StoreBackend::Authority {
        return Ok(());
    }
    let kv = super::sessions_kv(ctx.env)?;
    for counter in counters {
        let updated = record_failure(window(&kv, counter).await?.as_ref(), counter.limit, ctx.now);
        let ttl = storage_ttl(&updated, counter.limit, ctx.now);
        let json = serde_json::to_string(&updated)?;
        kv.put(&key(counter), json)?
            .expiration_ttl(kv_ttl(ttl))
            .execute()
            .await?;
    }
    Ok(())
}

/// Records that an admitted attempt had the right password: with the authority its count is
/// taken back; on KV nothing was counted.
async fn succeeded(ctx: &Ctx<'_>, counters: &[Counter<'_>]) -> worker::Result<()> {
    if ctx.config.store != StoreBackend::Authority {
        return Ok(());
    }
    for counter in counters {
        let command = ThrottleCommand::Forgive {
            limit: *counter.limit,
            now: ctx.now,
        };
        authority::throttle(ctx.env, &owner(counter), &command)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

/// The sign-in throttle over this request's storage: the authority's counters, or KV's.
pub(in crate::edge) struct Counters<'a>(pub(in crate::edge) &'a Ctx<'a>);

fn unavailable(err: worker::Error) -> StoreError {
    StoreError::Unavailable(format!("rate counter: {err}"))
}

impl Throttle for Counters<'_> {
    async fn admit(&self, counters: &[Counter<'_>]) -> Result<Option<i64>, StoreError> {
        admit(self.0, counters).await.map_err(unavailable)
    }

    async fn failed(&self, counters: &[Counter<'_>]) -> Result<(), StoreError> {
        failed(self.0, counters).await.map_err(unavailable)
    }

    async fn succeeded(&self, counters: &[Counter<'_>]) -> Result<(), StoreError> {
        succeeded(self.0, counters).await.map_err(unavailable)
    }
}
