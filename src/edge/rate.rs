//! Login failure counters in KV, per account and per client address.
//!
//! KV has no atomic increment and spreads writes in up to 60 s, so counts are per location and
//! may undercount concurrent failures by the number of racing requests; the limit still bounds
//! a credential-stuffing run to a handful of tries per window and location.

use worker::kv::KvStore;

use crate::auth::env::UnixTime;
use crate::auth::ratelimit::{
    check, counter_key, record_failure, storage_ttl, Limit, Scope, Verdict, Window,
};

pub struct Counter<'a> {
    pub scope: Scope,
    pub value: &'a str,
    pub limit: &'a Limit,
}

fn key(counter: &Counter<'_>) -> String {
    format!("rate:{}", counter_key(counter.scope, counter.value))
}

async fn window(kv: &KvStore, counter: &Counter<'_>) -> worker::Result<Option<Window>> {
    let text = kv.get(&key(counter)).text().await?;
    Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
}

/// The longest `Retry-After` any counter demands, or `None` when all allow a try.
pub async fn limited(
    kv: &KvStore,
    counters: &[Counter<'_>],
    now: UnixTime,
) -> worker::Result<Option<i64>> {
    let mut retry_after = None;
    for counter in counters {
        if let Verdict::Limited { retry_after_secs } =
            check(window(kv, counter).await?.as_ref(), counter.limit, now)
        {
            retry_after = Some(retry_after.unwrap_or(0).max(retry_after_secs));
        }
    }
    Ok(retry_after)
}

/// Counts one failure on every counter.
pub async fn fail(kv: &KvStore, counters: &[Counter<'_>], now: UnixTime) -> worker::Result<()> {
    for counter in counters {
        let updated = record_failure(window(kv, counter).await?.as_ref(), counter.limit, now);
        let ttl = storage_ttl(&updated, counter.limit, now);
        let json = serde_json::to_string(&updated)?;
        kv.put(&key(counter), json)?
            .expiration_ttl(u64::try_from(ttl).unwrap_or(60))
            .execute()
            .await?;
    }
    Ok(())
}
