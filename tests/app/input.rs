//! Bad input never crashes: a NUL byte anywhere in a path, a query or a
//! form body is answered with a 4xx page and changes nothing; cancel
//! reasons refuse control and text-direction characters next to the
//! field, as the goals do.

use diesel::prelude::*;
use officehours::accounts::Role;
use officehours::bookings::manage;
use officehours::db::schema::{audit_log, email_outbox};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::{at, book, booking, fixture, rfc, send_booking_form};
use crate::harness::{SignedIn, TestApp, new_client, spawn_app};

/// The text from the security review: a screen clear, colours, a window
/// title ending in BEL, and a right-to-left override.
const TERMINAL_TRICKS: &str =
    "Sorry \u{1b}[2J\u{1b}[31mFAKE\u{1b}[0m \u{1b}]0;pwned\u{7} \u{202e}evil\u{202c}";

fn rows(app: &TestApp) -> (i64, i64) {
    let mut conn = app.conn();
    let audits = audit_log::table.count().get_result(&mut conn).unwrap();
    let emails = email_outbox::table.count().get_result(&mut conn).unwrap();
    (audits, emails)
}

/// Who sends a request.
#[derive(Clone, Copy)]
enum Who {
    Anonymous,
    Learner,
    Mentor,
    Admin,
}

/// A form sent as `Who` to a path, with its fields.
type FormCase = (Who, String, Vec<(&'static str, String)>);

struct Clients {
    anonymous: (reqwest::Client, String),
    learner: SignedIn,
    mentor: SignedIn,
    admin: SignedIn,
}

impl Clients {
    fn get(&self, who: Who) -> (&reqwest::Client, &str) {
        match who {
            Who::Anonymous => (&self.anonymous.0, &self.anonymous.1),
            Who::Learner => (&self.learner.client, &self.learner.csrf),
            Who::Mentor => (&self.mentor.client, &self.mentor.csrf),
            Who::Admin => (&self.admin.client, &self.admin.csrf),
        }
    }
}

/// Sends `path` (GET without `form`, else POST with the viewer's CSRF
/// token and the fields); returns the status.
async fn send(
    app: &TestApp,
    clients: &Clients,
    who: Who,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> StatusCode {
    let (client, csrf) = clients.get(who);
    let res = match form {
        None => client.get(app.url(path)).send().await.unwrap(),
        Some(fields) => {
            let mut all = vec![("csrf_token", csrf)];
            all.extend_from_slice(fields);
            client
                .post(app.url(path))
                .header("origin", &app.address)
                .form(&all)
                .send()
                .await
                .unwrap()
        }
    };
    res.status()
}

#[tokio::test]
async fn a_nul_anywhere_in_a_request_is_a_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 16, 12, 0);
    let id = book(&app, &learner, f.mentor.id, "sql-basics", start).await;
    let token = manage::token_for(app.state.secret_key.expose(), id, learner.user.id);
    let anonymous = new_client();
    let anonymous_csrf = app.csrf_for(&anonymous, "/login").await;
    let clients = Clients {
        anonymous: (anonymous, anonymous_csrf),
        learner,
        mentor: app.sign_in(&f.mentor).await,
        admin: app.sign_in(&app.create_user(Role::Admin)).await,
    };
    let m = f.mentor.id;
    let t = f.topic;
    let u = clients.learner.user.id;
    let any = Uuid::now_v7();
    let later = rfc(at(2026, 6, 17, 12, 0));
    let before = rows(&app);
    let booked = booking(&app, id);

    use Who::{Admin, Anonymous, Learner, Mentor};
    let nul_in_path = [
        (Anonymous, "/topics/%00".to_owned()),
        (Anonymous, "/topics/sql-basics%00".to_owned()),
        (Anonymous, "/mentors/%00".to_owned()),
        (Anonymous, format!("/mentors/{m}%00")),
        (Anonymous, "/static/app%00.js".to_owned()),
        (Anonymous, "/nowhere%00".to_owned()),
        (Learner, "/bookings/%00".to_owned()),
        (Learner, format!("/bookings/{id}%00.ics")),
        (Learner, format!("/bookings/{id}%00/reschedule")),
        (Anonymous, "/manage/%00".to_owned()),
        (Anonymous, format!("/manage/{token}%00")),
        (Anonymous, format!("/manage/{token}%00/reschedule")),
        (Anonymous, "/mentor/feed/%00.ics".to_owned()),
        (Anonymous, "/mentor/feed/abc%00def.ics".to_owned()),
        (Admin, "/admin/topics/%00".to_owned()),
        (Admin, format!("/admin/topics/{t}%00")),
        (Admin, "/admin/emails/%00".to_owned()),
        (Admin, format!("/admin/bookings/{id}%00/reassign")),
    ];
    let nul_in_query = [
        (Anonymous, "/?x=%00".to_owned()),
        (Anonymous, "/?x%00=1".to_owned()),
        (
            Anonymous,
            "/topics/sql-basics?tz=Europe/Berlin%00".to_owned(),
        ),
        (
            Anonymous,
            "/topics/sql-basics?week=2026-06-15%00".to_owned(),
        ),
        (Anonymous, format!("/mentors/{m}?topic=sql-basics%00")),
        (Anonymous, format!("/mentors/{m}?tz=%00&week=%00")),
        (
            Learner,
            format!("/book?mentor={m}&topic=sql-basics%00&start={later}"),
        ),
        (
            Learner,
            format!("/book?mentor={m}&topic=sql-basics&start={later}&tz=UTC%00"),
        ),
        (Anonymous, "/login?next=/account%00".to_owned()),
        (Anonymous, "/register?next=%00".to_owned()),
        (Anonymous, "/verify-email?token=%00abc".to_owned()),
        (Anonymous, "/reset-password?token=abc%00".to_owned()),
        (Anonymous, "/forgot-password?x=%00".to_owned()),
        (Learner, format!("/bookings/{id}?notice=%00")),
        (
            Learner,
            format!("/bookings/{id}/reschedule?from=2026-06-20%00"),
        ),
        (Anonymous, format!("/manage/{token}?notice=%00")),
        (Anonymous, format!("/manage/{token}/reschedule?from=%00")),
        (Learner, "/me/sessions?x=%00".to_owned()),
        (Learner, "/account?notice=%00".to_owned()),
        (Mentor, "/mentor?notice=%00".to_owned()),
        (Mentor, "/mentor/availability?notice=%00".to_owned()),
        (Mentor, "/mentor/settings?notice=%00".to_owned()),
        (Admin, "/admin?x=%00".to_owned()),
        (Admin, "/admin/users?q=ada%00".to_owned()),
        (Admin, "/admin/users?role=%00&after=%00".to_owned()),
        (
            Admin,
            "/admin/bookings?learner=%00&mentor=%00&topic=%00&from=%00".to_owned(),
        ),
        (Admin, "/admin/bookings.csv?learner=%00".to_owned()),
        (Admin, "/admin/emails?to=%00&state=%00".to_owned()),
        (Admin, "/admin/audit?action=%00&actor=%00".to_owned()),
        (Admin, "/admin/topics?notice=%00&topic=%00".to_owned()),
        (Admin, "/admin/policy?notice=%00".to_owned()),
    ];
    let mut refused = Vec::new();
    for (who, path) in &nul_in_path {
        let got = send(&app, &clients, *who, path, None).await;
        if got != StatusCode::NOT_FOUND {
            refused.push(format!("GET {path}: {got}"));
        }
    }
    for (who, path) in &nul_in_query {
        let got = send(&app, &clients, *who, path, None).await;
        if got != StatusCode::BAD_REQUEST {
            refused.push(format!("GET {path}: {got}"));
        }
    }
    // A form's own path with a NUL is not found, before its body is read.
    for (who, path) in [
        (Learner, "/bookings/%00/cancel".to_owned()),
        (Anonymous, "/manage/%00/cancel".to_owned()),
        (Admin, format!("/admin/bookings/{id}%00/cancel")),
        (Mentor, format!("/mentor/sessions/{id}%00/outcome")),
    ] {
        let got = send(&app, &clients, who, &path, Some(&[("reason", "x")])).await;
        if got != StatusCode::NOT_FOUND {
            refused.push(format!("POST {path}: {got}"));
        }
    }
    let book = |field: &'static str, value: &'static str| {
        let mut fields = vec![
            ("mentor", m.to_string()),
            ("topic", "sql-basics".to_owned()),
            ("start", later.clone()),
            (
                "goals",
                "I want to understand joins and indexes.".to_owned(),
            ),
            ("key", Uuid::new_v4().to_string()),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value.to_owned()));
        fields
    };
    let forms: Vec<FormCase> = vec![
        (
            Anonymous,
            "/login".into(),
            vec![
                ("email", "a\0b@x.org".into()),
                ("password", "long enough secret".into()),
                ("next", "/".into()),
            ],
        ),
        (
            Anonymous,
            "/register".into(),
            vec![
                ("email", "new@x.org".into()),
                ("display_name", "New\0Person".into()),
                ("password", "long enough secret".into()),
                ("time_zone", "UTC".into()),
                ("next", "/".into()),
            ],
        ),
        (
            Anonymous,
            "/forgot-password".into(),
            vec![("email", "a\0b@x.org".into())],
        ),
        (
            Anonymous,
            "/reset-password".into(),
            vec![
                ("token", "abc\0".into()),
                ("password", "long enough secret".into()),
            ],
        ),
        (
            Anonymous,
            "/verify-email".into(),
            vec![("token", "\0".into())],
        ),
        (Learner, "/bookings".into(), book("topic", "a\0b")),
        (
            Learner,
            "/bookings".into(),
            book("goals", "I want \0 joins."),
        ),
        (Learner, "/bookings".into(), book("tz", "UTC\0")),
        (
            Learner,
            format!("/bookings/{id}/cancel"),
            vec![("reason", "a\0b".into())],
        ),
        (
            Mentor,
            format!("/bookings/{id}/cancel"),
            vec![("reason", "a\0b".into())],
        ),
        (
            Learner,
            format!("/bookings/{id}/reschedule"),
            vec![("start", format!("{later}\0")), ("from", "\0".into())],
        ),
        (
            Anonymous,
            format!("/manage/{token}/cancel"),
            vec![("reason", "a\0b".into())],
        ),
        (
            Anonymous,
            format!("/manage/{token}/reschedule"),
            vec![("start", format!("\0{later}"))],
        ),
        (
            Learner,
            "/verify-email/resend".into(),
            vec![("next", "/\0".into())],
        ),
        (
            Learner,
            "/account/profile".into(),
            vec![("display_name", "a\0b".into()), ("time_zone", "UTC".into())],
        ),
        (
            Learner,
            "/account/email".into(),
            vec![
                ("email", "a\0b@x.org".into()),
                ("email_password", "x".into()),
            ],
        ),
        (
            Learner,
            "/account/password".into(),
            vec![
                ("current_password", "\0".into()),
                ("new_password", "long enough secret".into()),
            ],
        ),
        (
            Learner,
            "/account/tokens".into(),
            vec![("token_name", "a\0b".into())],
        ),
        (
            Learner,
            format!("/account/sessions/{any}/revoke"),
            vec![("x", "\0".into())],
        ),
        (
            Learner,
            format!("/account/tokens/{any}/revoke"),
            vec![("x", "\0".into())],
        ),
        (Learner, "/account/export".into(), vec![("x\0", "1".into())]),
        (
            Learner,
            "/account/delete".into(),
            vec![
                ("delete_password", "\0".into()),
                ("confirm", "DELETE".into()),
            ],
        ),
        (
            Mentor,
            "/mentor/settings".into(),
            vec![("headline", "a\0b".into()), ("topics", format!("{t}\0"))],
        ),
        (
            Mentor,
            "/mentor/availability/zone".into(),
            vec![("time_zone", "Europe/Berlin\0".into())],
        ),
        (
            Mentor,
            "/mentor/availability/weekly".into(),
            vec![
                ("weekly_weekday", "1\0".into()),
                ("weekly_start", "09:00".into()),
                ("weekly_end", "10:00".into()),
            ],
        ),
        (
            Mentor,
            format!("/mentor/availability/weekly/{any}/delete"),
            vec![("x", "\0".into())],
        ),
        (
            Mentor,
            "/mentor/availability/overrides/window".into(),
            vec![
                ("override_date", "2026-07-01\0".into()),
                ("override_start", "09:00".into()),
                ("override_end", "10:00".into()),
            ],
        ),
        (
            Mentor,
            "/mentor/availability/overrides/blocked".into(),
            vec![("blocked_date", "2026-07-01\0".into())],
        ),
        (
            Mentor,
            format!("/mentor/availability/overrides/{any}/delete"),
            vec![("x", "\0".into())],
        ),
        (
            Mentor,
            format!("/mentor/availability/override-windows/{any}/delete"),
            vec![("x", "\0".into())],
        ),
        (
            Mentor,
            "/mentor/availability/time-off".into(),
            vec![
                ("off_from", "2026-07-01T09:00".into()),
                ("off_to", "2026-07-02T09:00".into()),
                ("off_note", "a\0b".into()),
            ],
        ),
        (
            Mentor,
            format!("/mentor/availability/time-off/{any}/delete"),
            vec![("x", "\0".into())],
        ),
        (
            Mentor,
            format!("/mentor/sessions/{id}/outcome"),
            vec![("outcome", "completed\0".into())],
        ),
        (Mentor, "/mentor/feed".into(), vec![("x", "\0".into())]),
        (
            Admin,
            format!("/admin/bookings/{id}/cancel"),
            vec![("reason", "a\0b".into())],
        ),
        (
            Admin,
            format!("/admin/bookings/{id}/cancel?status=confirmed"),
            vec![("reason", "Mentor is ill\0".into())],
        ),
        (
            Admin,
            format!("/admin/bookings/{id}/reassign"),
            vec![("mentor", format!("{any}\0"))],
        ),
        (
            Admin,
            format!("/admin/users/{u}/role"),
            vec![("role", "mentor\0".into())],
        ),
        (
            Admin,
            format!("/admin/users/{u}/disable?q=a"),
            vec![("x", "\0".into())],
        ),
        (
            Admin,
            format!("/admin/users/{u}/enable"),
            vec![("x", "\0".into())],
        ),
        (
            Admin,
            "/admin/topics".into(),
            vec![
                ("slug", "a\0b".into()),
                ("title", "A\0B".into()),
                ("description", "x".into()),
                ("duration_minutes", "30".into()),
            ],
        ),
        (
            Admin,
            format!("/admin/topics/{t}"),
            vec![
                ("title", "SQL\0".into()),
                ("description", "x".into()),
                ("duration_minutes", "30".into()),
            ],
        ),
        (
            Admin,
            format!("/admin/topics/{t}/deactivate"),
            vec![("x", "\0".into())],
        ),
        (
            Admin,
            format!("/admin/topics/{t}/activate"),
            vec![("x", "\0".into())],
        ),
        (
            Admin,
            "/admin/policy".into(),
            vec![("max_upcoming", "3\0".into())],
        ),
        (
            Admin,
            format!("/admin/emails/{any}/retry"),
            vec![("x", "\0".into())],
        ),
        // Last: before the fix it signed the learner out.
        (Learner, "/logout".into(), vec![("x", "\0".into())]),
    ];
    for (who, path, fields) in &forms {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let got = send(&app, &clients, *who, path, Some(&fields)).await;
        if got != StatusCode::BAD_REQUEST {
            let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
            refused.push(format!("POST {path} {names:?}: {got}"));
        }
    }
    assert!(
        refused.is_empty(),
        "not answered 404 (path), 400 (query, form):\n{}",
        refused.join("\n")
    );

    // A NUL in a cookie is no session, not an error.
    for cookie in ["oh_session=%00", "oh_session=a%00b; oh_pre=%00.%00"] {
        let res = new_client()
            .get(app.url("/account"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{cookie}");
    }

    // Nothing was written: no audit entry, no email, the booking as it was,
    // and everyone still signed in.
    assert_eq!(rows(&app), before);
    let after = booking(&app, id);
    assert_eq!(
        (after.status, after.sequence, after.cancel_reason),
        (booked.status, booked.sequence, booked.cancel_reason)
    );
    let (status, _) = app.get_as(&clients.learner, "/account").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_pages_for_a_nul_say_what_happened() {
    let app = spawn_app().await;
    let res = app.get("/topics/%00").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
    let res = app.get("/login?next=%00").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("That did not work"));
    let client = new_client();
    let csrf = app.csrf_for(&client, "/login").await;
    let res = app
        .post_form(
            &client,
            "/login",
            &[
                ("csrf_token", &csrf),
                ("email", "a\0b@x.org"),
                ("password", "long enough secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("That did not work"));
    // A signed-in person's page still shows them signed in.
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let mut fields = crate::booking_fixture::book_fields(
        f.mentor.id,
        "a\0b",
        at(2026, 6, 16, 12, 0),
        Uuid::new_v4(),
        &learner.csrf,
    );
    fields.push(("tz".into(), "UTC".into()));
    let res = send_booking_form(&app, &learner, &fields).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("That did not work"), "{html}");
    assert!(html.contains("Sign out"), "{html}");
    // A wrong CSRF token is still said first.
    let res = app
        .post_form(
            &client,
            "/login",
            &[("csrf_token", "forged"), ("email", "a\0b@x.org")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Control characters a reason may hold, and those it may not.
#[tokio::test]
async fn cancel_reasons_refuse_control_and_direction_characters_next_to_the_field() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let mentor = app.sign_in(&f.mentor).await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 20, 12, 0),
    )
    .await;
    let token = manage::token_for(app.state.secret_key.expose(), id, learner.user.id);
    let link = new_client();
    let link_csrf = app.csrf_for(&link, &format!("/manage/{token}")).await;
    let before = rows(&app);

    let bell = "Sorry, something came up \u{7}";
    let reorder = "Sorry \u{2066}isolated\u{2069} text";
    let c1 = "Sorry \u{9b}2J";
    for reason in [TERMINAL_TRICKS, bell, reorder, c1] {
        // The learner and the mentor on the booking's page, the learner by
        // the email's link: the page again, the text kept, the error at
        // the field.
        for (client, csrf, path) in [
            (
                &learner.client,
                &learner.csrf,
                format!("/bookings/{id}/cancel"),
            ),
            (
                &mentor.client,
                &mentor.csrf,
                format!("/bookings/{id}/cancel"),
            ),
            (&admin.client, &admin.csrf, format!("/bookings/{id}/cancel")),
            (&link, &link_csrf, format!("/manage/{token}/cancel")),
        ] {
            let res = app
                .post_form(client, &path, &[("csrf_token", csrf), ("reason", reason)])
                .await;
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
            let html = res.text().await.unwrap();
            assert!(html.contains("id=\"reason-error\""), "{html}");
            assert!(html.contains("aria-describedby=\"reason-error"), "{html}");
            assert!(html.contains(reason), "the text is kept: {html}");
            let expected = if reason == reorder || reason == TERMINAL_TRICKS {
                "Remove the characters that change the direction of the text."
            } else {
                "Remove the control characters."
            };
            assert!(html.contains(expected), "{html}");
        }
        // An admin from the bookings list: the list again, the message at
        // that booking's field.
        let res = app
            .post_form(
                &admin.client,
                &format!("/admin/bookings/{id}/cancel?status=confirmed"),
                &[("csrf_token", &admin.csrf), ("reason", reason)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("id=\"reason-{id}-error\"")),
            "{html}"
        );
        assert!(html.contains("Remove the"), "{html}");
    }
    let b = booking(&app, id);
    assert_eq!((b.status.as_str(), b.cancel_reason), ("confirmed", None));
    assert_eq!(rows(&app), before, "no email, no audit entry");

    // Line breaks and tabs are a reason's own (as the goals').
    let res = app
        .post_form(
            &mentor.client,
            &format!("/bookings/{id}/cancel"),
            &[
                ("csrf_token", &mentor.csrf),
                ("reason", "I am ill.\r\n\tSorry!"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        booking(&app, id).cancel_reason.as_deref(),
        Some("I am ill.\n\tSorry!")
    );
}
