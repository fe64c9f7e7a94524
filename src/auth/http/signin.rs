//! Reading a login attempt, or a client's request for its tokens, from a body, whatever bytes
//! arrive.
//!
//! Browsers post HTML forms (`application/x-www-form-urlencoded`); scripts post JSON. Both give
//! the same [`LoginRequest`], and the reply can match the request's [`LoginFormat`]. A
//! non-browser client asks `POST /auth/token` for its tokens in the body, in the shape of OAuth
//! 2.0's token requests (`grant_type` `password` or `refresh_token`), read by the same rules into a
//! [`TokenRequest`]. The parser is
//! strict where leniency would let two components disagree about what was sent: a field given
//! twice is refused (which one would the rate limiter and the password check each see?), and so
//! are bytes that are not UTF-8, rather than being replaced. Fields we do not know are ignored, as
//! a form's submit button or a client's extra metadata are harmless. Error messages never include
//! the submitted values, so logging one cannot leak a password.

use crate::auth::http::form;
use crate::auth::secret::Password;
use crate::auth::session::refresh::PresentedRefresh;
use core::fmt;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// Larger bodies are refused before any parsing; a login needs a few hundred bytes.
pub const MAX_LOGIN_BODY: usize = 8 * 1024;

/// A login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// As typed; normalise with [`crate::auth::names::username::Username::parse`] before use.
    pub username: String,
    /// As typed, redacted in `Debug`.
    pub password: Password,
    /// Where to go afterwards, unchecked: pass it through [`crate::auth::http::redirect::safe_next`].
    pub next: Option<String>,
    /// Form post or JSON call, so the reply takes the same form.
    pub format: LoginFormat,
}

/// How the attempt was sent, so the reply can take the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFormat {
    /// An HTML form post: reply with a redirect.
    Form,
    /// A JSON API call: reply with JSON.
    Json,
}

/// A client's request for tokens delivered in the body, not as cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `grant_type=password`: a login with `username` and `password` (its `next` is unused).
    Password(LoginRequest),
    /// `grant_type=refresh_token`: the rotation of this `refresh_token`.
    Refresh(PresentedRefresh),
}

/// The fields a login or a token request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    /// `username`.
    Username,
    /// `password`.
    Password,
    /// `next`, the page to return to.
    Next,
    /// `grant_type` of a token request.
    GrantType,
    /// `refresh_token` of a token request.
    RefreshToken,
}

impl LoginField {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "username" => Some(Self::Username),
            "password" => Some(Self::Password),
            "next" => Some(Self::Next),
            "grant_type" => Some(Self::GrantType),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }

    /// The field's name in a form or JSON body.
    pub fn name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Password => "password",
            Self::Next => "next",
            Self::GrantType => "grant_type",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// Parses a login body sent with the given `Content-Type`.
///
/// Empty `username` or `password` count as missing; an empty or JSON `null` `next` as absent.
pub fn parse_login(content_type: Option<&str>, body: &[u8]) -> Result<LoginRequest, LoginError> {
    let (format, fields) = read_fields(content_type, body)?;
    fields.into_request(format)
}

/// Parses a `POST /auth/token` body sent with the given `Content-Type`. The reply is JSON
/// whichever format the body has.
pub fn parse_token_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, LoginError> {
    let (_, mut fields) = read_fields(content_type, body)?;
    match required(fields.grant_type.take(), LoginField::GrantType)?.as_str() {
        "password" => fields
            .into_request(LoginFormat::Json)
            .map(TokenRequest::Password),
        "refresh_token" => {
            let token = required(fields.refresh_token.take(), LoginField::RefreshToken)?;
            PresentedRefresh::parse(&token)
                .map(TokenRequest::Refresh)
                .ok_or(LoginError::MalformedRefreshToken)
        }
        _ => Err(LoginError::UnsupportedGrant),
    }
}

/// The body's format and its known fields, each at most once.
fn read_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(LoginFormat, Fields), LoginError> {
    if body.len() > MAX_LOGIN_BODY {
        return Err(LoginError::TooLarge);
    }
    let format = format_of(content_type)?;
    let text = core::str::from_utf8(body).map_err(|_| LoginError::NotUtf8)?;
    let fields = match format {
        LoginFormat::Form => form_fields(text)?,
        LoginFormat::Json => json_fields(text)?,
    };
    Ok((format, fields))
}

/// A field that must be present and non-empty.
fn required(value: Option<String>, field: LoginField) -> Result<String, LoginError> {
    value
        .filter(|value| !value.is_empty())
        .ok_or(LoginError::Missing(field))
}

/// The format named by a `Content-Type`, whose `charset`, if given, must be UTF-8.
fn format_of(content_type: Option<&str>) -> Result<LoginFormat, LoginError> {
    let mut parts = content_type.unwrap_or_default().split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    let format = if media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        LoginFormat::Form
    } else if media_type.eq_ignore_ascii_case("application/json") {
        LoginFormat::Json
    } else {
        return Err(LoginError::UnsupportedMediaType);
    };
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let charset = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !charset.eq_ignore_ascii_case("utf-8") {
            return Err(LoginError::UnsupportedCharset);
        }
    }
    Ok(format)
}

/// The fields collected so far, each at most once.
#[derive(Default)]
struct Fields {
    username: Option<String>,
    password: Option<String>,
    next: Option<Option<String>>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

impl Fields {
    fn set(&mut self, field: LoginField, value: Option<String>) -> Result<(), LoginError> {
        let duplicate = match field {
            LoginField::Username => self.username.replace(value.unwrap_or_default()).is_some(),
            LoginField::Password => self.password.replace(value.unwrap_or_default()).is_some(),
            LoginField::Next => self.next.replace(value).is_some(),
            LoginField::GrantType => self.grant_type.replace(value.unwrap_or_default()).is_some(),
            LoginField::RefreshToken => self
                .refresh_token
                .replace(value.unwrap_or_default())
                .is_some(),
        };
        if duplicate {
            return Err(LoginError::Duplicate(field));
        }
        Ok(())
    }

    fn into_request(self, format: LoginFormat) -> Result<LoginRequest, LoginError> {
        Ok(LoginRequest {
            username: required(self.username, LoginField::Username)?,
            password: Password::new(required(self.password, LoginField::Password)?),
            next: self.next.flatten().filter(|next| !next.is_empty()),
            format,
        })
    }
}

/// `name=value&...` as the URL Standard defines it, except that bytes which do not decode to
/// UTF-8 are an error rather than U+FFFD (which `form_urlencoded` would substitute silently).
fn form_fields(text: &str) -> Result<Fields, LoginError> {
    let mut fields = Fields::default();
    for (name, value) in form::raw_pairs(text) {
        if let Some(field) = LoginField::from_name(&form_decode(name)?) {
            fields.set(field, Some(form_decode(value)?))?;
        }
    }
    Ok(fields)
}

fn form_decode(component: &str) -> Result<String, LoginError> {
    form::decode(component).map_err(|_| LoginError::NotUtf8)
}

/// A JSON object whose known members must be strings (`next` may also be `null`).
fn json_fields(text: &str) -> Result<Fields, LoginError> {
    let JsonMembers(members) =
        serde_json::from_slice(text.as_bytes()).map_err(|_| LoginError::MalformedJson)?;
    let mut fields = Fields::default();
    for (field, value) in members {
        let value = match value {
            Value::String(text) => Some(text),
            Value::Null if field == LoginField::Next => None,
            _ => return Err(LoginError::WrongType(field)),
        };
        fields.set(field, value)?;
    }
    Ok(fields)
}

/// The known members of a JSON object in order, repeats included (a `Value` map would keep only
/// the last of a repeated key, hiding the duplicate).
struct JsonMembers(Vec<(LoginField, Value)>);

impl<'de> Deserialize<'de> for JsonMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JsonMembersVisitor)
    }
}

struct JsonMembersVisitor;

impl<'de> Visitor<'de> for JsonMembersVisitor {
    type Value = JsonMembers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonMembers, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match LoginField::from_name(&key) {
                Some(field) => members.push((field, map.next_value()?)),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(JsonMembers(members))
    }
}

/// Why a login body was refused. None of these include submitted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginError {
    /// The body is larger than [`MAX_LOGIN_BODY`].
    TooLarge,
    /// Neither a form post nor JSON (or no `Content-Type` at all).
    UnsupportedMediaType,
    /// A `charset` other than UTF-8.
    UnsupportedCharset,
    /// The body, or a percent-decoded form component, is not UTF-8.
    NotUtf8,
    /// Not a single well-formed JSON object.
    MalformedJson,
    /// A required field is absent or empty.
    Missing(LoginField),
    /// A field appears more than once.
    Duplicate(LoginField),
    /// A JSON field is not a string.
    WrongType(LoginField),
    /// A token request's `grant_type` is neither `password` nor `refresh_token`.
    UnsupportedGrant,
    /// A token request's `refresh_token` is not shaped like one of ours.
    MalformedRefreshToken,
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "login body is larger than {MAX_LOGIN_BODY} bytes"),
            Self::UnsupportedMediaType => f.write_str(
                "login body must be application/x-www-form-urlencoded or application/json",
            ),
            Self::UnsupportedCharset => f.write_str("login body must be UTF-8"),
            Self::NotUtf8 => f.write_str("login body is not valid UTF-8"),
            Self::MalformedJson => f.write_str("login body is not a well-formed JSON object"),
            Self::Missing(field) => write!(f, "login field {} is missing", field.name()),
            Self::Duplicate(field) => {
                write!(f, "login field {} appears more than once", field.name())
            }
            Self::WrongType(field) => write!(f, "login field {} must be a string", field.name()),
            Self::UnsupportedGrant => {
                f.write_str("grant_type must be \"password\" or \"refresh_token\"")
            }
            Self::MalformedRefreshToken => f.write_str("refresh_token is not a refresh token"),
        }
    }
}

impl std::error::Error for LoginError {}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");

    fn form(body: &str) -> Result<LoginRequest, LoginError> {
        parse_login(FORM, body.as_bytes())
    }

    fn json(body: &str) -> Result<LoginRequest, LoginError> {
        parse_login(JSON, body.as_bytes())
    }

    #[test]
    fn form_posts_are_decoded() {
        let request =
            form("username=alice%40example.com&password=p%C3%A4ss+w%2Bord&next=%2Fa%3Fb%3Dc")
                .unwrap();
        assert_eq!(request.username, "alice@example.com");
        assert_eq!(request.password.expose(), "päss w+ord");
        assert_eq!(request.next.as_deref(), Some("/a?b=c"));
        assert_eq!(request.format, LoginFormat::Form);
    }

    #[test]
    fn json_bodies_are_read() {
        let request =
            json(r#"{"username":"alice","password":"p\"ss\u00e4","next":"/home"}"#).unwrap();
        assert_eq!(request.username, "alice");
        assert_eq!(request.password.expose(), "p\"ssä");
        assert_eq!(request.next.as_deref(), Some("/home"));
        assert_eq!(request.format, LoginFormat::Json);
    }

    #[test]
    fn next_is_optional() {
        for request in [
            form("username=a&password=b").unwrap(),
            form("username=a&password=b&next=").unwrap(),
            json(r#"{"username":"a","password":"b"}"#).unwrap(),
            json(r#"{"username":"a","password":"b","next":null}"#).unwrap(),
            json(r#"{"username":"a","password":"b","next":""}"#).unwrap(),
        ] {
            assert_eq!(request.next, None);
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(form("csrf=x&username=a&submit=Log+in&password=b&csrf=y").is_ok());
        assert!(json(r#"{"username":"a","password":"b","remember":[1,{"x":null}]}"#).is_ok());
        let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
        assert!(json(&format!(r#"{{"username":"a","password":"b","x":{deep}}}"#)).is_ok());
    }

    #[test]
    fn content_type_parameters_and_case_are_understood() {
        for content_type in [
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-URLEncoded",
            " application/x-www-form-urlencoded ;charset=\"utf-8\"",
        ] {
            let request = parse_login(Some(content_type), b"username=a&password=b").unwrap();
            assert_eq!(request.format, LoginFormat::Form, "{content_type}");
        }
        let request = parse_login(
            Some("application/json;charset=utf-8"),
            br#"{"username":"a","password":"b"}"#,
        )
        .unwrap();
        assert_eq!(request.format, LoginFormat::Json);
    }

    #[test]
    fn other_media_types_and_charsets_are_refused() {
        for content_type in [
            None,
            Some(""),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
            Some("application/json-seq"),
        ] {
            assert_eq!(
                parse_login(content_type, b"username=a&password=b"),
                Err(LoginError::UnsupportedMediaType),
                "{content_type:?}"
            );
        }
        assert_eq!(
            parse_login(
                Some("application/x-www-form-urlencoded; charset=iso-8859-1"),
                b"username=a&password=b"
            ),
            Err(LoginError::UnsupportedCharset)
        );
    }

    #[test]
    fn missing_and_empty_fields_are_named() {
        assert_eq!(
            form("password=b"),
            Err(LoginError::Missing(LoginField::Username))
        );
        assert_eq!(
            form("username=&password=b"),
            Err(LoginError::Missing(LoginField::Username))
        );
        assert_eq!(
            form("username=a"),
            Err(LoginError::Missing(LoginField::Password))
        );
        assert_eq!(
            form("username=a&password"),
            Err(LoginError::Missing(LoginField::Password))
        );
        assert_eq!(json("{}"), Err(LoginError::Missing(LoginField::Username)));
        assert_eq!(form(""), Err(LoginError::Missing(LoginField::Username)));
        let message = LoginError::Missing(LoginField::Password).to_string();
        assert!(message.contains("password"));
    }

    #[test]
    fn duplicate_fields_are_refused() {
        assert_eq!(
            form("username=a&password=b&username=c"),
            Err(LoginError::Duplicate(LoginField::Username))
        );
        assert_eq!(
            form("username=a&pass%77ord=b&password=b"),
            Err(LoginError::Duplicate(LoginField::Password))
        );
        assert_eq!(
            form("username=a&password=b&next=/&next=/x"),
            Err(LoginError::Duplicate(LoginField::Next))
        );
        assert_eq!(
            json(r#"{"username":"a","password":"b","password":"c"}"#),
            Err(LoginError::Duplicate(LoginField::Password))
        );
        assert_eq!(
            json(r#"{"username":"a","password":"b","next":null,"next":"/x"}"#),
            Err(LoginError::Duplicate(LoginField::Next))
        );
        assert_eq!(
            json(r#"{"username":"a","user\u006eame":"b","password":"c"}"#),
            Err(LoginError::Duplicate(LoginField::Username))
        );
    }

    #[test]
    fn non_utf8_is_refused_not_replaced() {
        assert_eq!(
            parse_login(FORM, b"username=a\xff&password=b"),
            Err(LoginError::NotUtf8)
        );
        assert_eq!(form("username=a%FF&password=b"), Err(LoginError::NotUtf8));
        assert_eq!(form("username=a&password=%C0%AF"), Err(LoginError::NotUtf8));
        assert_eq!(
            parse_login(JSON, b"{\"username\":\"a\xff\",\"password\":\"b\"}"),
            Err(LoginError::NotUtf8)
        );
        assert_eq!(
            json(r#"{"username":"a","password":"\ud800"}"#),
            Err(LoginError::MalformedJson)
        );
    }

    #[test]
    fn json_fields_must_be_strings() {
        assert_eq!(
            json(r#"{"username":1,"password":"b"}"#),
            Err(LoginError::WrongType(LoginField::Username))
        );
        assert_eq!(
            json(r#"{"username":"a","password":null}"#),
            Err(LoginError::WrongType(LoginField::Password))
        );
        assert_eq!(
            json(r#"{"username":"a","password":["b"]}"#),
            Err(LoginError::WrongType(LoginField::Password))
        );
        assert_eq!(
            json(r#"{"username":"a","password":"b","next":{}}"#),
            Err(LoginError::WrongType(LoginField::Next))
        );
    }

    #[test]
    fn malformed_json_is_refused() {
        for body in [
            "",
            "null",
            "[]",
            r#""username""#,
            r#"{"username":"a","password":"b""#,
            r#"{"username":"a","password":"b"} {}"#,
            r#"{"username":"a",}"#,
            &format!("{{\"username\":{}{}}}", "[".repeat(200), "]".repeat(200)),
        ] {
            assert_eq!(json(body), Err(LoginError::MalformedJson), "{body}");
        }
    }

    #[test]
    fn the_size_limit_is_inclusive() {
        let padding = "x".repeat(MAX_LOGIN_BODY - "username=a&password=b&pad=".len());
        let largest = format!("username=a&password=b&pad={padding}");
        assert_eq!(largest.len(), MAX_LOGIN_BODY);
        assert!(form(&largest).is_ok());
        assert_eq!(form(&format!("{largest}x")), Err(LoginError::TooLarge));
        assert_eq!(
            parse_login(None, &vec![0; MAX_LOGIN_BODY + 1]),
            Err(LoginError::TooLarge)
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_password() {
        let request = form("username=a&password=hunter2").unwrap();
        assert!(!format!("{request:?}").contains("hunter2"));
        let error = json(r#"{"username":"a","password":"hunter2","password":"x"}"#).unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state: u32 = 0x9e37_79b9;
        let alphabet = b"{}[]\":,=&%+ -_0123456789abcdefnulrtsuepasswordnextxFF\\\xff\xc3\x00";
        for length in 0..400 {
            let body: Vec<u8> = (0..length % 97)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    alphabet[state as usize % alphabet.len()]
                })
                .collect();
            let _ = parse_login(FORM, &body);
            let _ = parse_login(JSON, &body);
            let _ = parse_token_request(FORM, &body);
            let _ = parse_token_request(JSON, &body);
        }
    }

    fn token_request(content_type: Option<&str>, body: &str) -> Result<TokenRequest, LoginError> {
        parse_token_request(content_type, body.as_bytes())
    }

    #[test]
    fn a_password_grant_is_a_login_answered_in_json() {
        for (content_type, body) in [
            (FORM, "grant_type=password&username=alice&password=s3cret"),
            (
                JSON,
                r#"{"grant_type":"password","username":"alice","password":"s3cret"}"#,
            ),
        ] {
            let Ok(TokenRequest::Password(login)) = token_request(content_type, body) else {
                panic!("{body}: not a password grant");
            };
            assert_eq!(login.username, "alice");
            assert_eq!(login.password.expose(), "s3cret");
            assert_eq!(login.format, LoginFormat::Json, "{body}");
        }
        assert_eq!(
            token_request(FORM, "grant_type=password&username=alice"),
            Err(LoginError::Missing(LoginField::Password))
        );
    }

    #[test]
    fn a_refresh_grant_carries_a_well_formed_refresh_token() {
        use crate::auth::env::testing::SeededEntropy;
        use crate::auth::names::session_id::SessionId;
        use crate::auth::names::username::testing::named;
        use crate::auth::session::refresh::NewRefresh;
        let entropy = SeededEntropy::default();
        let session = SessionId::generate(&entropy).unwrap();
        let token = NewRefresh::mint(&session, &entropy)
            .unwrap()
            .token(&named("alice"));
        let body = format!(
            r#"{{"grant_type":"refresh_token","refresh_token":"{}"}}"#,
            token.expose()
        );
        let Ok(TokenRequest::Refresh(presented)) = token_request(JSON, &body) else {
            panic!("not a refresh grant");
        };
        assert_eq!(presented.session, session);
        assert_eq!(presented.user, Some(named("alice")));
        assert_eq!(
            token_request(FORM, "grant_type=refresh_token&refresh_token=abc.def"),
            Err(LoginError::MalformedRefreshToken)
        );
        assert_eq!(
            token_request(FORM, "grant_type=refresh_token"),
            Err(LoginError::Missing(LoginField::RefreshToken))
        );
    }

    #[test]
    fn a_token_request_names_a_known_grant_once() {
        assert_eq!(
            token_request(FORM, "username=a&password=b"),
            Err(LoginError::Missing(LoginField::GrantType))
        );
        for grant in ["client_credentials", "authorization_code", "Password"] {
            assert_eq!(
                token_request(FORM, &format!("grant_type={grant}&username=a&password=b")),
                Err(LoginError::UnsupportedGrant),
                "{grant}"
            );
        }
        assert_eq!(
            token_request(
                FORM,
                "grant_type=password&grant_type=refresh_token&username=a&password=b"
            ),
            Err(LoginError::Duplicate(LoginField::GrantType))
        );
        assert_eq!(
            token_request(JSON, r#"{"grant_type":["password"]}"#),
            Err(LoginError::WrongType(LoginField::GrantType))
        );
        assert_eq!(
            token_request(Some("text/plain"), "grant_type=password"),
            Err(LoginError::UnsupportedMediaType)
        );
    }
}
