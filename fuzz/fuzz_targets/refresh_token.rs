//! The refresh cookie is attacker-controlled: parsing must never panic, and only the exact shape
//! edgegate mints (`<16-byte session id>.<32-byte secret>`, unpadded base64url) may pass.
#![no_main]

use edgegate::auth::refresh::{PresentedRefresh, SessionId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let session_part = token.split_once('.').map(|(session, _)| session);
    if let Some(presented) = PresentedRefresh::parse(token) {
        assert_eq!(token.len(), 22 + 1 + 43, "{token:?}");
        assert_eq!(Some(presented.session.as_str()), session_part);
        assert_eq!(
            SessionId::parse(presented.session.as_str()),
            Some(presented.session)
        );
    }
    if let Some(session) = SessionId::parse(token) {
        assert_eq!(session.as_str(), token);
        assert_eq!(token.len(), 22);
    }
});
