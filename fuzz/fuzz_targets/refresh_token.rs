//! The refresh cookie is attacker-controlled: parsing must never panic, and only the exact shape
//! edgegate mints (`<16-byte session id>.<32-byte secret>[.<user>]`, unpadded base64url, the
//! user a valid [`edgegate::auth::names::username::Username`]) may pass.
#![no_main]

use edgegate::auth::names::encoding::b64url_decode;
use edgegate::auth::session::refresh::PresentedRefresh;
use edgegate::auth::names::session_id::SessionId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let parts: Vec<&str> = token.split('.').collect();
    if let Some(presented) = PresentedRefresh::parse(token) {
        assert!(matches!(parts.len(), 2 | 3), "{token:?}");
        assert_eq!((parts[0].len(), parts[1].len()), (22, 43), "{token:?}");
        assert_eq!(presented.session.as_str(), parts[0]);
        assert_eq!(
            SessionId::parse(presented.session.as_str()),
            Some(presented.session)
        );
        match (&presented.user, parts.get(2)) {
            (None, None) => {}
            (Some(user), Some(part)) => {
                assert!(!user.is_empty());
                assert_eq!(
                    b64url_decode(part).as_deref(),
                    Some(user.as_bytes()),
                    "{token:?}"
                );
            }
            other => panic!("user part and parse disagree: {other:?}"),
        }
    }
    if let Some(session) = SessionId::parse(token) {
        assert_eq!(session.as_str(), token);
        assert_eq!(token.len(), 22);
    }
});
