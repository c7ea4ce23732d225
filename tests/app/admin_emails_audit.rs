//! `/admin/emails` and `/admin/audit`: counts per state, filters, keyset
//! pages, a message read with its secret links masked, retrying a dead
//! message, the audit log's filters and pages, escaping, and who may see
//! any of it — through HTTP against the running app.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use lettre::message::Mailbox;
use officehours::accounts::Role;
use officehours::audit;
use officehours::db::schema::{audit_log, email_outbox};
use officehours::email::enqueue;
use officehours::email::outbox::{self, NewEmail};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::{at, book, fixture};
use crate::harness::{SignedIn, TestApp, csrf_in, location, new_client, spawn_app};

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&").replace("&amp;", "&")
}

/// Ids in `data-{attr}-id="…"` attributes of a page, in order.
fn listed(html: &str, attr: &str) -> Vec<Uuid> {
    let marker = format!("data-{attr}-id=\"");
    html.match_indices(&marker)
        .map(|(i, m)| Uuid::parse_str(&html[i + m.len()..i + m.len() + 36]).unwrap())
        .collect()
}

fn link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    Some(unescape(&html[start..end]))
}

async fn get_html(app: &TestApp, who: &SignedIn, path: &str) -> String {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

/// Follows next links from `path` to the end, then previous links back;
/// returns the ids of both walks.
async fn walk(app: &TestApp, who: &SignedIn, path: &str, attr: &str) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut forward = Vec::new();
    let mut html = get_html(app, who, path).await;
    let mut pages = 1;
    forward.extend(listed(&html, attr));
    while let Some(next) = link(&html, "next") {
        html = get_html(app, who, &next).await;
        forward.extend(listed(&html, attr));
        pages += 1;
        assert!(pages < 50, "endless pages");
    }
    let mut backward = listed(&html, attr);
    while let Some(prev) = link(&html, "prev") {
        html = get_html(app, who, &prev).await;
        let mut page = listed(&html, attr);
        page.extend(backward);
        backward = page;
    }
    (forward, backward)
}

fn email(kind: &str, to: &str, subject: &str, text: &str) -> NewEmail {
    NewEmail {
        kind: kind.into(),
        to: Mailbox::new(Some("Test Person".into()), to.parse().unwrap()),
        recipient_user_id: None,
        subject: subject.into(),
        text: text.into(),
        html: None,
        attachments: vec![],
        carries_secret: false,
        not_before: None,
        dedupe_key: None,
        booking_id: None,
        expires_at: None,
    }
}

/// Enqueues a message created at `created` and puts it in `state`.
fn put(app: &TestApp, e: &NewEmail, created: DateTime<Utc>, state: &str) -> Uuid {
    let mut conn = app.conn();
    let id = conn
        .transaction(|c| enqueue(c, created, &app.state.settings.smtp_from, e))
        .unwrap();
    diesel::update(email_outbox::table.find(id))
        .set(email_outbox::state.eq(state))
        .execute(&mut conn)
        .unwrap();
    id
}

fn state_of(app: &TestApp, id: Uuid) -> (String, DateTime<Utc>) {
    email_outbox::table
        .find(id)
        .select((email_outbox::state, email_outbox::next_attempt_at))
        .first(&mut app.conn())
        .unwrap()
}

/// The count shown for `state` on the list page.
fn shown_count(html: &str, state: &str) -> i64 {
    let marker = format!("data-state=\"{state}\"");
    let start = html.find(&marker).expect("a count per state");
    let rest = &html[start..];
    let c = "admin-state-count\">";
    let i = rest.find(c).unwrap() + c.len();
    let j = rest[i..].find('<').unwrap() + i;
    rest[i..j].parse().unwrap()
}

#[tokio::test]
async fn counts_filters_and_pages_of_the_outbox() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let t0 = app.clock.now() - Duration::days(3);
    let mut dead = Vec::new();
    let mut all = Vec::new();
    for i in 0..7 {
        let id = put(
            &app,
            &email("welcome", &format!("ada{i}@example.org"), "Hi", "x"),
            t0 + Duration::minutes(i),
            "dead",
        );
        dead.push(id);
        all.push(id);
    }
    for i in 0..3 {
        all.push(put(
            &app,
            &email(
                "verify_email",
                &format!("bob{i}@example.org"),
                "Verify",
                "x",
            ),
            t0 + Duration::minutes(100 + i),
            "kept",
        ));
    }
    // 60 sent rows at one instant: ties broken by id across pages.
    for i in 0..60 {
        all.push(put(
            &app,
            &email(
                "booking_reminder",
                &format!("Carol{i}@Example.org"),
                "Soon",
                "x",
            ),
            t0 + Duration::hours(5),
            "sent",
        ));
    }

    let html = get_html(&app, &admin, "/admin/emails").await;
    assert_eq!(shown_count(&html, "pending"), 0);
    assert_eq!(shown_count(&html, "sending"), 0);
    assert_eq!(shown_count(&html, "sent"), 60);
    assert_eq!(shown_count(&html, "kept"), 3);
    assert_eq!(shown_count(&html, "dead"), 7);
    assert_eq!(listed(&html, "email").len(), 50);

    // Every row exactly once, newest first, both ways.
    let (forward, backward) = walk(&app, &admin, "/admin/emails", "email").await;
    assert_eq!(forward.len(), all.len());
    assert_eq!(forward.iter().collect::<HashSet<_>>().len(), all.len());
    assert_eq!(forward, backward);
    assert_eq!(forward.last(), Some(&dead[0]), "oldest last");

    // By state (newest first).
    let html = get_html(&app, &admin, "/admin/emails?state=dead").await;
    let mut want = dead.clone();
    want.reverse();
    assert_eq!(listed(&html, "email"), want);
    // By kind, and by recipient substring regardless of case.
    let html = get_html(&app, &admin, "/admin/emails?kind=verify_email").await;
    assert_eq!(listed(&html, "email").len(), 3);
    let html = get_html(&app, &admin, "/admin/emails?to=CAROL1").await;
    // Carol1, Carol10..Carol19.
    assert_eq!(listed(&html, "email").len(), 11);
    let html = get_html(&app, &admin, "/admin/emails?to=carol&state=dead").await;
    assert!(listed(&html, "email").is_empty());
    // Nothing matches: said so, not as if other pages held some.
    assert!(html.contains("No messages match these filters."));
    assert!(!html.contains("on this page"));
    // A bad state or kind is flagged and left out of the filter.
    let html = get_html(
        &app,
        &admin,
        "/admin/emails?state=lost&kind=Bad%20Kind&to=ada1",
    )
    .await;
    assert!(html.contains("id=\"state-error\""));
    assert!(html.contains("id=\"kind-error\""));
    assert_eq!(listed(&html, "email"), vec![dead[1]]);
    // A junk cursor is ignored.
    let html = get_html(&app, &admin, "/admin/emails?after=junk&state=kept").await;
    assert_eq!(listed(&html, "email").len(), 3);
}

#[tokio::test]
async fn html_in_a_message_is_escaped_and_attachments_listed() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let mut e = email(
        "welcome",
        "eve@example.org",
        "<script>alert(1)</script> hi",
        "Body with <b>bold</b> & <img src=x onerror=alert(2)>",
    );
    e.to = Mailbox::new(
        Some(r#"Quinn "Q" O'Neil"#.into()),
        "eve@example.org".parse().unwrap(),
    );
    e.attachments.push(outbox::Attachment {
        filename: "invite<1>.ics".into(),
        content_type: "text/calendar".into(),
        content: "BEGIN:VCALENDAR".into(),
    });
    let id = put(&app, &e, app.clock.now(), "kept");

    let list = get_html(&app, &admin, "/admin/emails").await;
    assert!(!list.contains("<script>alert(1)"));
    // The recipient as a person reads it: the name, then the address, not
    // the header's quoted and backslashed form.
    let to = "Quinn &#34;Q&#34; O&#39;Neil<br><span class=\"meta\">eve@example.org</span>";
    assert!(list.contains(to), "{list}");
    assert!(
        list.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || list.contains("&lt;script&gt;")
    );

    let html = get_html(&app, &admin, &format!("/admin/emails/{id}")).await;
    assert!(!html.contains("<script>alert(1)"));
    assert!(!html.contains("<b>bold</b>"));
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("<pre"));
    assert!(html.contains("invite&#60;1&#62;.ics") || html.contains("invite&lt;1&gt;.ics"));
    assert!(html.contains("text/calendar, 15 bytes"));
    assert!(
        html.contains("Quinn &#34;Q&#34; O&#39;Neil <span class=\"meta\">eve@example.org</span>")
    );
    // Unknown or malformed ids are 404s.
    for path in [
        format!("/admin/emails/{}", Uuid::now_v7()),
        "/admin/emails/not-a-uuid".to_owned(),
    ] {
        let res = admin.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// The first `{marker}<token>` in `text`, e.g. the token of a manage link.
fn token_after(text: &str, marker: &str) -> String {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn kept_messages_show_their_secret_links_masked() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;

    // A real verification email: sign up.
    let client = new_client();
    let csrf = app.csrf_for(&client, "/register").await;
    let res = app
        .post_form(
            &client,
            "/register",
            &[
                ("csrf_token", &csrf),
                ("email", "newbie@example.org"),
                ("display_name", "New Bie"),
                ("password", "correct horse battery"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A real reset email for an existing account.
    let known = app.create_user(Role::Learner);
    let csrf = app.csrf_for(&client, "/forgot-password").await;
    let res = app
        .post_form(
            &client,
            "/forgot-password",
            &[("csrf_token", &csrf), ("email", &known.email)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Real booking emails with manage links.
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 8, 0),
    )
    .await;
    // No SMTP: the worker keeps them.
    app.worker().run_once().await.unwrap();
    app.worker().run_once().await.unwrap();

    let rows: Vec<(Uuid, String, Option<String>, String)> = email_outbox::table
        .filter(email_outbox::carries_secret.eq(true))
        .filter(email_outbox::state.eq("kept"))
        .select((
            email_outbox::id,
            email_outbox::kind,
            email_outbox::body_text,
            email_outbox::state,
        ))
        .load(&mut app.conn())
        .unwrap();
    let mut kinds_seen = HashSet::new();
    for (id, kind, body, state) in rows {
        assert_eq!(state, "kept", "{kind}");
        let body = body.expect("a kept message keeps its body");
        let (marker, masked) = if body.contains("/verify-email?token=") {
            ("/verify-email?token=", "/verify-email?token=…")
        } else if body.contains("/reset-password?token=") {
            ("/reset-password?token=", "/reset-password?token=…")
        } else if body.contains("/manage/") {
            ("/manage/", "/manage/…")
        } else {
            continue;
        };
        kinds_seen.insert(marker);
        let token = token_after(&body, marker);
        assert!(token.len() >= 16, "a real token: {token}");
        let html = get_html(&app, &admin, &format!("/admin/emails/{id}")).await;
        assert!(!html.contains(&token), "{kind} shows its token");
        assert!(html.contains(masked), "{kind} shows {masked}");
    }
    assert_eq!(kinds_seen.len(), 3, "verify, reset and manage links seen");

    // Once sent, a secret-carrying body is gone, and the page says why.
    let id: Uuid = email_outbox::table
        .filter(email_outbox::kind.eq("verify_email"))
        .select(email_outbox::id)
        .first(&mut app.conn())
        .unwrap();
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::state.eq("sent"),
            email_outbox::body_text.eq(None::<String>),
            email_outbox::body_html.eq(None::<String>),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let html = get_html(&app, &admin, &format!("/admin/emails/{id}")).await;
    // Said for the body and for the attachments that went with it.
    assert_eq!(
        html.matches("(cleared after sending: it carried a secret link)")
            .count(),
        2,
        "{html}"
    );
    assert!(!html.contains("No attachments."));
}

fn audit_count(app: &TestApp, action: &str) -> i64 {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_dead_message_can_be_retried_and_nothing_else() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let created = app.clock.now() - Duration::days(2);
    let dead = put(
        &app,
        &email("welcome", "d@example.org", "Dead", "x"),
        created,
        "dead",
    );
    let kept = put(
        &app,
        &email("welcome", "k@example.org", "Kept", "x"),
        created,
        "kept",
    );
    app.clock.advance(Duration::minutes(7));
    let now = app.clock.now();

    let html = get_html(&app, &admin, &format!("/admin/emails/{dead}")).await;
    assert!(html.contains(&format!("action=\"/admin/emails/{dead}/retry\"")));
    let csrf = csrf_in(&html);
    let res = app
        .post_form(
            &admin.client,
            &format!("/admin/emails/{dead}/retry"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!("/admin/emails/{dead}?notice=retried")
    );
    assert_eq!(state_of(&app, dead), ("pending".to_owned(), now));
    let (actor, subject): (Option<Uuid>, Option<Uuid>) = audit_log::table
        .filter(audit_log::action.eq("email.retry"))
        .select((audit_log::actor_user_id, audit_log::subject_id))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((actor, subject), (Some(admin.user.id), Some(dead)));
    let html = get_html(&app, &admin, &location(&res)).await;
    assert!(html.contains("queued again"));

    // Not dead (any more): refused, nothing changes.
    for id in [dead, kept] {
        let before = state_of(&app, id);
        let res = app
            .post_form(
                &admin.client,
                &format!("/admin/emails/{id}/retry"),
                &[("csrf_token", &admin.csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Only a dead message can be retried")
        );
        assert_eq!(state_of(&app, id), before);
    }
    assert_eq!(audit_count(&app, "email.retry"), 1);
    // Without the CSRF token: refused.
    diesel::update(email_outbox::table.find(kept))
        .set(email_outbox::state.eq("dead"))
        .execute(&mut app.conn())
        .unwrap();
    let res = app
        .post_form(
            &admin.client,
            &format!("/admin/emails/{kept}/retry"),
            &[("csrf_token", "nope")],
        )
        .await;
    assert!(res.status().is_client_error());
    assert_eq!(state_of(&app, kept).0, "dead");
}

/// An audit entry at `at` (its own transaction).
fn entry(
    app: &TestApp,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
    action: &str,
    subject: Option<(&str, Uuid)>,
    details: serde_json::Value,
) {
    audit::record(&mut app.conn(), at, actor, action, subject, details).unwrap();
}

#[tokio::test]
async fn the_audit_log_lists_filters_pages_and_escapes() {
    let app = spawn_app().await;
    let admin_user = app.create_user(Role::Admin);
    let admin = app.sign_in(&admin_user).await;
    let mentor = app.create_user(Role::Mentor);
    let learner = app.create_user(Role::Learner);
    // Only the entries below: start from an empty log.
    diesel::delete(audit_log::table)
        .execute(&mut app.conn())
        .unwrap();
    let t0 = app.clock.now() - Duration::days(1);
    let booking = Uuid::now_v7();
    entry(
        &app,
        t0,
        Some(admin_user.id),
        "user.role_changed",
        Some(("user", learner.id)),
        serde_json::json!({ "old_role": "learner", "new_role": "mentor" }),
    );
    entry(
        &app,
        t0 + Duration::minutes(1),
        Some(mentor.id),
        "booking.no_show",
        Some(("booking", booking)),
        serde_json::json!({ "note": "<script>alert('x')</script>" }),
    );
    entry(
        &app,
        t0 + Duration::minutes(2),
        None,
        "policy.updated",
        None,
        serde_json::json!({}),
    );
    // 70 more by the mentor at one instant: pages break ties by id.
    for i in 0..70 {
        entry(
            &app,
            t0 + Duration::minutes(3),
            Some(mentor.id),
            "booking.cancelled",
            Some(("booking", booking)),
            serde_json::json!({ "i": i }),
        );
    }

    let html = get_html(&app, &admin, "/admin/audit").await;
    assert_eq!(listed(&html, "audit").len(), 50);
    let (forward, backward) = walk(&app, &admin, "/admin/audit", "audit").await;
    assert_eq!(forward.len(), 73);
    assert_eq!(forward.iter().collect::<HashSet<_>>().len(), 73);
    assert_eq!(forward, backward);

    // The oldest three, with actor, subject links and escaped details.
    let html = get_html(&app, &admin, "/admin/audit?action=user.role_changed").await;
    assert_eq!(listed(&html, "audit").len(), 1);
    assert!(html.contains(&admin_user.email));
    let q = serde_urlencoded::to_string([("q", learner.email.as_str())]).unwrap();
    assert!(
        unescape(&html).contains(&format!("/admin/users?{q}")),
        "user subject link"
    );
    assert!(html.contains("new_role"));
    let html = get_html(&app, &admin, "/admin/audit?action=booking.no_show").await;
    assert_eq!(listed(&html, "audit").len(), 1);
    assert!(html.contains(&format!("href=\"/bookings/{booking}\"")));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
    let html = get_html(&app, &admin, "/admin/audit?action=policy.updated").await;
    assert!(html.contains("system/command line"));

    // Prefix and actor filters.
    let html = get_html(&app, &admin, "/admin/audit?action=booking.").await;
    assert_eq!(listed(&html, "audit").len(), 50);
    let (all_booking, _) = walk(&app, &admin, "/admin/audit?action=booking.", "audit").await;
    assert_eq!(all_booking.len(), 71);
    let (by_mentor, _) = walk(
        &app,
        &admin,
        &format!("/admin/audit?actor={}", mentor.id),
        "audit",
    )
    .await;
    assert_eq!(by_mentor.len(), 71);
    let upper = mentor.email.to_uppercase();
    let (by_email, _) = walk(
        &app,
        &admin,
        &format!("/admin/audit?actor={}", &upper[..12]),
        "audit",
    )
    .await;
    assert_eq!(by_email.len(), 71);
    let html = get_html(
        &app,
        &admin,
        &format!("/admin/audit?actor={}&action=user.", admin_user.id),
    )
    .await;
    assert_eq!(listed(&html, "audit").len(), 1);
    // A word without a dot is its group.
    let (group, _) = walk(&app, &admin, "/admin/audit?action=booking", "audit").await;
    assert_eq!(group, all_booking);
    // A bad action is flagged and ignored.
    let html = get_html(&app, &admin, "/admin/audit?action=%3Cx%3E").await;
    assert!(html.contains("id=\"action-error\""));
    assert_eq!(listed(&html, "audit").len(), 50);
}

#[tokio::test]
async fn only_admins_reach_the_outbox_and_the_audit_log() {
    let app = spawn_app().await;
    let dead = put(
        &app,
        &email("welcome", "d@example.org", "Dead", "x"),
        app.clock.now(),
        "dead",
    );
    let mentor = app.sign_in(&app.create_user(Role::Mentor)).await;
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let audit_before: i64 = audit_log::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    for (role, who) in [(Role::Mentor, &mentor), (Role::Learner, &learner)] {
        for path in [
            "/admin/emails".to_owned(),
            format!("/admin/emails/{dead}"),
            "/admin/audit".to_owned(),
        ] {
            let res = who.client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?} GET {path}");
        }
        let res = app
            .post_form(
                &who.client,
                &format!("/admin/emails/{dead}/retry"),
                &[("csrf_token", &who.csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?} retry");
    }
    // Anonymous: to the sign-in page.
    let res = new_client()
        .get(app.url("/admin/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(state_of(&app, dead).0, "dead");
    let audit_after: i64 = audit_log::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(audit_after, audit_before, "nothing audited");
}
