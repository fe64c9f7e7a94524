//! The `keys` commands: signing keys for `wrangler secret put` and `.dev.vars`, made offline by
//! the library's own key code.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use chrono::DateTime;

use edgegate::KeyMaterial;
use edgegate::{generate_entry, SessionKeyRing};
use edgegate::{random_bytes, OsEntropy};

use crate::{fail, now, Failure};

/// A fresh `kid:key` entry; without a kid, one that names the day it was made and cannot collide
/// with another made the same day.
pub fn new_entry(kid: Option<String>) -> Result<KeyMaterial, Failure> {
    let kid = match kid {
        Some(kid) => kid,
        None => {
            let day = DateTime::from_timestamp(now(), 0)
                .ok_or_else(|| Failure("the system clock is out of range".into()))?
                .format("%Y%m%d");
            let suffix: [u8; 2] = random_bytes(&OsEntropy)?;
            format!("k{day}-{:02x}{:02x}", suffix[0], suffix[1])
        }
    };
    Ok(generate_entry(&kid, &OsEntropy)?)
}

/// `current` with a new key in front. Any valid ring is accepted: both rings hold 32-byte keys,
/// and the session ring's parser accepts every key the assertion ring does.
pub fn rotated_ring(current: &str, kid: Option<String>) -> Result<KeyMaterial, Failure> {
    let ring = SessionKeyRing::parse(current)
        .map_err(|err| Failure(format!("the current value is not a key ring: {err}")))?;
    let entry = new_entry(kid)?;
    let (new_kid, _) = entry.expose().split_once(':').unwrap_or_default();
    if ring.find(new_kid).is_some() {
        return fail(format!(
            "the ring already has a key `{new_kid}`; choose another --kid"
        ));
    }
    let mut entries = vec![entry.expose().as_str()];
    entries.extend(
        current
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|item| !item.is_empty()),
    );
    Ok(KeyMaterial::new(entries.join(",")))
}

/// A secret from its flag, or from a file (`-`: standard input) so it stays out of shell history.
pub fn secret_input(value: Option<String>, path: Option<&Path>) -> Result<KeyMaterial, Failure> {
    if let Some(value) = value {
        return Ok(KeyMaterial::new(value));
    }
    let Some(path) = path else {
        return fail("no value given"); // clap's argument group requires one of the two
    };
    let mut text = String::new();
    if path == Path::new("-") {
        io::stdin().read_to_string(&mut text)?;
    } else {
        text = fs::read_to_string(path)
            .map_err(|err| Failure(format!("cannot read {}: {err}", path.display())))?;
    }
    Ok(KeyMaterial::new(text))
}
