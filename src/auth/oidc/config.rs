//! The OpenID providers of a deployment, read from `[vars]` and secrets.
//!
//! `OIDC_PROVIDERS = "google,keycloak"` names them; each id `x` then has its own variables
//! `OIDC_X_ISSUER`, `OIDC_X_CLIENT_ID`, the secret `OIDC_X_CLIENT_SECRET`, and optional ones for
//! the button label, scopes, token endpoint authentication, roles and allow-lists. Like the rest
//! of the configuration this is checked once per isolate, and an error names the variable.

use crate::auth::env::vars::{ConfigError, Vars};
use crate::auth::names::provider::{is_valid_provider_id, MAX_PROVIDER_ID_LEN};
use crate::auth::names::role::Role;
use crate::auth::secret::ClientSecret;

/// Providers one deployment may name: each is a button, and a small fixed number bounds the
/// per-isolate caches of discovery documents and keys.
pub const MAX_PROVIDERS: usize = 8;
const DEFAULT_SCOPES: &str = "openid email profile";

/// How the edge authenticates to a provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenAuth {
    /// HTTP Basic with the client id and secret (the OAuth 2.0 default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// Who may sign in through a provider. Empty lists admit everyone the provider signs in;
/// otherwise a user must match one entry of one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Whole addresses, lower case; only a verified `email` matches.
    pub emails: Vec<String>,
    /// Domains after the `@`, lower case; only a verified `email` matches.
    pub domains: Vec<String>,
    /// Values of the roles claim, before mapping.
    pub groups: Vec<String>,
}

impl AllowList {
    /// True when no list is set, so the provider admits everyone it signs in.
    pub fn is_open(&self) -> bool {
        self.emails.is_empty() && self.domains.is_empty() && self.groups.is_empty()
    }
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The id in URLs and user ids (`/auth/oidc/<id>/...`, `<id>:<sub>`).
    pub id: String,
    /// The button's label.
    pub name: String,
    /// The issuer exactly as the provider's tokens write it; discovery is read from
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the provider (`OIDC_<ID>_CLIENT_ID`); ID tokens must name it
    /// in `aud`.
    pub client_id: String,
    /// The client secret (`OIDC_<ID>_CLIENT_SECRET`), sent only to the token endpoint.
    pub client_secret: ClientSecret,
    /// Space-separated scopes asked for (`OIDC_<ID>_SCOPES`, default `openid email profile`);
    /// always includes `openid`.
    pub scopes: String,
    /// How the code is exchanged at the token endpoint (`OIDC_<ID>_TOKEN_AUTH`).
    pub token_auth: TokenAuth,
    /// The claim whose values become roles (`groups`, `roles`), if any.
    pub roles_claim: Option<String>,
    /// `claim value -> role`; when set, unmapped values give no role.
    pub role_map: Vec<(String, Role)>,
    /// Who may sign in (`OIDC_<ID>_ALLOWED_EMAILS`, `_ALLOWED_DOMAINS`, `_ALLOWED_GROUPS`).
    pub allow: AllowList,
    /// Ask the provider to end its own session at logout (RP-initiated logout).
    pub logout_at_provider: bool,
}

impl Provider {
    /// The discovery document's URL (OpenID Connect Discovery 1.0 §4).
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }
}

/// Every provider, and whether the password form is offered beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// In the order `OIDC_PROVIDERS` lists them, at most [`MAX_PROVIDERS`], ids unique.
    pub providers: Vec<Provider>,
    /// `PASSWORD_LOGIN`: `on` (the default) or `off`.
    pub password_login: bool,
}

impl OidcConfig {
    /// The provider with this id, if one is configured.
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|provider| provider.id == id)
    }

    /// The configured provider that signed in `user` (`<provider>:<sub>`), if any. Built-in
    /// usernames cannot contain `:`, so no built-in user is mistaken for one; a user of a provider
    /// since removed from the configuration has none (and so is looked up as a built-in user,
    /// which fails).
    pub fn provider_of(&self, user: &str) -> Option<&Provider> {
        let (id, _) = user.split_once(':')?;
        self.provider(id)
    }
}

/// The variable's name as a `ConfigError` needs it. Names are built once per isolate from a
/// bounded list of providers, so keeping them for the isolate's life costs a few bytes.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn problem(variable: &str, text: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: leak(variable.to_owned()),
        problem: text.into(),
    }
}

/// A comma-separated list, trimmed, empty items dropped.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

impl OidcConfig {
    /// Reads `OIDC_PROVIDERS`, each provider's variables, and `PASSWORD_LOGIN`; `passkeys` says
    /// whether passkeys are on, another way in when the password form is off.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        dev_mode: bool,
        passkeys: bool,
    ) -> Result<Self, ConfigError> {
        let vars = Vars { lookup };
        let read = |name: &str| vars.optional(name);
        let names = read("OIDC_PROVIDERS").unwrap_or_default();
        let ids: Vec<&str> = list(&names).collect();
        for (index, id) in ids.iter().enumerate() {
            if !is_valid_provider_id(id) {
                return Err(problem(
                    "OIDC_PROVIDERS",
                    format!(
                        "`{id}` is not a provider id: use lower-case letters, digits and `-`, \
                         at most {MAX_PROVIDER_ID_LEN}"
                    ),
                ));
            }
            if ids[..index].contains(id) {
                return Err(problem("OIDC_PROVIDERS", format!("`{id}` is listed twice")));
            }
        }
        if ids.len() > MAX_PROVIDERS {
            return Err(problem(
                "OIDC_PROVIDERS",
                format!("at most {MAX_PROVIDERS} providers"),
            ));
        }
        let providers = ids
            .iter()
            .map(|id| provider(id, &read, dev_mode))
            .collect::<Result<Vec<_>, _>>()?;
        let password_login = match read("PASSWORD_LOGIN").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => return Err(problem("PASSWORD_LOGIN", "must be `on` or `off`")),
        };
        if !password_login && providers.is_empty() && !passkeys {
            return Err(problem(
                "PASSWORD_LOGIN",
                "is `off` but OIDC_PROVIDERS names no provider and PASSKEYS are off: nobody could \
                 sign in",
            ));
        }
        Ok(Self {
            providers,
            password_login,
        })
    }
}

fn provider(
    id: &str,
    read: &dyn Fn(&str) -> Option<String>,
    dev_mode: bool,
) -> Result<Provider, ConfigError> {
    let prefix = format!("OIDC_{}_", id.to_ascii_uppercase().replace('-', "_"));
    let name_of = |suffix: &str| format!("{prefix}{suffix}");
    let optional = |suffix: &str| read(&name_of(suffix));
    let required = |suffix: &str| {
        optional(suffix).ok_or_else(|| problem(&name_of(suffix), "is required but not set"))
    };

    let issuer = required("ISSUER")?;
    let issuer_ok = match issuer.split_once("://") {
        Some(("https", rest)) | Some(("http", rest)) if !rest.is_empty() => {
            issuer.starts_with("https://") || dev_mode
        }
        _ => false,
    };
    if !issuer_ok || issuer.contains(['?', '#']) {
        return Err(problem(
            &name_of("ISSUER"),
            "must be the provider's https issuer URL, with no query or fragment (http only \
             with DEV_MODE)",
        ));
    }
    let client_id = required("CLIENT_ID")?;
    if !client_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(problem(&name_of("CLIENT_ID"), "must be printable ASCII"));
    }
    let client_secret = required("CLIENT_SECRET")?;
    let scopes = optional("SCOPES").unwrap_or_else(|| DEFAULT_SCOPES.to_owned());
    if !scopes.split(' ').any(|scope| scope == "openid")
        || !scopes.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(problem(
            &name_of("SCOPES"),
            "must be space-separated scopes including `openid`",
        ));
    }
    let token_auth = match optional("TOKEN_AUTH").as_deref() {
        None | Some("client_secret_basic") => TokenAuth::Basic,
        Some("client_secret_post") => TokenAuth::Post,
        Some(_) => {
            return Err(problem(
                &name_of("TOKEN_AUTH"),
                "must be `client_secret_basic` or `client_secret_post`",
            ))
        }
    };
    let roles_claim = optional("ROLES_CLAIM");
    let mut role_map = Vec::new();
    for pair in list(&optional("ROLE_MAP").unwrap_or_default()) {
        let Some((value, role)) = pair.split_once('=') else {
            return Err(problem(
                &name_of("ROLE_MAP"),
                format!("`{pair}` is not `claim value=role`"),
            ));
        };
        let role = role.trim();
        let role = Role::parse(role)
            .map_err(|err| problem(&name_of("ROLE_MAP"), format!("`{role}`: {err}")))?;
        role_map.push((value.trim().to_owned(), role));
    }
    if !role_map.is_empty() && roles_claim.is_none() {
        return Err(problem(
            &name_of("ROLE_MAP"),
            format!("needs {prefix}ROLES_CLAIM: the claim whose values it maps"),
        ));
    }
    let lower_list = |suffix: &str| -> Vec<String> {
        list(&optional(suffix).unwrap_or_default())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let allow = AllowList {
        emails: lower_list("ALLOWED_EMAILS"),
        domains: lower_list("ALLOWED_DOMAINS")
            .into_iter()
            .map(|domain| domain.trim_start_matches('@').to_owned())
            .collect(),
        groups: list(&optional("ALLOWED_GROUPS").unwrap_or_default())
            .map(str::to_owned)
            .collect(),
    };
    if !allow.groups.is_empty() && roles_claim.is_none() {
        return Err(problem(
            &name_of("ALLOWED_GROUPS"),
            format!("needs {prefix}ROLES_CLAIM: the claim the groups are read from"),
        ));
    }
    let logout_at_provider = match optional("LOGOUT").as_deref() {
        None | Some("edge") => false,
        Some("provider") => true,
        Some(_) => return Err(problem(&name_of("LOGOUT"), "must be `edge` or `provider`")),
    };
    Ok(Provider {
        id: id.to_owned(),
        name: optional("NAME").unwrap_or_else(|| id.to_owned()),
        issuer,
        client_id,
        client_secret: ClientSecret::new(client_secret),
        scopes,
        token_auth,
        roles_claim,
        role_map,
        allow,
        logout_at_provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::role::testing::role;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<OidcConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OidcConfig::from_lookup(&|name| map.get(name).cloned(), false, false)
    }

    const GOOD: [(&str, &str); 4] = [
        ("OIDC_PROVIDERS", "corp-id"),
        ("OIDC_CORP_ID_ISSUER", "https://id.example.com"),
        ("OIDC_CORP_ID_CLIENT_ID", "edge"),
        ("OIDC_CORP_ID_CLIENT_SECRET", "s3cret-value"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = GOOD.to_vec();
        vars.extend_from_slice(extra);
        vars
    }

    #[test]
    fn no_providers_is_the_password_login_alone() {
        let config = parse(&[]).unwrap();
        assert!(config.providers.is_empty() && config.password_login);
    }

    #[test]
    fn a_provider_reads_its_variables_and_hides_its_secret() {
        let config = parse(&with(&[
            ("OIDC_CORP_ID_NAME", "Corp SSO"),
            ("OIDC_CORP_ID_ROLES_CLAIM", "groups"),
            ("OIDC_CORP_ID_ROLE_MAP", "eng-admins=admin, staff=staff"),
            ("OIDC_CORP_ID_ALLOWED_DOMAINS", "@Example.com"),
            ("OIDC_CORP_ID_TOKEN_AUTH", "client_secret_post"),
            ("PASSWORD_LOGIN", "off"),
        ]))
        .unwrap();
        let provider = config.provider("corp-id").unwrap();
        assert_eq!(config.provider_of("corp-id:u-1").unwrap().id, "corp-id");
        assert!(
            config.provider_of("corp-id").is_none() && config.provider_of("gone:u-1").is_none()
        );
        assert_eq!(provider.name, "Corp SSO");
        assert_eq!(provider.scopes, "openid email profile");
        assert_eq!(provider.token_auth, TokenAuth::Post);
        assert_eq!(provider.role_map[0], ("eng-admins".into(), role("admin")));
        assert_eq!(provider.allow.domains, ["example.com"]);
        assert_eq!(
            provider.discovery_url(),
            "https://id.example.com/.well-known/openid-configuration"
        );
        assert!(!config.password_login);
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-value") && debug.contains("[redacted]"));
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 10] = [
            (&[("OIDC_PROVIDERS", "Bad_Id")], "OIDC_PROVIDERS"),
            (&[("OIDC_PROVIDERS", "a,a")], "OIDC_PROVIDERS"),
            (&[("OIDC_PROVIDERS", "corp")], "OIDC_CORP_ISSUER"),
            (
                &[("OIDC_CORP_ID_ISSUER", "http://id.example.com")],
                "OIDC_CORP_ID_ISSUER",
            ),
            (
                &[("OIDC_CORP_ID_SCOPES", "email profile")],
                "OIDC_CORP_ID_SCOPES",
            ),
            (
                &[("OIDC_CORP_ID_TOKEN_AUTH", "private_key_jwt")],
                "OIDC_CORP_ID_TOKEN_AUTH",
            ),
            (
                &[("OIDC_CORP_ID_ROLE_MAP", "a=admin")],
                "OIDC_CORP_ID_ROLE_MAP",
            ),
            (
                &[("OIDC_CORP_ID_ALLOWED_GROUPS", "staff")],
                "OIDC_CORP_ID_ALLOWED_GROUPS",
            ),
            (&[("PASSWORD_LOGIN", "no")], "PASSWORD_LOGIN"),
            (&[("OIDC_CORP_ID_LOGOUT", "both")], "OIDC_CORP_ID_LOGOUT"),
        ];
        for (extra, variable) in cases {
            let mut vars: HashMap<&str, &str> = GOOD.iter().copied().collect();
            vars.extend(extra.iter().copied());
            let vars: Vec<_> = vars.into_iter().collect();
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{extra:?}: {err}");
            assert!(!err.to_string().contains("s3cret-value"));
        }
        let err = parse(&[("PASSWORD_LOGIN", "off")]).unwrap_err();
        assert_eq!(err.variable, "PASSWORD_LOGIN");
        let err = parse(&[
            ("OIDC_PROVIDERS", "corp"),
            ("OIDC_CORP_ISSUER", "https://x"),
            ("OIDC_CORP_CLIENT_ID", "c"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "OIDC_CORP_CLIENT_SECRET");
    }

    #[test]
    fn a_role_map_names_only_roles_a_policy_could_name() {
        for bad in ["admin;root", "a b", "rôle", "", "a/b"] {
            let map = format!("eng={bad}");
            let mut vars: HashMap<&str, &str> = GOOD.iter().copied().collect();
            vars.insert("OIDC_CORP_ID_ROLES_CLAIM", "groups");
            vars.insert("OIDC_CORP_ID_ROLE_MAP", &map);
            let vars: Vec<_> = vars.into_iter().collect();
            let err = parse(&vars).unwrap_err();
            assert_eq!(err.variable, "OIDC_CORP_ID_ROLE_MAP", "{bad:?}: {err}");
            assert!(err.to_string().contains("role name"), "{bad:?}: {err}");
        }
    }
}
