//! The pages' values, escaping and templates.

use super::*;
use crate::auth::gate::Denied;
use crate::auth::http::redirect::Reason;
use crate::auth::names::username::Username;
use crate::auth::policy::RoleNeed;

const HOSTILE: &str = "<script>alert('x')</script>\"&amp;";

#[test]
fn escaping_leaves_no_markup() {
    assert_eq!(
        escape(HOSTILE),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;amp;"
    );
    assert_eq!(escape("plain text"), "plain text");
    assert_eq!(escape(""), "");
    assert_eq!(escape("café ✓"), "café ✓");
}

#[test]
fn placeholders_are_escaped_and_sections_kept_or_dropped() {
    let page = render(
        r#"<p title="{{v}}">{{ v }}</p>{{#on}}<b>on</b>{{/on}}{{#off}}<i>{{v}}</i>{{/off}}"#,
        &[("v", HOSTILE)],
        &[("on", true), ("off", false)],
    )
    .unwrap();
    assert_eq!(
        page,
        format!(r#"<p title="{e}">{e}</p><b>on</b>"#, e = escape(HOSTILE))
    );
    assert!(!page.contains("<script>"));
}

#[test]
fn nested_sections_show_only_when_every_enclosing_one_does() {
    let template = "{{#a}}A{{#b}}B{{/b}}{{/a}}.";
    assert_eq!(
        render(template, &[], &[("a", true), ("b", true)]).unwrap(),
        "AB."
    );
    assert_eq!(render(template, &[], &[("a", true)]).unwrap(), "A.");
    assert_eq!(render(template, &[], &[("b", true)]).unwrap(), ".");
}

#[test]
fn a_template_that_does_not_match_its_values_is_refused() {
    assert_eq!(
        render("{{missing}}", &[], &[]),
        Err(PageError::UnknownPlaceholder("missing".into()))
    );
    assert!(matches!(
        render("{{#a}}x", &[], &[]),
        Err(PageError::UnbalancedSection(_))
    ));
    assert!(matches!(
        render("{{#a}}x{{/b}}", &[], &[]),
        Err(PageError::UnbalancedSection(_))
    ));
    assert!(matches!(
        render("x{{/a}}", &[], &[]),
        Err(PageError::UnbalancedSection(_))
    ));
    assert!(render("{{oops", &[], &[]).is_err());
    assert!(PageError::UnknownPlaceholder("x".into())
        .to_string()
        .contains("{{x}}"));
}

#[test]
fn values_cannot_inject_placeholders_or_sections() {
    // A value is written once, escaped, and never read as template text again.
    let page = render("{{v}}{{w}}", &[("v", "{{w}}{{#x}}"), ("w", "ok")], &[]).unwrap();
    assert_eq!(page, "{{w}}{{#x}}ok");
}

const LOGIN: &str = "<title>{{app_name}}</title>{{#form}}<div class=\"{{notice_class}}\">{{notice}}</div>\
<input name=username value=\"{{username}}\" aria-invalid=\"{{invalid}}\"><input name=next value=\"{{next}}\">{{/form}}\
{{#signed_in}}<p>Signed in as {{user}}</p><a href=\"{{next}}\">Continue</a>{{/signed_in}}";

#[test]
fn the_sign_in_page_keeps_the_attempt_and_says_why() {
    let view = LoginView {
        app_name: "Acme & Co",
        notice: login_notice(Some("invalid_credentials"), Some("logged_out")),
        username: "bob\"><script>alert(1)</script>",
        next: "/reports?a=1&b=2",
        signed_in_as: None,
        providers: &[],
        password_form: true,
        passkeys: false,
    };
    let page = render_login(LOGIN, &view).unwrap();
    assert!(page.contains("<title>Acme &amp; Co</title>"), "{page}");
    assert!(page.contains("The username or password is incorrect."));
    assert!(page.contains("value=\"bob&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(page.contains("value=\"/reports?a=1&amp;b=2\""));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(!page.contains("<script>"));
    assert!(!page.contains("Signed in as"));
}

#[test]
fn the_sign_in_page_for_a_signed_in_browser_offers_to_continue() {
    let view = LoginView {
        app_name: "edgegate",
        notice: None,
        username: "",
        next: "/app",
        signed_in_as: Some("<b>alice</b>"),
        providers: &[],
        password_form: true,
        passkeys: false,
    };
    let page = render_login(LOGIN, &view).unwrap();
    assert!(
        page.contains("Signed in as &lt;b&gt;alice&lt;/b&gt;"),
        "{page}"
    );
    assert!(page.contains("href=\"/app\""));
    assert!(!page.contains("name=username"));
}

#[test]
fn an_overlong_username_is_cut_to_the_field_length() {
    let long = "u".repeat(1000);
    let view = LoginView {
        app_name: "edgegate",
        notice: None,
        username: &long,
        next: "/",
        signed_in_as: None,
        providers: &[],
        password_form: true,
        passkeys: false,
    };
    let page = render_login(LOGIN, &view).unwrap();
    assert!(page.contains(&format!("value=\"{}\"", "u".repeat(MAX_USERNAME_ECHO))));
    assert!(!page.contains(&"u".repeat(MAX_USERNAME_ECHO + 1)));
}

#[test]
fn providers_get_a_button_each_and_the_password_form_can_go() {
    const REAL_LOGIN: &str = include_str!("../../../www/login.html");
    let providers = [("corp", "Corp <SSO>"), ("google", "Google")];
    let view = LoginView {
        app_name: "edgegate",
        notice: login_notice(Some("provider_refused"), None),
        username: "",
        next: "/reports?y=1",
        signed_in_as: None,
        providers: &providers,
        password_form: false,
        passkeys: false,
    };
    let page = render_login(REAL_LOGIN, &view).unwrap();
    assert!(page.contains(
            "id=\"oidc-corp\" href=\"/auth/oidc/corp/start?next=%2Freports%3Fy%3D1\">Sign in with Corp &lt;SSO&gt;</a>"
        ), "{page}");
    assert!(page.contains("id=\"oidc-google\""));
    assert!(!page.contains("id=\"login-form\""));
    assert!(page.contains("not allowed to sign in"));
    let with_form = render_login(
        REAL_LOGIN,
        &LoginView {
            password_form: true,
            passkeys: false,
            ..view
        },
    )
    .unwrap();
    assert!(with_form.contains("id=\"login-form\"") && with_form.contains("oidc-corp"));
}

#[test]
fn the_provider_logout_page_escapes_the_location() {
    let page = render_provider_logout(
        "App",
        "Corp <SSO>",
        "https://id.example.com/logout?a=1&b=\"2",
    );
    assert!(
        page.contains("content=\"0;url=https://id.example.com/logout?a=1&amp;b=&quot;2\""),
        "{page}"
    );
    assert!(page.contains("Finishing at Corp &lt;SSO&gt;"));
}

#[test]
fn every_reason_has_words_and_unknown_ones_say_nothing() {
    for reason in Reason::ALL {
        assert_eq!(Reason::from_code(reason.code()), Some(reason));
        let notice = login_notice(None, Some(reason.code())).unwrap();
        assert_eq!(notice.kind, NoticeKind::Info);
        assert!(notice.text.ends_with('.'), "{reason:?}");
    }
    assert_eq!(login_notice(None, Some("<script>")), None);
    assert_eq!(login_notice(None, None), None);
    assert_eq!(login_notice(Some(""), None), None);
    let unknown = login_notice(Some("<script>"), None).unwrap();
    assert_eq!(unknown.text, "Signing in did not work. Please try again.");
    assert_eq!(unknown.kind, NoticeKind::Error);
}

#[test]
fn the_forbidden_message_names_the_user_and_the_missing_roles() {
    let denied = |need, missing: &[&str]| Denied {
        user: Username::federated("corp", "<b>eve</b>").unwrap(),
        need,
        missing: crate::auth::names::role::testing::roles(missing),
    };
    let any = forbidden_message(&denied(RoleNeed::Any, &["finance", "admin"]));
    assert!(any.contains("signed in as corp:<b>eve</b>"), "{any}");
    assert!(any.contains("one of the roles finance, admin"), "{any}");
    let all = forbidden_message(&denied(RoleNeed::All, &["ops"]));
    assert!(all.ends_with("does not have: ops."), "{all}");
    let view = ErrorView {
        app_name: "edgegate",
        status: 403,
        title: "No access",
        message: &all,
    };
    let page = render_error("{{message}}", &view).unwrap();
    assert!(page.contains("&lt;b&gt;eve&lt;/b&gt;"), "{page}");
}

#[test]
fn account_and_error_pages_escape_their_values() {
    assert_eq!(
        render_account("<h1>{{app_name}}</h1>", "<i>x</i>", false).unwrap(),
        "<h1>&lt;i&gt;x&lt;/i&gt;</h1>"
    );
    let view = ErrorView {
        app_name: "edgegate",
        status: 404,
        title: "Page not found",
        message: "No page at <this> address.",
    };
    assert_eq!(
        render_error("{{status}} {{title}}: {{message}}", &view).unwrap(),
        "404 Page not found: No page at &lt;this&gt; address."
    );
}

#[test]
fn only_the_checked_confirmation_logs_out_everywhere() {
    assert!(logout_everywhere_confirmed(b"everywhere=confirmed"));
    assert!(logout_everywhere_confirmed(b"a=1&everywhere=confirmed"));
    assert!(!logout_everywhere_confirmed(b""));
    assert!(!logout_everywhere_confirmed(b"everywhere="));
    assert!(!logout_everywhere_confirmed(b"everywhere=on"));
    assert!(!logout_everywhere_confirmed(b"xeverywhere=confirmed"));
}

#[test]
fn addresses_are_shown_as_prefixes() {
    assert_eq!(
        address_prefix("203.0.113.77").as_deref(),
        Some("203.0.113.x")
    );
    assert_eq!(
        address_prefix("2001:db8:7:1::42").as_deref(),
        Some("2001:db8:7::/48")
    );
    assert_eq!(address_prefix(" 10.1.2.3 ").as_deref(), Some("10.1.2.x"));
    assert_eq!(address_prefix("unknown"), None);
    assert_eq!(address_prefix("<script>"), None);
    assert_eq!(address_prefix(""), None);
}

#[test]
fn places_are_short_and_printable() {
    let place = |city, country, colo| describe_place(city, country, colo);
    assert_eq!(
        place(Some("Lisbon"), Some("PT"), Some("LIS")).as_deref(),
        Some("Lisbon, PT")
    );
    assert_eq!(place(None, Some("PT"), Some("LIS")).as_deref(), Some("PT"));
    assert_eq!(place(None, None, Some("LIS")).as_deref(), Some("near LIS"));
    assert_eq!(place(Some(" "), Some(""), None), None);
    assert_eq!(place(Some("A\u{0}\nB"), None, None).as_deref(), Some("AB"));
    let long = "x".repeat(500);
    assert_eq!(
        place(Some(&long), None, None).map(|p| p.chars().count()),
        Some(MAX_PLACE_LEN)
    );
}

#[test]
fn passkeys_add_a_button_and_the_username_fields_autofill() {
    const REAL_LOGIN: &str = include_str!("../../../www/login.html");
    let view = LoginView {
        app_name: "edgegate",
        notice: None,
        username: "",
        next: "/docs?x=\"1\"",
        signed_in_as: None,
        providers: &[],
        password_form: true,
        passkeys: true,
    };
    let page = render_login(REAL_LOGIN, &view).unwrap();
    assert!(page.contains("id=\"passkey-signin\""), "{page}");
    assert!(
        page.contains("data-next=\"/docs?x=&quot;1&quot;\""),
        "{page}"
    );
    assert!(page.contains("autocomplete=\"username webauthn\""));
    let without = render_login(
        REAL_LOGIN,
        &LoginView {
            passkeys: false,
            ..view
        },
    )
    .unwrap();
    assert!(!without.contains("passkey-signin"));
    assert!(without.contains("autocomplete=\"username\""));
    assert!(!without.contains("webauthn"));
}

#[test]
fn the_account_page_has_its_passkeys_section_only_where_passkeys_work() {
    const REAL_ACCOUNT: &str = include_str!("../../../www/account.html");
    let with = render_account(REAL_ACCOUNT, "edgegate", true).unwrap();
    assert!(with.contains("id=\"passkeys-card\""));
    let without = render_account(REAL_ACCOUNT, "edgegate", false).unwrap();
    assert!(!without.contains("passkeys-card") && !without.contains("{{"));
}
