//! Who a verified ID token signs in: the edge user id, roles, and whether the allow-lists admit
//! them.
//!
//! User ids are namespaced by provider (`<provider>:<sub>`), so the same `sub` at two providers,
//! or a provider `sub` equal to a built-in user's name, are different users. Email allow-lists
//! only trust an address the provider says it verified.

use crate::auth::names::dns::is_dns_name;
use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use core::fmt;

use serde_json::Value;

use super::config::Provider;
use super::id_token::VerifiedIdToken;

/// A person admitted through a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// `<provider>:<sub>`, see [`Username::federated`].
    pub user: Username,
    /// Roles from the provider's roles claim, after the role map; empty when none is configured.
    /// Without a map, claim values that are not role names (see [`Role`]) give no role.
    pub roles: Vec<Role>,
}

/// Why a verified user was not admitted; words for the login page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// `sub` is empty, too long or not printable ASCII.
    UnusableSubject,
    /// No allow-list entry matches.
    NotAllowed,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnusableSubject => "the provider's user id cannot be used here",
            Self::NotAllowed => "this account is not allowed to sign in to this application",
        })
    }
}

impl std::error::Error for Refused {}

/// The values of the roles claim: a string or an array of strings.
fn claim_values<'a>(token: &'a VerifiedIdToken, claim: Option<&str>) -> Vec<&'a str> {
    match claim.and_then(|name| token.claim(name)) {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether `email` is one plain address, `local@domain`: one `@`, a local part of printable
/// ASCII without the characters that quote, group or separate addresses (`"(),:;<>[]\` and
/// space), and a domain of dot-separated DNS labels. Anything else (`a@evil.test@example.com`,
/// a quoted local part, a display name, a list) could be read with another domain by a mail
/// system than by the allow-list, so it never passes one.
pub fn is_one_address(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"(),:;<>[]\\@".contains(&b));
    let domain_ok = domain.contains('.') && is_dns_name(domain);
    local_ok && domain_ok
}

/// Maps a verified token to an identity, or refuses it.
pub fn admit(provider: &Provider, token: &VerifiedIdToken) -> Result<ProviderIdentity, Refused> {
    let user =
        Username::federated(&provider.id, token.subject()).ok_or(Refused::UnusableSubject)?;
    let groups = claim_values(token, provider.roles_claim.as_deref());
    if !provider.allow.is_open() {
        let verified = token.claim("email_verified") == Some(&Value::Bool(true));
        let email = token
            .claim("email")
            .and_then(Value::as_str)
            .filter(|_| verified)
            .filter(|email| is_one_address(email))
            .map(str::to_ascii_lowercase);
        let domain = email
            .as_deref()
            .and_then(|email| email.rsplit_once('@'))
            .map(|(_, domain)| domain);
        let allowed = email
            .as_ref()
            .is_some_and(|email| provider.allow.emails.contains(email))
            || domain.is_some_and(|domain| provider.allow.domains.iter().any(|d| d == domain))
            || groups
                .iter()
                .any(|group| provider.allow.groups.iter().any(|g| g == group));
        if !allowed {
            return Err(Refused::NotAllowed);
        }
    }
    let mut roles: Vec<Role> = if provider.role_map.is_empty() {
        groups
            .iter()
            .filter_map(|value| Role::parse(value).ok())
            .collect()
    } else {
        provider
            .role_map
            .iter()
            .filter(|(value, _)| groups.contains(&value.as_str()))
            .map(|(_, role)| role.clone())
            .collect()
    };
    roles.sort();
    roles.dedup();
    Ok(ProviderIdentity { user, roles })
}

// Natively only: they sign and check provider tokens with the Rust twin of WebCrypto's
// check (`LocalSignatureCheck`), which the worker does not carry.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::super::config::{AllowList, OidcConfig};
    use super::super::id_token::test_support::*;
    use super::super::id_token::{validate_id_token, ProviderExpectation};
    use super::*;
    use crate::auth::token::public_keys::LocalSignatureCheck;
    use serde_json::json;

    fn provider(extra: &[(&str, &str)]) -> Provider {
        let mut vars = vec![
            ("OIDC_PROVIDERS", "corp"),
            ("OIDC_CORP_ISSUER", ISSUER),
            ("OIDC_CORP_CLIENT_ID", CLIENT),
            ("OIDC_CORP_CLIENT_SECRET", "secret"),
            ("OIDC_CORP_ROLES_CLAIM", "groups"),
        ];
        vars.extend_from_slice(extra);
        let lookup = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        OidcConfig::from_lookup(&lookup, false, false)
            .unwrap()
            .providers
            .remove(0)
    }

    fn token(changes: serde_json::Value) -> VerifiedIdToken {
        let mut claims = id_claims();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let expect = ProviderExpectation {
            issuer: ISSUER,
            client_id: CLIENT,
            now: NOW,
        };
        let jws = sign(&json!({"alg": "ES256", "kid": "ec-1"}), &claims);
        pollster::block_on(validate_id_token(
            &LocalSignatureCheck,
            &keys(),
            &jws,
            &expect,
            "n-1",
        ))
        .unwrap()
    }

    #[test]
    fn user_ids_are_namespaced_and_roles_mapped() {
        let open = admit(&provider(&[]), &token(json!({}))).unwrap();
        assert_eq!(open.user, "corp:u-123");
        assert_eq!(open.roles, ["admins", "staff"]);
        let mapped = admit(
            &provider(&[("OIDC_CORP_ROLE_MAP", "admins=admin,nobody=root")]),
            &token(json!({})),
        )
        .unwrap();
        assert_eq!(mapped.roles, ["admin"]);
        let odd = admit(&provider(&[]), &token(json!({"groups": ["a b", "ok"]}))).unwrap();
        assert_eq!(odd.roles, ["ok"], "values unfit for a header are dropped");
        assert_eq!(
            admit(&provider(&[]), &token(json!({"sub": "a\u{7f}b"}))).unwrap_err(),
            Refused::UnusableSubject
        );
    }

    #[test]
    fn one_address_is_local_at_domain_and_nothing_more() {
        for good in [
            "ada@example.com",
            "a.b+tag@mail.example.co.uk",
            "x_y-z@a-b.example",
        ] {
            assert!(is_one_address(good), "{good}");
        }
        for bad in [
            "a@evil.test@example.com",
            "\"a@b\"@example.com",
            "ada@example.com ",
            "ada @example.com",
            "ada@example",
            "@example.com",
            "ada@",
            "ada@-x.example.com",
            "ada@example..com",
            "a<b>@example.com",
            "a,b@example.com",
            "ada@exa mple.com",
            "adá@example.com",
        ] {
            assert!(!is_one_address(bad), "{bad}");
        }
    }

    #[test]
    fn allow_lists_admit_by_verified_email_domain_or_group() {
        let cases = [
            (
                "OIDC_CORP_ALLOWED_EMAILS",
                "ADA@example.com",
                json!({}),
                true,
            ),
            (
                "OIDC_CORP_ALLOWED_EMAILS",
                "bob@example.com",
                json!({}),
                false,
            ),
            ("OIDC_CORP_ALLOWED_DOMAINS", "example.com", json!({}), true),
            (
                "OIDC_CORP_ALLOWED_DOMAINS",
                "example.com",
                json!({"email_verified": false}),
                false,
            ),
            (
                "OIDC_CORP_ALLOWED_DOMAINS",
                "example.com",
                json!({"email": "ada@evil.example"}),
                false,
            ),
            ("OIDC_CORP_ALLOWED_DOMAINS", "ample.com", json!({}), false),
            (
                "OIDC_CORP_ALLOWED_DOMAINS",
                "example.com",
                json!({"email": "a@evil.test@example.com"}),
                false,
            ),
            (
                "OIDC_CORP_ALLOWED_DOMAINS",
                "example.com",
                json!({"email": "\"a@evil.test\"@example.com"}),
                false,
            ),
            (
                "OIDC_CORP_ALLOWED_DOMAINS",
                "example.com",
                json!({"email": "Ada <ada@evil.test>, b@example.com"}),
                false,
            ),
            (
                "OIDC_CORP_ALLOWED_EMAILS",
                "a@evil.test@example.com",
                json!({"email": "a@evil.test@example.com"}),
                false,
            ),
            ("OIDC_CORP_ALLOWED_GROUPS", "staff", json!({}), true),
            ("OIDC_CORP_ALLOWED_GROUPS", "finance", json!({}), false),
        ];
        for (variable, value, changes, allowed) in cases {
            let provider = provider(&[(variable, value)]);
            assert_ne!(provider.allow, AllowList::default());
            let result = admit(&provider, &token(changes.clone()));
            assert_eq!(result.is_ok(), allowed, "{variable}={value} {changes}");
            if !allowed {
                assert_eq!(result.unwrap_err(), Refused::NotAllowed);
            }
        }
    }
}
