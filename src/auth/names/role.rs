//! The name of a role: what a user holds, a policy rule asks for and the origin receives.
//!
//! A role travels from configuration (`ACCESS_POLICY`, an OpenID provider's role map) and storage
//! (the `USERS` records, an origin's credential answer) into sessions, tokens, the gate's
//! decision and finally the comma-joined `X-Auth-Roles` header. One rule is checked once, where a
//! role enters, so everything after can rely on it: 1 to [`MAX_ROLE_LEN`] bytes of ASCII letters,
//! digits and `- _ . :`. That is what a policy rule can name, and it can never blur a list
//! (no `,`), break a header (no space, control or non-ASCII byte) or be empty. A role that breaks
//! the rule is refused where it is written or read, never later when a request is forwarded.

use core::borrow::Borrow;
use core::fmt;
use core::ops::Deref;

use serde::{Deserialize, Serialize, Serializer};

/// Longest role name, in bytes.
pub const MAX_ROLE_LEN: usize = 64;

/// A validated role name (see the [module documentation](self)).
///
/// Stored and sent exactly as the string it holds. Reading one back (serde's `Deserialize`, or
/// [`TryFrom<String>`]) applies the same rule as [`Role::parse`], so a record, an answer or a
/// token cannot bring in a role no policy could name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Role(String);

impl Role {
    /// The role `raw`, exactly as written (nothing is trimmed or folded): 1 to [`MAX_ROLE_LEN`]
    /// bytes of ASCII letters, digits and `- _ . :`.
    pub fn parse(raw: &str) -> Result<Self, RoleError> {
        Self::check(raw)?;
        Ok(Self(raw.to_owned()))
    }

    fn check(raw: &str) -> Result<(), RoleError> {
        if raw.is_empty() || raw.len() > MAX_ROLE_LEN {
            return Err(RoleError::Length);
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_.:".contains(&b);
        if !raw.bytes().all(allowed) {
            return Err(RoleError::Characters);
        }
        Ok(())
    }

    /// The name as stored and forwarded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Role {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Role {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Roles compare and hash as the strings they hold, so a list of them joins like strings
/// (`roles.join(",")`, the `X-Auth-Roles` value).
impl Borrow<str> for Role {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Role {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Role {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<Role> for String {
    fn from(role: Role) -> Self {
        role.0
    }
}

/// Reads a role back from storage, an answer or a token, under the rule of [`Role::parse`].
impl TryFrom<String> for Role {
    type Error = RoleError;

    fn try_from(text: String) -> Result<Self, RoleError> {
        Self::check(&text)?;
        Ok(Self(text))
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A role name no access policy could name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleError {
    /// Empty or longer than [`MAX_ROLE_LEN`] bytes.
    Length,
    /// A byte other than an ASCII letter, digit or `- _ . :` (a comma, a space, a control
    /// character, anything non-ASCII).
    Characters,
}

impl fmt::Display for RoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length => write!(f, "a role name must be 1 to {MAX_ROLE_LEN} characters"),
            Self::Characters => f.write_str(
                "a role name may contain only ASCII letters, digits and - _ . : (no commas, \
                 spaces or other characters)",
            ),
        }
    }
}

impl std::error::Error for RoleError {}

/// Roles for tests, which are known to be valid.
#[cfg(test)]
pub(crate) mod testing {
    use super::Role;

    /// The role `name`; panics if it is not a valid role name.
    pub(crate) fn role(name: &str) -> Role {
        Role::parse(name).expect("a valid role name")
    }

    /// The roles `names`; panics if one is not a valid role name.
    pub(crate) fn roles(names: &[&str]) -> Vec<Role> {
        names.iter().map(|name| role(name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_kept_as_written() {
        for raw in [
            "admin",
            "billing:read",
            "team-a.ops_2",
            "A",
            "7",
            ":",
            "Admin",
            "urn:corp:role.x",
        ] {
            let role = Role::parse(raw).unwrap();
            assert_eq!(role.as_str(), raw);
            assert_eq!(role.to_string(), raw);
        }
        let longest = "r".repeat(MAX_ROLE_LEN);
        assert_eq!(Role::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn lengths_outside_the_bounds_are_refused() {
        assert_eq!(Role::parse(""), Err(RoleError::Length));
        let long = "r".repeat(MAX_ROLE_LEN + 1);
        assert_eq!(Role::parse(&long), Err(RoleError::Length));
        // Bytes, not characters: 32 two-byte characters are 64 bytes but still not ASCII.
        assert_eq!(Role::parse(&"é".repeat(32)), Err(RoleError::Characters));
        assert_eq!(Role::parse(&"é".repeat(33)), Err(RoleError::Length));
    }

    #[test]
    fn characters_that_could_break_a_list_or_a_header_are_refused() {
        for raw in [
            "admin,root",
            ",",
            "admin ",
            " admin",
            "ad min",
            "ad\tmin",
            "admin\r\nx-auth-user: root",
            "admin\n",
            "admin\0",
            "admin\u{7f}",
            "ädmin",
            "\u{212a}",
            "ad\"min",
            "a/b",
            "a;b",
            "a=b",
            "a@b",
            "*",
        ] {
            assert_eq!(Role::parse(raw), Err(RoleError::Characters), "{raw:?}");
        }
    }

    #[test]
    fn serde_keeps_the_plain_string() {
        let roles = testing::roles(&["admin", "billing:read"]);
        let json = serde_json::to_string(&roles).unwrap();
        assert_eq!(json, r#"["admin","billing:read"]"#);
        assert_eq!(serde_json::from_str::<Vec<Role>>(&json).unwrap(), roles);
    }

    #[test]
    fn deserialize_applies_the_rule() {
        for bad in [
            r#""""#,
            r#""a,b""#,
            r#""a b""#,
            r#"" admin""#,
            r#""ädmin""#,
            r#""x\r\ny""#,
            "7",
            "null",
        ] {
            assert!(serde_json::from_str::<Role>(bad).is_err(), "{bad}");
        }
        let long = format!("\"{}\"", "r".repeat(MAX_ROLE_LEN + 1));
        assert!(serde_json::from_str::<Role>(&long).is_err());
        assert_eq!(Role::try_from("a,b".to_owned()), Err(RoleError::Characters));
        let err = serde_json::from_str::<Vec<Role>>(r#"["admin","a,b"]"#).unwrap_err();
        assert!(err.to_string().contains("role name"), "{err}");
    }

    #[test]
    fn errors_say_what_a_role_may_be() {
        assert!(RoleError::Length.to_string().contains("1 to 64"));
        let shown = RoleError::Characters.to_string();
        assert!(shown.contains("letters, digits and - _ . :"), "{shown}");
        assert!(shown.contains("no commas"), "{shown}");
    }
}
