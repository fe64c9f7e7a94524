//! Session binding: the device a session was created on, and whether a refresh comes from it.
//!
//! A refresh cookie is a bearer credential: whoever holds it can keep the session alive. Binding
//! a session to the device that signed in makes a cookie copied to another browser or system
//! worthless there. The device is what every request says about itself, its `User-Agent`,
//! reduced to the two facts a browser keeps for its whole life: its family ("Chrome") and its
//! platform ("Windows"). Versions are ignored, so a browser update does not end anyone's
//! session; network facts (address, country) are not used, because phones and laptops change
//! networks all day and a binding on them would log people out for moving.
//!
//! The same reading describes sessions on the account page ([`Device::summary`]), so the device
//! a person sees listed is the device the binding compares.
//!
//! The header is read as the grammar of RFC 9110 §10.1.5 has it, product tokens and comments,
//! not searched for substrings: a family is named by a product token (`Firefox/127.0`) and a
//! platform by an entry of a comment (`(Windows NT 10.0; Win64; x64)`), so text elsewhere in the
//! header cannot pose as either. Only the first [`MAX_AGENT_READ`] bytes are read.

use serde::{Deserialize, Serialize};

/// How much of a `User-Agent` header is read (real ones are well under 300 bytes).
pub const MAX_AGENT_READ: usize = 512;
/// Longest product name kept for a client that is not a known browser.
const MAX_PRODUCT_NAME: usize = 40;

/// Browser families by the product tokens that name them, most specific first: Edge, Opera and
/// Samsung Internet also send `Chrome/` and `Safari/`, Chrome sends `Safari/`.
const BROWSERS: &[(&[&str], &str)] = &[
    (&["Edg", "Edge", "EdgA", "EdgiOS"], "Edge"),
    (&["OPR", "OPiOS", "OPT", "Opera"], "Opera"),
    (&["SamsungBrowser"], "Samsung Internet"),
    (&["Firefox", "FxiOS"], "Firefox"),
    (&["Chrome", "CriOS", "HeadlessChrome", "Chromium"], "Chrome"),
    (&["Safari"], "Safari"),
];

/// Product tokens that name an engine or compatibility claim, never a client of their own.
const NOT_A_CLIENT: &[&str] = &["Mozilla", "AppleWebKit", "Gecko", "Version", "Mobile"];

/// Platforms by a word of a comment entry, most specific first: Android says `Linux`, iOS says
/// `like Mac OS X`, ChromeOS says `X11`.
const PLATFORMS: &[(&str, &str)] = &[
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPod", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// What a `User-Agent` says about the device: its browser family and platform, no versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// A known browser family ("Firefox"), else the first product the client names ("curl").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// The operating system the client names ("Linux", "iOS"); `None` when it names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// A `User-Agent` header as product names and comment entries.
struct Agent<'a> {
    products: Vec<&'a str>,
    comments: Vec<&'a str>,
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

impl<'a> Agent<'a> {
    fn read(header: &'a str) -> Self {
        let mut end = header.len().min(MAX_AGENT_READ);
        while !header.is_char_boundary(end) {
            end -= 1;
        }
        let mut rest = &header[..end];
        let (mut products, mut comments) = (Vec::new(), Vec::new());
        loop {
            rest = rest.trim_start();
            let Some(first) = rest.chars().next() else {
                break;
            };
            if first == '(' {
                // A comment, nested comments included; an unclosed one runs to the end.
                let mut depth = 0usize;
                let close = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(rest.len(), |(at, _)| at);
                comments.extend(
                    rest[1..close]
                        .split(';')
                        .map(str::trim)
                        .filter(|entry| !entry.is_empty()),
                );
                rest = rest.get(close + 1..).unwrap_or_default();
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '(')
                    .unwrap_or(rest.len());
                let name = rest[..end].split('/').next().unwrap_or_default();
                if !name.is_empty() && name.chars().all(is_token_char) {
                    products.push(name);
                }
                rest = &rest[end..];
            }
        }
        Self { products, comments }
    }

    fn browser(&self) -> Option<String> {
        let known = BROWSERS
            .iter()
            .find(|(tokens, _)| self.products.iter().any(|product| tokens.contains(product)));
        match known {
            Some((_, family)) => Some((*family).to_owned()),
            None => self
                .products
                .iter()
                .find(|product| !NOT_A_CLIENT.contains(product))
                .map(|product| product.chars().take(MAX_PRODUCT_NAME).collect()),
        }
    }

    fn platform(&self) -> Option<String> {
        PLATFORMS
            .iter()
            .find(|(word, _)| self.comments.iter().any(|entry| entry.contains(word)))
            .map(|(_, platform)| (*platform).to_owned())
    }
}

impl Device {
    /// The device `user_agent` describes; `None` when it names neither a client nor a platform
    /// (absent, empty, or not a `User-Agent` at all).
    pub fn of(user_agent: &str) -> Option<Self> {
        let agent = Agent::read(user_agent);
        let device = Self {
            browser: agent.browser(),
            platform: agent.platform(),
        };
        (device.browser.is_some() || device.platform.is_some()).then_some(device)
    }

    /// "Firefox on Linux", "curl", "Browser on iOS".
    pub fn summary(&self) -> String {
        match (&self.browser, &self.platform) {
            (Some(browser), Some(platform)) => format!("{browser} on {platform}"),
            (Some(browser), None) => browser.clone(),
            (None, Some(platform)) => format!("Browser on {platform}"),
            (None, None) => "Unknown device".to_owned(),
        }
    }
}

/// How a refresh's device compares with the session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The same browser family on the same platform (versions aside).
    Same,
    /// The session recorded no device (its login sent no usable `User-Agent`, or it predates
    /// binding): there is nothing to compare with.
    Unknown,
    /// Another family or platform, or none at all where the session recorded one: a browser
    /// never stops naming itself, so dropping the header is no way around the binding.
    Different,
}

/// Compares the device a session recorded at login with the device a request presents.
pub fn compare(recorded: Option<&Device>, presented: Option<&Device>) -> Binding {
    match recorded {
        None => Binding::Unknown,
        Some(recorded) if presented == Some(recorded) => Binding::Same,
        Some(_) => Binding::Different,
    }
}

/// What `SESSION_BINDING` asks of a refresh from a [`Binding::Different`] device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BindingPolicy {
    /// Not compared.
    Off,
    /// Logged (`binding_mismatch`), and the refresh goes on.
    Audit,
    /// Logged, refused, and the session ended (its cookie has been copied).
    #[default]
    Enforce,
}

impl BindingPolicy {
    /// `off`, `audit` or `enforce`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self::Off),
            "audit" => Some(Self::Audit),
            "enforce" => Some(Self::Enforce),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    const FIREFOX_WINDOWS: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0";

    fn device(browser: &str, platform: &str) -> Option<Device> {
        Some(Device {
            browser: Some(browser.into()),
            platform: Some(platform.into()),
        })
    }

    #[test]
    fn families_and_platforms_of_real_user_agents() {
        let cases = [
            (CHROME_LINUX, "Chrome", "Linux"),
            (FIREFOX_WINDOWS, "Firefox", "Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari", "macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari", "iOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "Chrome", "iOS"),
            ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15", "Firefox", "iPadOS"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36", "Chrome", "Android"),
            ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet", "Android"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge", "Windows"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera", "Windows"),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome", "ChromeOS"),
            ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox", "Linux"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Chrome", "Linux"),
        ];
        for (agent, browser, platform) in cases {
            assert_eq!(Device::of(agent), device(browser, platform), "{agent}");
        }
    }

    #[test]
    fn other_clients_are_named_by_their_first_product() {
        let of = |agent: &str| Device::of(agent).map(|device| device.summary());
        assert_eq!(of("curl/8.5.0").as_deref(), Some("curl"));
        assert_eq!(
            of("python-requests/2.32.3").as_deref(),
            Some("python-requests")
        );
        assert_eq!(
            of("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36").as_deref(),
            Some("Browser on Linux")
        );
        for nothing in [
            "",
            "   ",
            "Mozilla/5.0",
            "\u{0}\u{1}\r\n",
            "(;;;)",
            "/1.0",
            "é/1",
        ] {
            assert_eq!(Device::of(nothing), None, "{nothing:?}");
        }
        let long = format!("{}/1.0", "a".repeat(100));
        assert_eq!(
            Device::of(&long).unwrap().browser.unwrap().len(),
            MAX_PRODUCT_NAME
        );
    }

    #[test]
    fn only_product_tokens_and_comment_entries_count() {
        // A family named inside a comment, or a platform named as a product, is neither.
        assert_eq!(
            Device::of("MyApp/2.0 (Windows NT 10.0; like Firefox/127.0)"),
            Some(Device {
                browser: Some("MyApp".into()),
                platform: Some("Windows".into()),
            }),
            "the comment names the platform, not the family"
        );
        assert_eq!(
            Device::of("Linux/6.1 Firefox/127.0").unwrap().platform,
            None
        );
        // Nested and unclosed comments do not leak into the product list.
        assert_eq!(
            Device::of("Tool/1 (a (Chrome/1) b; Linux").unwrap(),
            Device {
                browser: Some("Tool".into()),
                platform: Some("Linux".into()),
            }
        );
        // Only the first MAX_AGENT_READ bytes are read, and never split inside a character.
        let padded = format!("{}é (Windows) Firefox/1", "x".repeat(MAX_AGENT_READ - 1));
        assert_eq!(Device::of(&padded).unwrap().platform, None);
    }

    #[test]
    fn versions_are_ignored_and_families_or_platforms_are_not() {
        let recorded = Device::of(CHROME_LINUX);
        let updated = Device::of(&CHROME_LINUX.replace("126.0.0.0", "127.0.6533.88"));
        assert_eq!(compare(recorded.as_ref(), updated.as_ref()), Binding::Same);
        for other in [
            FIREFOX_WINDOWS,
            &CHROME_LINUX.replace("X11; Linux x86_64", "Windows NT 10.0; Win64; x64"),
            &CHROME_LINUX.replace("Chrome/126.0.0.0 ", "Firefox/127.0 "),
            "curl/8.5.0",
        ] {
            let presented = Device::of(other);
            assert_eq!(
                compare(recorded.as_ref(), presented.as_ref()),
                Binding::Different,
                "{other}"
            );
        }
        assert_eq!(
            compare(recorded.as_ref(), None),
            Binding::Different,
            "a missing header is no way around the binding"
        );
        assert_eq!(
            compare(None, Device::of(FIREFOX_WINDOWS).as_ref()),
            Binding::Unknown
        );
        assert_eq!(compare(None, None), Binding::Unknown);
    }

    #[test]
    fn any_header_reads_into_a_well_formed_device() {
        // Every prefix of a real header (cut anywhere, inside comments and characters too) and
        // a stream of headers built from the grammar's delimiters and multi-byte characters.
        let alphabet: Vec<char> = "()/; ,aZ9._-Éé😀\t\u{0}WindowsLinuxFirefoxChrome"
            .chars()
            .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut headers: Vec<String> = (0..=CHROME_LINUX.len())
            .filter(|&end| CHROME_LINUX.is_char_boundary(end))
            .map(|end| CHROME_LINUX[..end].to_owned())
            .collect();
        for _ in 0..2000 {
            let len = (next() % 80) as usize;
            headers.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        headers.push("(".repeat(10_000) + &")".repeat(10_000));
        let platforms: Vec<&str> = PLATFORMS.iter().map(|(_, name)| *name).collect();
        for header in &headers {
            let Some(device) = Device::of(header) else {
                continue;
            };
            if let Some(browser) = &device.browser {
                assert!(browser.chars().count() <= MAX_PRODUCT_NAME, "{header:?}");
                assert!(
                    BROWSERS.iter().any(|(_, family)| family == browser)
                        || browser.chars().all(is_token_char),
                    "{header:?}"
                );
            }
            if let Some(platform) = &device.platform {
                assert!(platforms.contains(&platform.as_str()), "{header:?}");
            }
            assert!(!device.summary().is_empty());
        }
    }

    #[test]
    fn the_policy_reads_its_three_words() {
        assert_eq!(BindingPolicy::parse("off"), Some(BindingPolicy::Off));
        assert_eq!(BindingPolicy::parse("audit"), Some(BindingPolicy::Audit));
        assert_eq!(
            BindingPolicy::parse("enforce"),
            Some(BindingPolicy::Enforce)
        );
        assert_eq!(BindingPolicy::parse("Enforce"), None);
        assert_eq!(BindingPolicy::default(), BindingPolicy::Enforce);
    }
}
