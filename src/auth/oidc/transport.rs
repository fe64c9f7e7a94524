//! How the edge reads a provider's answers over the network: the rules the shell applies to every
//! request it sends to a provider (discovery, key set, token endpoint).
//!
//! A provider request never follows a redirect: the token request carries the client secret, the
//! code and the PKCE verifier, and a `307` would have the runtime send all three again to wherever
//! the provider (or whoever answers in its name) points. Any `3xx` is a failure. Each request, body
//! included, has [`PROVIDER_TIMEOUT_MS`] to finish, so a stalled provider cannot hold a browser;
//! and a body is read chunk by chunk and dropped as soon as it passes its limit, so a huge answer
//! is never read whole.

/// A provider request, answer body included, is abandoned after this many milliseconds.
pub const PROVIDER_TIMEOUT_MS: u64 = 10_000;

/// Whether an answer with `status` may be read at all: never a redirect (`3xx`), which is not
/// followed either.
pub fn check_status(status: u16) -> Result<(), String> {
    if (300..400).contains(&status) {
        return Err(format!(
            "answered a redirect ({status}), which is not followed"
        ));
    }
    Ok(())
}

/// A body read in chunks, refused as soon as it is longer than its limit.
#[derive(Debug)]
pub struct LimitedBody {
    limit: usize,
    bytes: Vec<u8>,
}

impl LimitedBody {
    /// An empty body that may grow to `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: Vec::new(),
        }
    }

    /// Adds `chunk`; `Err` (stop reading) once the body would pass the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), String> {
        if self.bytes.len() + chunk.len() > self.limit {
            return Err(format!("answer larger than {} bytes", self.limit));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The body read.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_failures_and_other_answers_are_read() {
        for status in [301, 302, 303, 307, 308, 300, 399] {
            assert!(check_status(status).is_err(), "{status}");
        }
        for status in [200, 400, 401, 500] {
            assert!(check_status(status).is_ok(), "{status}");
        }
    }

    #[test]
    fn a_body_stops_at_the_chunk_that_passes_its_limit() {
        let mut body = LimitedBody::new(10);
        body.push(b"01234").unwrap();
        body.push(b"56789").unwrap();
        assert!(body.push(b"x").is_err());
        assert_eq!(body.into_bytes(), b"0123456789");
        let mut huge = LimitedBody::new(10);
        assert!(huge.push(&[0; 11]).is_err());
    }
}
