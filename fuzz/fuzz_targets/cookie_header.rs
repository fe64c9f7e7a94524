//! `Cookie` headers are attacker-controlled and read on every request: parsing, looking up our
//! cookies and stripping them for the origin must never panic, a parsed jar written back out must
//! parse to the same pairs, and what is forwarded must never contain a cookie of ours.
#![no_main]

use edgegate::auth::http::cookie::{
    cookie_names, strip_session_cookies, CookieError, CookieJar, MAX_COOKIE_HEADER,
};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(forwarded) = strip_session_cookies(header) {
        assert_eq!(
            strip_session_cookies(&forwarded).as_deref(),
            Some(forwarded.as_str()),
            "stripping is idempotent"
        );
        if let Ok(jar) = CookieJar::parse(&forwarded) {
            for secure in [true, false] {
                let names = cookie_names(secure);
                assert_eq!(jar.unique(names.access), Ok(None), "{forwarded:?}");
                assert_eq!(jar.unique(names.refresh), Ok(None), "{forwarded:?}");
            }
        }
    }
    let Ok(jar) = CookieJar::parse(header) else {
        return;
    };
    // `unique` agrees with a count of the names, for our cookies and a few others (checking every
    // pair would be quadratic and slow the fuzzer down).
    // A name after a comma inside a value (two Cookie lines joined by the runtime) is a copy too.
    let mut counts = HashMap::new();
    for (name, _) in jar.pairs() {
        *counts.entry(*name).or_insert(0) += 1;
    }
    let joined: std::collections::HashSet<&str> = header
        .split(';')
        .flat_map(|pair| pair.split(',').skip(1))
        .filter_map(|piece| piece.split_once('='))
        .map(|(name, _)| name.trim_matches([' ', '\t']))
        .collect();
    let ours = [true, false].map(cookie_names);
    let names = ours
        .iter()
        .flat_map(|names| [names.access, names.refresh])
        .chain(jar.pairs().iter().take(8).map(|(name, _)| *name));
    for name in names {
        if joined.contains(name) {
            assert_eq!(
                jar.unique(name),
                Err(CookieError::Duplicate {
                    name: name.to_owned()
                })
            );
            continue;
        }
        match (counts.get(name), jar.unique(name)) {
            (None, found) => assert_eq!(found, Ok(None)),
            (Some(1), Ok(Some(value))) => {
                assert!(jar.pairs().contains(&(name, value)))
            }
            (Some(_), Err(error)) => assert_eq!(
                error,
                CookieError::Duplicate {
                    name: name.to_owned()
                }
            ),
            (count, found) => panic!("{name:?}: {count:?} pairs but unique gave {found:?}"),
        }
    }
    let joined = jar
        .pairs()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");
    match CookieJar::parse(&joined) {
        Ok(again) => assert_eq!(again.pairs(), jar.pairs(), "{header:?} -> {joined:?}"),
        Err(error) => {
            assert_eq!(error, CookieError::TooLarge);
            assert!(joined.len() > MAX_COOKIE_HEADER);
        }
    }
});
