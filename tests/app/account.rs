//! The account page: name and time zone, email change confirmed by a link,
//! password change, signed-in sessions and personal API tokens.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use officehours::accounts::session::{self, Origin};
use officehours::accounts::{Role, User, api_tokens, password, tokens};
use officehours::db::schema::{
    account_tokens, api_tokens as api_tokens_t, audit_log, email_outbox, sessions, users,
};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::{
    SignedIn, TestApp, csrf_in, field_error, location, spawn_app, spawn_app_with_mail,
};

const PASSWORD: &str = "correct horse battery";

/// Gives `user` a real password (test users get a hash nothing matches).
fn set_real_password(app: &TestApp, user: &User, plain: &str) -> String {
    app.set_password(user.id, plain)
}

fn stored_user(app: &TestApp, id: Uuid) -> (String, String, String, Option<String>) {
    users::table
        .find(id)
        .select((
            users::email,
            users::display_name,
            users::time_zone,
            users::password_hash,
        ))
        .first(&mut app.conn())
        .unwrap()
}

/// (kind, recipient, body_text) of every queued email, oldest first.
fn outbox(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    email_outbox::table
        .order((email_outbox::created_at, email_outbox::id))
        .select((
            email_outbox::kind,
            email_outbox::recipient,
            email_outbox::body_text,
        ))
        .load(&mut app.conn())
        .unwrap()
}

fn audit_actions(app: &TestApp, user: Uuid) -> Vec<String> {
    audit_log::table
        .filter(audit_log::actor_user_id.eq(user))
        .order(audit_log::at)
        .select(audit_log::action)
        .load(&mut app.conn())
        .unwrap()
}

fn session_exists(app: &TestApp, id: Uuid) -> bool {
    diesel::select(diesel::dsl::exists(sessions::table.find(id)))
        .get_result(&mut app.conn())
        .unwrap()
}

/// The id of the session behind a signed-in client.
fn session_id(app: &TestApp, s: &SignedIn) -> Uuid {
    sessions::table
        .filter(sessions::token_hash.eq(tokens::hash(&s.session_token)))
        .select(sessions::id)
        .first(&mut app.conn())
        .unwrap()
}

async fn account_page(app: &TestApp, s: &SignedIn) -> reqwest::Response {
    s.client.get(app.url("/account")).send().await.unwrap()
}

/// The `<input>` tag of field `name` in `html`.
fn input_tag<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("<input id=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name}"));
    let end = html[start..].find('>').unwrap() + start;
    &html[start..=end]
}

/// The verification link in an email body.
fn verify_link(body: &str) -> String {
    body.split_whitespace()
        .find(|w| w.contains("/verify-email?token="))
        .unwrap_or_else(|| panic!("no verification link in {body}"))
        .to_owned()
}

// ---------------------------------------------------------------- the page

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_back() {
    let app = spawn_app().await;
    let res = app.get("/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=%2Faccount");
}

#[tokio::test]
async fn the_page_has_every_section_labelled_and_is_not_cached() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let res = account_page(&app, &s).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body = res.text().await.unwrap();
    assert!(body.contains("<title>Your account · Office Hours</title>"));
    for heading in [
        "Name and time zone",
        "Email address",
        "Password",
        "Signed-in sessions",
        "Personal API tokens",
        "Your data",
    ] {
        assert!(body.contains(&format!("\">{heading}</h2>")), "{heading}");
    }
    for field in [
        "display_name",
        "time_zone",
        "email",
        "email_password",
        "current_password",
        "new_password",
        "token_name",
        "delete_password",
        "confirm",
    ] {
        assert!(
            body.contains(&format!("<label for=\"{field}\">")),
            "{field}"
        );
    }
    // Every form carries the session's CSRF token (seven forms of the page
    // — profile, email, password, token, export, delete — and the sign-out
    // button of the header; the current session has no revoke button).
    let forms = body.matches("<form method=\"post\"").count();
    let tokens = body
        .matches(&format!(
            "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
            s.csrf
        ))
        .count();
    assert_eq!(forms, 7);
    assert_eq!(tokens, forms);
    assert!(body.contains(&user.email));
    assert!(input_tag(&body, "display_name").contains("value=\"Test learner\""));
    assert!(body.contains("<option value=\"Europe/Berlin\" selected>"));
    // Learners are not told about a schedule.
    assert!(!body.contains("weekly availability"));
    assert!(!body.contains("style="));

    let mentor = app.create_user(Role::Mentor);
    let m = app.sign_in(&mentor).await;
    let body = account_page(&app, &m).await.text().await.unwrap();
    assert!(body.contains("your weekly availability is set in this zone too"));
}

#[tokio::test]
async fn notices_are_fixed_texts_never_what_the_link_says() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let body = s
        .client
        .get(app.url("/account?notice=profile-saved"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Your name and time zone are saved."));
    let body = s
        .client
        .get(app.url("/account?notice=%3Cb%3Ehacked%3C%2Fb%3E"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("hacked"));
    assert!(!body.contains("class=\"notice\""));
}

// ---------------------------------------------------------------- profile

#[tokio::test]
async fn name_and_time_zone_are_saved() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let res = app
        .post_form(
            &s.client,
            "/account/profile",
            &[
                ("csrf_token", &s.csrf),
                ("display_name", "  Ada Lovelace "),
                ("time_zone", "America/New_York"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=profile-saved");
    let (_, name, zone, _) = stored_user(&app, user.id);
    assert_eq!(name, "Ada Lovelace");
    assert_eq!(zone, "America/New_York");
    assert!(audit_actions(&app, user.id).contains(&"user.profile_updated".to_owned()));

    let body = account_page(&app, &s).await.text().await.unwrap();
    assert!(input_tag(&body, "display_name").contains("value=\"Ada Lovelace\""));
    assert!(body.contains("<option value=\"America/New_York\" selected>"));
    // Times on the page now show the new zone (EDT in June).
    assert!(body.contains("EDT"), "{body}");
}

#[tokio::test]
async fn an_invalid_profile_is_shown_again_with_errors_and_the_input_kept() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let long_name = "N".repeat(101);
    let res = app
        .post_form(
            &s.client,
            "/account/profile",
            &[
                ("csrf_token", &s.csrf),
                ("display_name", &long_name),
                ("time_zone", "Mars/Olympus_Mons"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body = res.text().await.unwrap();
    let name = input_tag(&body, "display_name");
    assert!(
        name.contains(&format!("value=\"{long_name}\"")),
        "input kept"
    );
    assert!(name.contains("aria-invalid=\"true\""));
    assert!(name.contains("aria-describedby=\"display_name-error"));
    assert_eq!(
        field_error(&body, "display_name").as_deref(),
        Some("Use at most 100 characters.")
    );
    assert_eq!(
        field_error(&body, "time_zone").as_deref(),
        Some("Choose a time zone from the list.")
    );
    assert!(body.contains("aria-describedby=\"time_zone-error time_zone-hint\""));
    // Only this form's summary; the other forms show no errors.
    assert_eq!(body.matches("class=\"form-error\"").count(), 1);
    assert!(field_error(&body, "email").is_none());

    // A name with a character that reorders what follows it.
    let res = app
        .post_form(
            &s.client,
            "/account/profile",
            &[
                ("csrf_token", &s.csrf),
                ("display_name", "Ada \u{202e}gpj.exe"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_error(&res.text().await.unwrap(), "display_name").as_deref(),
        Some("Use letters, digits, spaces and punctuation only.")
    );

    let (_, stored_name, zone, _) = stored_user(&app, user.id);
    assert_eq!(stored_name, "Test learner");
    assert_eq!(zone, "Europe/Berlin");
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let other = app.sign_in(&user).await;
    let other_id = session_id(&app, &other);
    for fields in [
        vec![("display_name", "Mallory"), ("time_zone", "UTC")],
        vec![
            ("csrf_token", "forged"),
            ("display_name", "Mallory"),
            ("time_zone", "UTC"),
        ],
    ] {
        let res = app.post_form(&s.client, "/account/profile", &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let res = app
        .post_form(&s.client, "/account/tokens", &[("token_name", "sneaky")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post_form(
            &s.client,
            &format!("/account/sessions/{other_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (_, name, zone, _) = stored_user(&app, user.id);
    assert_eq!(
        (name.as_str(), zone.as_str()),
        ("Test learner", "Europe/Berlin")
    );
    assert!(session_exists(&app, other_id));
    let count: i64 = api_tokens_t::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 0);
}

// ---------------------------------------------------------------- password

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let hash = set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let other = app.sign_in(&user).await;
    let res = app
        .post_form(
            &s.client,
            "/account/password",
            &[
                ("csrf_token", &s.csrf),
                ("current_password", "not my password"),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert_eq!(
        field_error(&body, "current_password").as_deref(),
        Some("That is not your current password.")
    );
    assert!(input_tag(&body, "current_password").contains("aria-invalid=\"true\""));
    // Passwords are never echoed back.
    assert!(!body.contains("not my password"));
    assert!(!body.contains("a brand new passphrase"));
    assert_eq!(stored_user(&app, user.id).3.as_deref(), Some(hash.as_str()));
    assert_eq!(account_page(&app, &other).await.status(), StatusCode::OK);
    assert!(outbox(&app).is_empty());

    // A weak new password is refused next to its field, before any check
    // of the current one.
    let res = app
        .post_form(
            &s.client,
            "/account/password",
            &[
                ("csrf_token", &s.csrf),
                ("current_password", PASSWORD),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert_eq!(
        field_error(&body, "new_password").as_deref(),
        Some("Use at least 8 characters.")
    );
    assert!(field_error(&body, "current_password").is_none());
    assert_eq!(stored_user(&app, user.id).3.as_deref(), Some(hash.as_str()));
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_keeps_this_one() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let other = app.sign_in(&user).await;
    let res = app
        .post_form(
            &s.client,
            "/account/password",
            &[
                ("csrf_token", &s.csrf),
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=password-changed");

    let res = s
        .client
        .get(app.url("/account?notice=password-changed"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "this session goes on");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your password is changed.")
    );
    let res = account_page(&app, &other).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the other one ended");
    assert_eq!(location(&res), "/login?next=%2Faccount");

    let stored = stored_user(&app, user.id).3.unwrap();
    assert!(password::verify("a brand new passphrase", &stored));
    assert!(!password::verify(PASSWORD, &stored));
    let mails = outbox(&app);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "password_changed");
    assert!(mails[0].1.contains(&user.email));
    // When, in the person's zone with the zone named.
    let text = mails[0].2.as_deref().unwrap();
    assert!(text.contains("(Europe/Berlin)"), "{text}");
    assert!(audit_actions(&app, user.id).contains(&"user.password_changed".to_owned()));
}

// ---------------------------------------------------------------- email

#[tokio::test]
async fn the_email_changes_only_once_the_link_sent_to_the_new_address_is_confirmed() {
    let app = spawn_app_with_mail().await;
    let user = app.create_user(Role::Learner);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let new = format!("new-{}@officehours.test", Uuid::new_v4().simple());
    let res = app
        .post_form(
            &s.client,
            "/account/email",
            &[
                ("csrf_token", &s.csrf),
                ("email", &new),
                ("email_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=email-sent");
    assert_eq!(stored_user(&app, user.id).0, user.email, "not yet");

    app.worker().run_once().await.unwrap();
    let got = app.mail().wait_for(2).await;
    assert_eq!(got.len(), 2);
    let to_new = got.iter().find(|m| m.to == vec![new.clone()]).unwrap();
    let to_old = got
        .iter()
        .find(|m| m.to == vec![user.email.clone()])
        .unwrap();
    let old_text = to_old.parsed().body_text(0).unwrap().into_owned();
    assert!(old_text.contains(&new), "{old_text}");
    assert!(old_text.contains("/forgot-password"));
    assert!(!old_text.contains("token="), "no link for the old address");
    let new_text = to_new.parsed().body_text(0).unwrap().into_owned();
    let link = verify_link(&new_text);
    assert!(link.starts_with(&format!("{}/verify-email?token=", app.address)));

    // Opening the link only shows a button naming the new address.
    let page = s.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains(&new));
    assert_eq!(stored_user(&app, user.id).0, user.email);

    // A reset link went to the old address meanwhile.
    use officehours::accounts::email_tokens::{Purpose, issue, peek};
    let reset = issue(
        &mut app.conn(),
        user.id,
        Purpose::ResetPassword,
        None,
        app.clock.now(),
    )
    .unwrap();

    let token = link.split("token=").nth(1).unwrap().to_owned();
    let res = app
        .post_form(
            &s.client,
            "/verify-email",
            &[("csrf_token", &csrf_in(&page)), ("token", &token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(stored_user(&app, user.id).0, new);
    // The old address's reset link reaches the account no longer.
    let live = peek(
        &mut app.conn(),
        Purpose::ResetPassword,
        &reset,
        app.clock.now(),
    )
    .unwrap();
    assert!(live.is_none());
    assert!(audit_actions(&app, user.id).contains(&"user.email_changed".to_owned()));
    let body = account_page(&app, &s).await.text().await.unwrap();
    assert!(body.contains(&format!("Your address is <strong>{new}</strong>")));

    // The link works once.
    let res = app
        .post_form(
            &s.client,
            "/verify-email",
            &[("csrf_token", &csrf_in(&page)), ("token", &token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
}

#[tokio::test]
async fn an_email_change_needs_the_current_password_and_a_valid_address() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;

    let res = app
        .post_form(
            &s.client,
            "/account/email",
            &[
                ("csrf_token", &s.csrf),
                ("email", "fresh@officehours.test"),
                ("email_password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert_eq!(
        field_error(&body, "email_password").as_deref(),
        Some("That is not your current password.")
    );
    assert!(input_tag(&body, "email").contains("value=\"fresh@officehours.test\""));
    assert!(!body.contains("wrong password"));

    let res = app
        .post_form(
            &s.client,
            "/account/email",
            &[
                ("csrf_token", &s.csrf),
                ("email", "not an address"),
                ("email_password", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert_eq!(
        field_error(&body, "email").as_deref(),
        Some("Enter an email address like name@example.org.")
    );
    assert_eq!(
        field_error(&body, "email_password").as_deref(),
        Some("Enter your current password.")
    );
    assert!(input_tag(&body, "email").contains("value=\"not an address\""));

    assert_eq!(stored_user(&app, user.id).0, user.email);
    assert!(outbox(&app).is_empty());
    let issued: i64 = account_tokens::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(issued, 0);
}

#[tokio::test]
async fn an_address_in_use_gets_a_notice_and_the_asker_sees_the_same_answer() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let owner = app.create_user(Role::Mentor);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let res = app
        .post_form(
            &s.client,
            "/account/email",
            &[
                ("csrf_token", &s.csrf),
                ("email", &owner.email.to_uppercase()),
                ("email_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=email-sent");
    assert_eq!(stored_user(&app, user.id).0, user.email);

    let mails = outbox(&app);
    let kinds: Vec<&str> = mails.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"email_change_taken"));
    assert!(kinds.contains(&"email_change_notice"));
    for (kind, recipient, body) in &mails {
        assert!(
            !body.as_deref().unwrap().contains("token="),
            "no link at all"
        );
        match kind.as_str() {
            "email_change_taken" => assert!(recipient.contains(&owner.email)),
            _ => {
                assert!(recipient.contains(&user.email));
                assert!(body.as_deref().unwrap().contains("(Europe/Berlin)"));
            }
        }
    }
    let issued: i64 = account_tokens::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(issued, 0);
}

#[tokio::test]
async fn confirming_an_address_taken_meanwhile_says_so_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let rival = app.create_user(Role::Learner);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let new = "wanted@officehours.test";
    let res = app
        .post_form(
            &s.client,
            "/account/email",
            &[
                ("csrf_token", &s.csrf),
                ("email", new),
                ("email_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, _, body) = outbox(&app)
        .into_iter()
        .find(|m| m.0 == "verify_email")
        .unwrap();
    let link = verify_link(&body.unwrap());
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // Another account takes the address before the link is used.
    diesel::update(users::table.find(rival.id))
        .set(users::email.eq("Wanted@officehours.test"))
        .execute(&mut app.conn())
        .unwrap();
    let res = app
        .post_form(
            &s.client,
            "/verify-email",
            &[("csrf_token", &s.csrf), ("token", &token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("That address is already in use")
    );
    assert_eq!(stored_user(&app, user.id).0, user.email);
    assert!(!audit_actions(&app, user.id).contains(&"user.email_changed".to_owned()));
}

#[tokio::test]
async fn email_changes_are_asked_for_at_most_every_two_minutes() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let ask = |email: &'static str| async {
        app.post_form(
            &s.client,
            "/account/email",
            &[
                ("csrf_token", s.csrf.as_str()),
                ("email", email),
                ("email_password", PASSWORD),
            ],
        )
        .await
    };
    assert_eq!(
        ask("first@officehours.test").await.status(),
        StatusCode::SEE_OTHER
    );
    let res = ask("second@officehours.test").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body = res.text().await.unwrap();
    assert!(
        field_error(&body, "email")
            .unwrap()
            .contains("ask again in 120 seconds")
    );
    assert_eq!(outbox(&app).len(), 2, "the first request's two emails only");

    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        ask("second@officehours.test").await.status(),
        StatusCode::SEE_OTHER
    );
    // The newer link replaces the older one.
    let live: Vec<Option<String>> = account_tokens::table
        .filter(account_tokens::used_at.is_null())
        .select(account_tokens::email)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(live, vec![Some("second@officehours.test".to_owned())]);
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_signing_in() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let hash = set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let change = |current: &'static str| async {
        app.post_form(
            &s.client,
            "/account/password",
            &[
                ("csrf_token", s.csrf.as_str()),
                ("current_password", current),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await
    };
    for _ in 0..10 {
        assert_eq!(
            change("a wrong guess").await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    // Blocked now, even with the right password.
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body = res.text().await.unwrap();
    assert!(
        field_error(&body, "current_password")
            .unwrap()
            .starts_with("Too many wrong passwords.")
    );
    assert_eq!(stored_user(&app, user.id).3.as_deref(), Some(hash.as_str()));
}

// ---------------------------------------------------------------- sessions

#[tokio::test]
async fn sessions_are_listed_in_the_users_zone_and_can_be_signed_out() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let (laptop, laptop_token) = session::create(
        &mut app.conn(),
        user.id,
        app.clock.now() - chrono::Duration::hours(2),
        chrono::Duration::days(30),
        &Origin {
            ip: Some("203.0.113.7".into()),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
            ),
        },
    )
    .unwrap();
    let body = account_page(&app, &s).await.text().await.unwrap();
    assert!(body.contains("Firefox on Linux"), "{body}");
    assert!(!body.contains("Gecko/20100101"), "the agent is shortened");
    assert!(body.contains("203.0.113.7"));
    // 2026-06-15 07:00 UTC is 09:00 in Berlin (CEST).
    assert!(body.contains("Signed in Mon 15 Jun, 09:00 CEST"), "{body}");
    assert!(body.contains("Last active Mon 15 Jun, 11:00 CEST"));
    assert_eq!(body.matches("— this session").count(), 1);
    assert!(body.contains(&format!("/account/sessions/{}/revoke", laptop.id)));
    assert!(
        !body.contains(&format!(
            "/account/sessions/{}/revoke",
            session_id(&app, &s)
        )),
        "no revoke button for the session in use"
    );

    let res = app
        .post_form(
            &s.client,
            &format!("/account/sessions/{}/revoke", laptop.id),
            &[("csrf_token", &s.csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=session-revoked");
    assert!(!session_exists(&app, laptop.id));
    assert!(
        session::lookup(
            &mut app.conn(),
            &laptop_token,
            app.clock.now(),
            chrono::Duration::hours(12)
        )
        .unwrap()
        .is_none()
    );
    assert!(audit_actions(&app, user.id).contains(&"session.revoked".to_owned()));
    assert_eq!(account_page(&app, &s).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn signing_out_the_session_in_use_signs_out() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let id = session_id(&app, &s);
    let res = app
        .post_form(
            &s.client,
            &format!("/account/sessions/{id}/revoke"),
            &[("csrf_token", &s.csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?notice=signed-out");
    assert!(!session_exists(&app, id));
    assert_eq!(account_page(&app, &s).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn another_users_session_cannot_be_revoked() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let victim = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let v = app.sign_in(&victim).await;
    let victim_session = session_id(&app, &v);
    for path in [
        format!("/account/sessions/{victim_session}/revoke"),
        format!("/account/sessions/{}/revoke", Uuid::now_v7()),
        "/account/sessions/not-a-uuid/revoke".to_owned(),
    ] {
        let res = app
            .post_form(&s.client, &path, &[("csrf_token", &s.csrf)])
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert!(session_exists(&app, victim_session));
    assert_eq!(account_page(&app, &v).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- API tokens

#[tokio::test]
async fn an_api_token_is_shown_once_and_stored_only_hashed() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let res = app
        .post_form(
            &s.client,
            "/account/tokens",
            &[
                ("csrf_token", &s.csrf),
                ("token_name", "  calendar script "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the page itself, no redirect");
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body = res.text().await.unwrap();
    assert!(body.contains("Copy it now, it won't be shown again."));
    let marker = "<code id=\"new-token\">";
    let start = body.find(marker).unwrap() + marker.len();
    let token = &body[start..start + body[start..].find('<').unwrap()];
    assert_eq!(token.len(), 43);

    let rows: Vec<(String, Vec<u8>)> = api_tokens_t::table
        .filter(api_tokens_t::user_id.eq(user.id))
        .select((api_tokens_t::name, api_tokens_t::token_hash))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "calendar script");
    assert_eq!(rows[0].1, tokens::hash(token), "only the hash is stored");
    // No column of any row holds the token itself.
    let plaintext: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM api_tokens t WHERE position($1 IN t::text) > 0",
    )
    .bind::<diesel::sql_types::Text, _>(token)
    .get_result::<Count>(&mut app.conn())
    .unwrap()
    .n;
    assert_eq!(plaintext, 0);

    let (found, owner) = api_tokens::find_active_by_token(&mut app.conn(), token)
        .unwrap()
        .unwrap();
    assert_eq!(owner.id, user.id);
    assert!(audit_actions(&app, user.id).contains(&"api_token.created".to_owned()));

    // Listed afterwards, but never shown again.
    let body = account_page(&app, &s).await.text().await.unwrap();
    assert!(body.contains("calendar script"));
    assert!(body.contains("Last used never"));
    assert!(!body.contains(token));

    let res = app
        .post_form(
            &s.client,
            &format!("/account/tokens/{}/revoke", found.id),
            &[("csrf_token", &s.csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=token-revoked");
    assert!(
        api_tokens::find_active_by_token(&mut app.conn(), token)
            .unwrap()
            .is_none()
    );
    let body = account_page(&app, &s).await.text().await.unwrap();
    assert!(body.contains("Revoked Mon 15 Jun, 11:00 CEST"));
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test]
async fn a_token_needs_a_name_of_at_most_100_characters() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let s = app.sign_in(&user).await;
    let long = "t".repeat(101);
    for (name, error) in [
        ("   ", "Give the token a name."),
        (long.as_str(), "Use at most 100 characters."),
    ] {
        let res = app
            .post_form(
                &s.client,
                "/account/tokens",
                &[("csrf_token", &s.csrf), ("token_name", name)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = res.text().await.unwrap();
        assert_eq!(field_error(&body, "token_name").as_deref(), Some(error));
        let input = input_tag(&body, "token_name");
        assert!(
            input.contains(&format!("value=\"{}\"", name.trim())),
            "{input}"
        );
        assert!(input.contains("aria-describedby=\"token_name-error token_name-hint\""));
        assert!(!body.contains("new-token"));
    }
    let count: i64 = api_tokens_t::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn another_users_token_cannot_be_revoked() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let victim = app.create_user(Role::Learner);
    let (theirs, secret) =
        api_tokens::create(&mut app.conn(), victim.id, "their script", app.clock.now()).unwrap();
    let s = app.sign_in(&user).await;
    for path in [
        format!("/account/tokens/{}/revoke", theirs.id),
        format!("/account/tokens/{}/revoke", Uuid::now_v7()),
        "/account/tokens/nope/revoke".to_owned(),
    ] {
        let res = app
            .post_form(&s.client, &path, &[("csrf_token", &s.csrf)])
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert!(
        api_tokens::find_active_by_token(&mut app.conn(), &secret)
            .unwrap()
            .is_some()
    );
    let body = account_page(&app, &s).await.text().await.unwrap();
    assert!(
        !body.contains("their script"),
        "only one's own tokens are listed"
    );
}

/// Waits until some backend of this test's database waits for a lock.
async fn until_a_request_waits(app: &TestApp) {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    for _ in 0..500 {
        let waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result::<N>(&mut app.conn())
        .unwrap()
        .n;
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no request ever waited for the account's row");
}

/// Requests let in while the account was active, whose changes reach the
/// database only after an admin disabled it (or its owner deleted it in
/// another tab), write nothing and end signed out: a deleted account must
/// not get a name, an address, a password or an API token back. An open
/// transaction disabling the account holds its row while each request
/// queues for it.
#[tokio::test]
async fn changes_queued_behind_disabling_the_account_write_nothing() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    set_real_password(&app, &user, PASSWORD);
    let s = app.sign_in(&user).await;
    let before = stored_user(&app, user.id);
    let new_email = format!("new-{}@officehours.test", Uuid::new_v4().simple());
    let forms: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "/account/profile",
            vec![
                ("display_name", "Someone Else"),
                ("time_zone", "Asia/Tokyo"),
            ],
        ),
        (
            "/account/email",
            vec![("email", &new_email), ("email_password", PASSWORD)],
        ),
        (
            "/account/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase 2026"),
            ],
        ),
        ("/account/tokens", vec![("token_name", "laptop")]),
    ];
    for (path, fields) in forms {
        let mut holder = app.conn();
        holder.batch_execute("BEGIN").unwrap();
        diesel::update(users::table.find(user.id))
            .set(users::disabled_at.eq(Some(app.clock.now())))
            .execute(&mut holder)
            .unwrap();
        let mut all = vec![("csrf_token", s.csrf.as_str())];
        all.extend(fields);
        let request = app.post_form(&s.client, path, &all);
        let wait = async {
            until_a_request_waits(&app).await;
            holder.batch_execute("COMMIT").unwrap();
        };
        let (res, ()) = tokio::join!(request, wait);
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&res).starts_with("/login"),
            "{path}: {}",
            location(&res)
        );
        // Enabled again for the next form, with its sessions still there.
        diesel::update(users::table.find(user.id))
            .set(users::disabled_at.eq(None::<chrono::DateTime<chrono::Utc>>))
            .execute(&mut app.conn())
            .unwrap();
    }
    assert_eq!(
        stored_user(&app, user.id),
        before,
        "name, zone, address, password"
    );
    let tokens: i64 = account_tokens::table
        .filter(account_tokens::user_id.eq(user.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(tokens, 0, "no link to confirm a new address");
    let api: i64 = api_tokens_t::table
        .filter(api_tokens_t::user_id.eq(user.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(api, 0, "no API token");
}

/// A link to confirm a new address, opened after the account was
/// disabled, changes nothing: an erased account must keep its erased
/// address, and a disabled one waits for an admin.
#[tokio::test]
async fn a_disabled_account_s_email_change_link_does_nothing() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Learner);
    let new = format!("new-{}@officehours.test", Uuid::new_v4().simple());
    let token = officehours::accounts::email_tokens::issue(
        &mut app.conn(),
        user.id,
        officehours::accounts::email_tokens::Purpose::VerifyEmail,
        Some(&new),
        app.clock.now(),
    )
    .unwrap();
    diesel::update(users::table.find(user.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    let client = crate::harness::new_client();
    let page = client
        .get(app.url(&format!("/verify-email?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = app
        .post_form(
            &client,
            "/verify-email",
            &[("csrf_token", &csrf_in(&page)), ("token", &token)],
        )
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(stored_user(&app, user.id).0, user.email);
    assert!(!audit_actions(&app, user.id).contains(&"user.email_changed".to_owned()));
}
