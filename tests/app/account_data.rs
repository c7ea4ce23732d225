//! What happens to a person's data: disabling a mentor (or learner)
//! cancels their upcoming sessions with notices; a mentor who stops
//! accepting keeps what is booked; "Download my data" and "Delete my
//! account" on the account page — through HTTP against the running app,
//! checking the database and the outbox behind it.

use base64::Engine as _;
use chrono::Duration;
use diesel::prelude::*;
use officehours::accounts::deletion::{DELETED_NAME, REASON_ERASED, erased_email};
use officehours::accounts::{Role, User, tokens};
use officehours::admin::users::{ACCOUNT_DISABLED, MENTOR_GONE};
use officehours::bookings::model::Booking;
use officehours::db::schema::{
    api_tokens, audit_log, bookings, email_outbox, mentor_profiles, sessions, users, weekly_rules,
};
use officehours::email::outbox::{self, OutboxState};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::{at, book, booking, fixture, mentor, offer, set_zone};
use crate::harness::{SignedIn, TestApp, location, new_client, spawn_app};

const PASSWORD: &str = "correct horse battery";

/// `(kind, recipient_user_id, state, attachments as text, body present)`
/// of the outbox rows of one booking.
fn outbox_of(app: &TestApp, booking: Uuid) -> Vec<(String, Option<Uuid>, String, String, bool)> {
    email_outbox::table
        .filter(email_outbox::booking_id.eq(booking))
        .order(email_outbox::created_at)
        .select((
            email_outbox::kind,
            email_outbox::recipient_user_id,
            email_outbox::state,
            email_outbox::attachments,
            email_outbox::body_text.is_not_null(),
        ))
        .load::<(String, Option<Uuid>, String, serde_json::Value, bool)>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|(k, r, s, a, b)| (k, r, s, a.to_string(), b))
        .collect()
}

fn cancellations_to(app: &TestApp, booking: Uuid, user: Uuid) -> usize {
    outbox_of(app, booking)
        .into_iter()
        .filter(|(kind, to, _, ics, _)| {
            kind == "booking_cancelled" && *to == Some(user) && ics.contains("METHOD:CANCEL")
        })
        .count()
}

/// The text of the cancellation of `booking` to `user`.
fn cancellation_text(app: &TestApp, booking: Uuid, user: Uuid) -> String {
    email_outbox::table
        .filter(email_outbox::booking_id.eq(booking))
        .filter(email_outbox::recipient_user_id.eq(user))
        .filter(email_outbox::kind.eq("booking_cancelled"))
        .select(email_outbox::body_text)
        .first::<Option<String>>(&mut app.conn())
        .unwrap()
        .expect("a kept body")
}

fn audit_of(app: &TestApp, action: &str) -> Vec<(Option<Uuid>, Option<Uuid>, serde_json::Value)> {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .order(audit_log::at)
        .select((
            audit_log::actor_user_id,
            audit_log::subject_id,
            audit_log::details,
        ))
        .load(&mut app.conn())
        .unwrap()
}

async fn post(
    app: &TestApp,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("csrf_token", who.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(&who.client, path, &all).await
}

async fn is_signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let res = client.get(app.url("/account")).send().await.unwrap();
    res.status() == StatusCode::OK
}

fn user_row(app: &TestApp, id: Uuid) -> (String, String, Option<String>, bool, String) {
    users::table
        .find(id)
        .select((
            users::email,
            users::display_name,
            users::password_hash,
            users::disabled_at.is_not_null(),
            users::time_zone,
        ))
        .first(&mut app.conn())
        .unwrap()
}

fn session_count(app: &TestApp, id: Uuid) -> i64 {
    sessions::table
        .filter(sessions::user_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn learner(app: &TestApp) -> User {
    app.create_user(Role::Learner)
}

// ---------------------------------------------------------------- disabling

#[tokio::test]
async fn disabling_a_mentor_cancels_exactly_their_upcoming_bookings_with_notices() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let other_mentor = mentor(&app, |_| {});
    offer(&app, &other_mentor, fx.topic);
    let (l1, l2, l3, l4) = (learner(&app), learner(&app), learner(&app), learner(&app));
    let (s1, s2, s3, s4) = (
        app.sign_in(&l1).await,
        app.sign_in(&l2).await,
        app.sign_in(&l3).await,
        app.sign_in(&l4).await,
    );
    // Clock: 2026-06-15T09:00Z. The first one will be past.
    let past = book(
        &app,
        &s4,
        fx.mentor.id,
        "sql-basics",
        at(2026, 6, 15, 10, 0),
    )
    .await;
    let up1 = book(
        &app,
        &s1,
        fx.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 10, 0),
    )
    .await;
    let up2 = book(&app, &s2, fx.mentor.id, "deep-dive", at(2026, 6, 17, 10, 0)).await;
    let others = book(
        &app,
        &s3,
        other_mentor.id,
        "sql-basics",
        at(2026, 6, 16, 10, 0),
    )
    .await;
    app.clock.advance(Duration::hours(2));

    let admin = app.create_user(Role::Admin);
    let admin = app.sign_in(&admin).await;
    let res = post(
        &app,
        &admin,
        &format!("/admin/users/{}/disable", fx.mentor.id),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    for id in [up1, up2] {
        let b = booking(&app, id);
        assert_eq!(b.status, "cancelled");
        assert_eq!(b.cancelled_by, Some(admin.user.id));
        assert_eq!(b.cancel_reason.as_deref(), Some(MENTOR_GONE));
        assert!(!b.late_cancel);
    }
    assert_eq!(
        booking(&app, past).status,
        "confirmed",
        "past sessions stay"
    );
    assert_eq!(
        booking(&app, others).status,
        "confirmed",
        "other mentors' stay"
    );

    for (id, learner) in [(up1, l1.id), (up2, l2.id)] {
        assert_eq!(cancellations_to(&app, id, learner), 1, "to the learner");
        assert_eq!(cancellations_to(&app, id, fx.mentor.id), 1, "to the mentor");
        // Each reads the reason about themselves.
        let text_to = |user: Uuid| -> String {
            email_outbox::table
                .filter(email_outbox::booking_id.eq(id))
                .filter(email_outbox::kind.eq("booking_cancelled"))
                .filter(email_outbox::recipient_user_id.eq(user))
                .select(email_outbox::body_text)
                .first::<Option<String>>(&mut app.conn())
                .unwrap()
                .unwrap()
        };
        let to_learner = text_to(learner);
        assert!(to_learner.contains(MENTOR_GONE), "{to_learner}");
        // Not back to the disabled mentor's page: to the topic's mentors.
        assert!(
            to_learner.contains("You are welcome to book another time: ")
                && to_learner.contains("/topics/")
                && !to_learner.contains("/mentors/"),
            "{to_learner}"
        );
        let to_mentor = text_to(fx.mentor.id);
        assert!(to_mentor.contains(ACCOUNT_DISABLED), "{to_mentor}");
        assert!(!to_mentor.contains(MENTOR_GONE), "{to_mentor}");
    }
    assert_eq!(cancellations_to(&app, past, l4.id), 0);
    assert_eq!(cancellations_to(&app, others, l3.id), 0);

    assert_eq!(
        audit_of(&app, "user.disabled"),
        vec![(
            Some(admin.user.id),
            Some(fx.mentor.id),
            serde_json::json!({ "sessions_ended": 0, "bookings_cancelled": 2 }),
        )]
    );
    assert_eq!(audit_of(&app, "booking.cancel").len(), 2);

    // The freed time can be booked with someone else; the disabled mentor
    // is not bookable any more.
    let page = app
        .get(&format!("/mentors/{}?topic=sql-basics", fx.mentor.id))
        .await;
    assert_ne!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn disabling_a_learner_cancels_their_upcoming_bookings() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = learner(&app);
    let s = app.sign_in(&l).await;
    let id = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;
    let admin = app.create_user(Role::Admin);
    let admin = app.sign_in(&admin).await;
    let res = post(&app, &admin, &format!("/admin/users/{}/disable", l.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(booking(&app, id).status, "cancelled");
    assert_eq!(cancellations_to(&app, id, fx.mentor.id), 1);
    assert!(!is_signed_in(&app, &s.client).await);
    // The learner reads why, and is not invited to book or sent to a
    // page they can no longer sign in to; the mentor's time is free.
    let to_learner = cancellation_text(&app, id, l.id);
    assert!(to_learner.contains(ACCOUNT_DISABLED), "{to_learner}");
    assert!(!to_learner.contains("book another time"), "{to_learner}");
    assert!(!to_learner.contains("/bookings/"), "{to_learner}");
    let to_mentor = cancellation_text(&app, id, fx.mentor.id);
    assert!(to_mentor.contains("The time is free again"), "{to_mentor}");
    assert!(
        to_mentor.contains(&format!("/bookings/{id}")),
        "{to_mentor}"
    );
}

#[tokio::test]
async fn a_mentor_who_stops_accepting_keeps_their_bookings() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = learner(&app);
    let s = app.sign_in(&l).await;
    let id = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;
    let m = app.sign_in(&fx.mentor).await;
    let topic = fx.topic.to_string();
    // The settings form as sent, without the "accept bookings" box.
    let res = post(
        &app,
        &m,
        "/mentor/settings",
        &[
            ("headline", "Backend mentor"),
            ("bio", ""),
            ("meeting_url", "https://meet.example.org/room-1"),
            ("buffer_before_min", "0"),
            ("buffer_after_min", "0"),
            ("min_notice_hours", "0"),
            ("horizon_days", "60"),
            ("step_min", "30"),
            ("max_per_day", ""),
            ("max_per_week", ""),
            ("topics", &topic),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let accepting: bool = mentor_profiles::table
        .find(fx.mentor.id)
        .select(mentor_profiles::accepting_bookings)
        .first(&mut app.conn())
        .unwrap();
    assert!(!accepting);
    assert_eq!(booking(&app, id).status, "confirmed");
    assert_eq!(cancellations_to(&app, id, l.id), 0);
}

// ---------------------------------------------------------------- export

#[tokio::test]
async fn export_has_every_section_and_no_secret() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = learner(&app);
    let password_hash = app.set_password(l.id, PASSWORD);
    let s = app.sign_in(&l).await;
    let id = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;

    let res = post(
        &app,
        &s,
        "/account/tokens",
        &[("token_name", "calendar script")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let start = html.find("<code id=\"new-token\">").unwrap() + "<code id=\"new-token\">".len();
    let api_token = html[start..start + html[start..].find('<').unwrap()].to_owned();
    assert!(api_token.len() > 20);

    let res = post(&app, &s, "/account/export", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let text = res.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();

    assert_eq!(json["account"]["email"], l.email.as_str());
    assert_eq!(json["account"]["display_name"], l.display_name.as_str());
    assert_eq!(json["account"]["role"], "learner");
    assert_eq!(json["account"]["time_zone"], "Europe/Berlin");
    assert!(json["account"]["created_at"].is_string());
    assert_eq!(json["sessions"].as_array().unwrap().len(), 1);
    assert!(json["sessions"][0]["last_seen_at"].is_string());
    assert_eq!(json["api_tokens"][0]["name"], "calendar script");
    let mine = &json["bookings_as_learner"][0];
    assert_eq!(mine["id"], id.to_string());
    assert_eq!(mine["other_party"], fx.mentor.display_name.as_str());
    assert_eq!(mine["topic"], "Topic sql-basics");
    assert_eq!(mine["status"], "confirmed");
    assert_eq!(mine["goals"], "I want to understand joins and indexes.");
    assert_eq!(json["bookings_as_mentor"], serde_json::json!([]));
    assert!(json["mentor_profile"].is_null());
    assert!(json["schedule"].is_null());
    let actions: Vec<&str> = json["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"booking.create") || actions.contains(&"api_token.created"));
    assert!(actions.contains(&"api_token.created"), "{actions:?}");

    // No secret in any form.
    let token_hash: Vec<u8> = api_tokens::table
        .filter(api_tokens::user_id.eq(l.id))
        .select(api_tokens::token_hash)
        .first(&mut app.conn())
        .unwrap();
    let session_hash = tokens::hash(&s.session_token);
    for secret in [
        api_token.clone(),
        s.session_token.clone(),
        password_hash.clone(),
        hex(&token_hash),
        hex(&session_hash),
        base64::engine::general_purpose::STANDARD.encode(&token_hash),
        base64::engine::general_purpose::STANDARD.encode(&session_hash),
        format!("{:?}", &token_hash[..4]).replace(' ', ""),
    ] {
        assert!(!text.contains(&secret), "the export leaks {secret}");
    }
    for word in ["token_hash", "password_hash", "argon2"] {
        assert!(!text.contains(word), "{word}");
    }

    // A mentor's export carries the profile and the schedule.
    let m = app.sign_in(&fx.mentor).await;
    let res = post(&app, &m, "/account/export", &[]).await;
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["mentor_profile"]["headline"], "Backend mentor");
    assert_eq!(
        json["mentor_profile"]["topics"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        json["schedule"]["weekly_rules"].as_array().unwrap().len(),
        7
    );
    assert_eq!(
        json["bookings_as_mentor"][0]["other_party"],
        l.display_name.as_str()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let l = learner(&app);
    app.set_password(l.id, PASSWORD);
    let s = app.sign_in(&l).await;
    for path in ["/account/export", "/account/delete"] {
        let res = app
            .post_form(
                &s.client,
                path,
                &[("delete_password", PASSWORD), ("confirm", "yes")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let res = app
            .post_form(
                &s.client,
                path,
                &[
                    ("csrf_token", "forged"),
                    ("delete_password", PASSWORD),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(user_row(&app, l.id).0, l.email);
    assert!(is_signed_in(&app, &s.client).await);
    // Anonymous: to the sign-in page, nothing exported.
    let anon = new_client();
    let res = anon.post(app.url("/account/export")).send().await.unwrap();
    assert_ne!(res.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- deletion

#[tokio::test]
async fn a_wrong_password_or_no_tick_changes_nothing() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = learner(&app);
    app.set_password(l.id, PASSWORD);
    let s = app.sign_in(&l).await;
    let id = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;

    let res = post(
        &app,
        &s,
        "/account/delete",
        &[("delete_password", "not my password"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"delete_password-error\""), "{html}");
    assert!(html.contains("That is not your current password."));
    assert!(html.contains("aria-describedby=\"delete_password-error\""));

    let res = post(
        &app,
        &s,
        "/account/delete",
        &[("delete_password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"confirm-error\""));

    let (email, name, hash, disabled, _) = user_row(&app, l.id);
    assert_eq!((email, name), (l.email.clone(), l.display_name.clone()));
    assert!(hash.is_some() && !disabled);
    assert_eq!(session_count(&app, l.id), 1);
    assert_eq!(booking(&app, id).status, "confirmed");
    assert!(audit_of(&app, "account.delete").is_empty());
    assert!(is_signed_in(&app, &s.client).await);
}

#[tokio::test]
async fn deleting_erases_the_person_cancels_upcoming_and_keeps_the_past() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = set_zone(&app, &learner(&app), "America/New_York");
    app.set_password(l.id, PASSWORD);
    let s = app.sign_in(&l).await;
    let other_device = app.sign_in(&l).await;
    let past = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 15, 10, 0)).await;
    app.clock.advance(Duration::hours(2));
    let upcoming = book(&app, &s, fx.mentor.id, "deep-dive", at(2026, 6, 16, 10, 0)).await;
    let called_off = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 17, 10, 0)).await;
    let res = post(
        &app,
        &s,
        &format!("/bookings/{called_off}/cancel"),
        &[("reason", "My cat Miso is ill")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(&app, &s, "/account/tokens", &[("token_name", "script")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The address also sits in the sign-in and email limits' counts.
    let key = l.email.to_lowercase();
    let mut conn = app.conn();
    officehours::accounts::throttle::record_failure(&mut conn, &key, "192.0.2.1", app.clock.now())
        .unwrap();
    // (In a transaction, as the app calls it: its lock is the
    // transaction's.)
    conn.transaction(|conn| {
        officehours::accounts::throttle::mail_request(
            conn,
            &key,
            officehours::accounts::throttle::MailPurpose::Reset,
            "192.0.2.1",
            app.clock.now(),
        )
    })
    .unwrap();
    let counted = |conn: &mut crate::harness::TestConn| -> (i64, i64) {
        use officehours::db::schema::{login_failures, mail_requests};
        (
            login_failures::table
                .filter(login_failures::email_key.eq(&key))
                .count()
                .get_result(conn)
                .unwrap(),
            mail_requests::table
                .filter(mail_requests::email_key.eq(&key))
                .count()
                .get_result(conn)
                .unwrap(),
        )
    };
    assert_eq!(counted(&mut conn), (1, 1));

    let res = post(
        &app,
        &s,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("oh_session=;") || v.starts_with("oh_session=\"\""));
    assert!(cleared, "the session cookie is removed");
    let html = res.text().await.unwrap();
    assert!(html.contains("Your account is deleted"));

    // Personal data gone.
    let (email, name, hash, disabled, zone) = user_row(&app, l.id);
    assert_eq!(email, erased_email(l.id));
    assert_eq!(name, DELETED_NAME);
    assert!(hash.is_none());
    assert!(disabled);
    assert_eq!(zone, "America/New_York");
    let with_old_email: i64 = users::table
        .filter(users::email.ilike(&l.email))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(with_old_email, 0);
    assert_eq!(session_count(&app, l.id), 0);
    let tokens_left: i64 = api_tokens::table
        .filter(api_tokens::user_id.eq(l.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(tokens_left, 0);
    assert_eq!(counted(&mut conn), (0, 0));
    assert!(!is_signed_in(&app, &s.client).await);
    assert!(!is_signed_in(&app, &other_device.client).await);

    // Upcoming cancelled, the mentor told, the deleted learner not.
    let b = booking(&app, upcoming);
    assert_eq!(b.status, "cancelled");
    assert_eq!(b.goals, "");
    assert_eq!(cancellations_to(&app, upcoming, fx.mentor.id), 1);
    let to_learner: i64 = email_outbox::table
        .filter(email_outbox::recipient_user_id.eq(l.id))
        .filter(email_outbox::body_text.is_not_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(
        to_learner, 0,
        "no message to the deleted person keeps a body"
    );
    let to_old_address: i64 = email_outbox::table
        .filter(email_outbox::recipient.eq(&l.email))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(to_old_address, 0);

    // The past stays and still counts, without the goals.
    let kept: Vec<Booking> = bookings::table
        .filter(bookings::learner_id.eq(l.id))
        .select(Booking::as_select())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(kept.len(), 3);
    let p = booking(&app, past);
    assert_eq!(p.status, "confirmed");
    assert_eq!(p.goals, "");
    let audit = audit_of(&app, "account.delete");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, Some(l.id));
    let details = audit[0].2.to_string();
    assert!(!details.contains(&l.email) && !details.contains(&l.display_name));
    // Their own words in the cancel reason are gone from the log too.
    let cancels = audit_of(&app, "booking.cancel");
    let own = cancels
        .iter()
        .find(|(actor, subject, _)| *actor == Some(l.id) && *subject == Some(called_off))
        .expect("the learner's cancel is still logged");
    assert_eq!(own.2["reason"], REASON_ERASED);
    assert!(!format!("{cancels:?}").contains("Miso"));
    assert_eq!(booking(&app, called_off).cancel_reason, None);

    // The mentor's page of those sessions says the goals went with the
    // account, and gives no "their time" of a person who is gone.
    let m = app.sign_in(&fx.mentor).await;
    for id in [past, upcoming] {
        let (status, html) = app.get_as(&m, &format!("/bookings/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Erased with the learner"), "{html}");
        assert!(html.contains(DELETED_NAME));
        assert!(!html.contains("time:"), "{html}");
    }
    let (_, dashboard) = app.get_as(&m, "/mentor").await;
    assert!(dashboard.contains("Erased with the learner"), "{dashboard}");

    // The address can sign up again.
    let fresh = new_client();
    let csrf = app.csrf_for(&fresh, "/register").await;
    let res = app
        .post_form(
            &fresh,
            "/register",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", l.email.as_str()),
                ("display_name", "Back again"),
                ("password", "another good password"),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/register/sent");
    let again: Vec<Uuid> = users::table
        .filter(users::email.ilike(&l.email))
        .select(users::id)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_ne!(again[0], l.id);
}

#[tokio::test]
async fn messages_in_flight_at_deletion_are_erased_and_never_come_back() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = learner(&app);
    app.set_password(l.id, PASSWORD);
    let s = app.sign_in(&l).await;
    let first = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;
    let second = book(&app, &s, fx.mentor.id, "deep-dive", at(2026, 6, 17, 10, 0)).await;
    // A worker holds both confirmations to the learner: the first failed
    // for good with an error that quotes the address, the second is still
    // being sent when the account goes.
    let now = app.clock.now();
    let (token, claimed) = outbox::claim_due(&mut app.conn(), now, 50).unwrap();
    let to_learner = |booking: Uuid| {
        claimed
            .iter()
            .find(|r| r.recipient_user_id == Some(l.id) && r.booking_id == Some(booking))
            .cloned()
            .expect("the learner's confirmation is claimed")
    };
    let (failed, in_flight) = (to_learner(first), to_learner(second));
    let smtp_error = format!("550 5.1.1 <{}>: mailbox unavailable", l.email);
    let state = outbox::mark_failed(&mut app.conn(), &failed, token, now, &smtp_error, true);
    assert_eq!(state.unwrap(), Some(OutboxState::Dead));
    // The mentor's copy of the first confirmation is out (kept: no SMTP
    // here); it names the learner and quotes their goals.
    let to_mentor = claimed
        .iter()
        .find(|r| r.recipient_user_id == Some(fx.mentor.id) && r.booking_id == Some(first))
        .expect("the mentor's confirmation is claimed");
    assert!(to_mentor.subject.contains(&l.display_name));
    let kept = outbox::mark_done(&mut app.conn(), to_mentor.id, token, now, OutboxState::Kept);
    assert!(kept.unwrap());

    let res = post(
        &app,
        &s,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let row = |id: Uuid| outbox::find(&mut app.conn(), id).unwrap().unwrap();
    for (id, error) in [
        (failed.id, outbox::ERROR_ERASED),
        (in_flight.id, outbox::ERASED_WHILE_SENDING),
    ] {
        let r = row(id);
        assert_eq!(r.state, "dead");
        assert_eq!(r.recipient, erased_email(l.id));
        assert!(r.body_text.is_none() && r.body_html.is_none());
        assert_eq!(r.attachments, serde_json::json!([]));
        assert_eq!(r.last_error.as_deref(), Some(error));
        assert!(r.lease_until.is_none() && r.lease_token.is_none());
    }
    for id in [failed.id, in_flight.id] {
        assert_eq!(row(id).subject, outbox::SUBJECT_ERASED);
    }
    // The mentor's copy keeps its envelope only; the cancellation the
    // deletion wrote to the mentor still goes out as written.
    let m = row(to_mentor.id);
    assert_eq!(m.state, "kept");
    assert!(m.recipient.contains(&fx.mentor.email), "{}", m.recipient);
    assert_eq!(m.subject, outbox::SUBJECT_ERASED);
    assert!(m.body_text.is_none() && m.body_html.is_none());
    assert_eq!(m.attachments, serde_json::json!([]));
    assert_eq!(cancellations_to(&app, first, fx.mentor.id), 1);
    // It tells which session is off, not who the leaver was: no name,
    // address or goals of theirs in the subject, the text, the page or the
    // invitation.
    let notice = email_outbox::table
        .filter(email_outbox::booking_id.eq(first))
        .filter(email_outbox::recipient_user_id.eq(fx.mentor.id))
        .filter(email_outbox::state.eq("pending"))
        .select(outbox::OutboxRow::as_select())
        .first(&mut app.conn())
        .unwrap();
    assert!(
        notice.subject.starts_with("Cancelled: "),
        "{}",
        notice.subject
    );
    assert!(notice.subject.contains(DELETED_NAME), "{}", notice.subject);
    let text = notice.body_text.clone().unwrap();
    assert!(
        text.contains("The learner is no longer available."),
        "{text}"
    );
    let invite = notice.attachments.to_string();
    assert!(invite.contains("METHOD:CANCEL"), "{invite}");
    assert!(
        !invite.contains("Goals:"),
        "no empty goals heading: {invite}"
    );
    for part in [
        &notice.subject,
        &text,
        notice.body_html.as_ref().unwrap(),
        &invite,
    ] {
        for personal in [
            l.display_name.as_str(),
            l.email.as_str(),
            "understand joins and indexes",
        ] {
            assert!(!part.contains(personal), "{personal} in {part}");
        }
    }

    // Its worker's turn comes for the message it held: it is not sent.
    let worker = app.worker();
    let round = worker.handle_claimed(token, vec![in_flight.clone()]).await;
    let round = round.unwrap();
    assert_eq!((round.withdrawn, round.handled()), (1, 1), "{round:?}");
    // A worker already handing it over finishes: delivered or not, its
    // lease is gone and the row stays as the deletion left it.
    let later = app.clock.now();
    let done = outbox::mark_done(
        &mut app.conn(),
        in_flight.id,
        token,
        later,
        OutboxState::Sent,
    );
    assert!(!done.unwrap());
    let failed_again = outbox::mark_failed(
        &mut app.conn(),
        &in_flight,
        token,
        later,
        "421 later",
        false,
    );
    assert_eq!(failed_again.unwrap(), None);
    assert_eq!(row(in_flight.id).state, "dead");
    assert!(row(in_flight.id).sent_at.is_none());

    // An admin sees why there is no body, and cannot queue either again.
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    for id in [failed.id, in_flight.id] {
        let page = format!("/admin/emails/{id}");
        let (_, html) = app.get_as(&admin, &page).await;
        assert!(html.contains("erased: its recipient deleted their account"));
        assert!(!html.contains(&format!("action=\"{page}/retry\"")));
        assert!(!html.contains(&l.email));
        let res = post(&app, &admin, &format!("{page}/retry"), &[]).await;
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(res.text().await.unwrap().contains("nothing to send"));
        assert_eq!(row(id).state, "dead");
    }
    let retried: i64 = audit_log::table
        .filter(audit_log::action.eq("email.retry"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(retried, 0);
}

#[tokio::test]
async fn a_deleted_mentor_s_learners_are_told_and_the_schedule_goes() {
    let app = spawn_app().await;
    let fx = fixture(&app);
    app.set_password(fx.mentor.id, PASSWORD);
    let l = learner(&app);
    let s = app.sign_in(&l).await;
    let upcoming = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;
    let m = app.sign_in(&fx.mentor).await;
    let res = post(
        &app,
        &m,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let b = booking(&app, upcoming);
    assert_eq!(b.status, "cancelled");
    assert_eq!(b.cancelled_by, Some(fx.mentor.id));
    assert_eq!(cancellations_to(&app, upcoming, l.id), 1);
    assert_eq!(cancellations_to(&app, upcoming, fx.mentor.id), 0);
    // The email leads to the topic's other mentors, not the gone page.
    let to_learner = cancellation_text(&app, upcoming, l.id);
    assert!(
        to_learner.contains("You are welcome to book another time: ")
            && to_learner.contains("/topics/sql-basics")
            && !to_learner.contains("/mentors/"),
        "{to_learner}"
    );
    // The learner's page names the mentor without a link to a page that
    // is gone, and keeps the learner's goals.
    let (_, html) = app.get_as(&s, &format!("/bookings/{upcoming}")).await;
    assert!(html.contains(DELETED_NAME));
    assert!(!html.contains(&format!("href=\"/mentors/{}\"", fx.mentor.id)));
    assert!(html.contains("understand joins and indexes"));
    let rules: i64 = weekly_rules::table
        .filter(weekly_rules::mentor_id.eq(fx.mentor.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(rules, 0);
    let profiles: i64 = mentor_profiles::table
        .filter(mentor_profiles::user_id.eq(fx.mentor.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(profiles, 0);
    // The learner's own goals stay theirs.
    assert_eq!(b.goals, "I want to understand joins and indexes.");
}

/// `kind → recipient: subject` of every outbox row whose subject, text,
/// HTML or attachments contain one of `needles`.
fn rows_naming(app: &TestApp, needles: &[&str]) -> Vec<String> {
    email_outbox::table
        .select(outbox::OutboxRow::as_select())
        .load(&mut app.conn())
        .unwrap()
        .into_iter()
        .filter(|r| {
            let parts = [
                r.subject.clone(),
                r.body_text.clone().unwrap_or_default(),
                r.body_html.clone().unwrap_or_default(),
                r.attachments.to_string(),
            ];
            needles.iter().any(|n| parts.iter().any(|p| p.contains(n)))
        })
        .map(|r| format!("{} ({}) → {}: {}", r.kind, r.state, r.recipient, r.subject))
        .collect()
}

#[tokio::test]
async fn messages_still_waiting_for_the_other_person_go_with_the_account() {
    // No SMTP server answers: the mentor's confirmation, naming the
    // learner and quoting their goals, is still waiting when the learner
    // deletes their account.
    let app = spawn_app().await;
    let fx = fixture(&app);
    let l = learner(&app);
    app.set_password(l.id, PASSWORD);
    let s = app.sign_in(&l).await;
    let id = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;
    let goals = "understand joins and indexes";
    assert!(!rows_naming(&app, &[&l.display_name, goals]).is_empty());
    // A worker has just claimed both confirmations, and holds them.
    let now = app.clock.now();
    let (token, claimed) = outbox::claim_due(&mut app.conn(), now, 50).unwrap();
    assert_eq!(claimed.len(), 2);

    let res = post(
        &app,
        &s,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let left = rows_naming(&app, &[&l.display_name, &l.email, goals]);
    assert!(left.is_empty(), "{left:#?}");
    // The mentor hears of the cancellation only.
    let to_mentor: Vec<(String, String)> = outbox_of(&app, id)
        .into_iter()
        .filter(|(_, to, ..)| *to == Some(fx.mentor.id))
        .map(|(kind, _, state, ..)| (kind, state))
        .collect();
    assert_eq!(
        to_mentor,
        [("booking_cancelled".to_owned(), "pending".to_owned())]
    );
    // Its turn comes: neither claimed message is sent.
    let round = app.worker().handle_claimed(token, claimed).await.unwrap();
    assert_eq!((round.withdrawn, round.handled()), (2, 2), "{round:?}");
}

#[tokio::test]
async fn a_deleted_mentor_is_erased_from_sessions_reassigned_away_from_them() {
    let app = spawn_app().await;
    let mut fx = fixture(&app);
    app.set_password(fx.mentor.id, PASSWORD);
    // A name no one else here has.
    fx.mentor.display_name = "Fenna Former".into();
    diesel::update(users::table.find(fx.mentor.id))
        .set(users::display_name.eq(&fx.mentor.display_name))
        .execute(&mut app.conn())
        .unwrap();
    let other = mentor(&app, |_| {});
    offer(&app, &other, fx.topic);
    let l = learner(&app);
    let s = app.sign_in(&l).await;
    let id = book(&app, &s, fx.mentor.id, "sql-basics", at(2026, 6, 16, 10, 0)).await;
    let worker = app.worker();
    worker.run_once().await.unwrap();
    app.clock.advance(Duration::minutes(10));
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let res = post(
        &app,
        &admin,
        &format!("/admin/bookings/{id}/reassign"),
        &[("mentor", &other.id.to_string())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(booking(&app, id).mentor_id, other.id);
    // The reassignment's invitations to the learner and the new mentor
    // (with the manage links that now work) are still waiting when the
    // former mentor leaves: they name only the new mentor.
    let invitations = || -> Vec<(Option<Uuid>, String, bool)> {
        email_outbox::table
            .filter(email_outbox::booking_id.eq(id))
            .filter(email_outbox::kind.eq("booking_reassigned"))
            .order(email_outbox::recipient_user_id)
            .select((
                email_outbox::recipient_user_id,
                email_outbox::state,
                email_outbox::body_text.is_not_null(),
            ))
            .load(&mut app.conn())
            .unwrap()
    };
    let waiting = invitations();
    assert_eq!(waiting.len(), 2);
    // The learner's first confirmation, already out, names the mentor
    // who had the session then.
    let naming = rows_naming(&app, &[&fx.mentor.display_name]);
    assert!(
        naming
            .iter()
            .any(|r| r.starts_with("booking_confirmed (kept)") && r.contains(&l.email)),
        "{naming:#?}"
    );

    let m = app.sign_in(&fx.mentor).await;
    let res = post(
        &app,
        &m,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let left = rows_naming(&app, &[&fx.mentor.display_name, &fx.mentor.email]);
    assert!(left.is_empty(), "{left:#?}");
    // The session itself is not theirs any more: it goes on, and its
    // invitations still go out as written.
    assert_eq!(booking(&app, id).status, "confirmed");
    assert_eq!(invitations(), waiting);
    assert!(
        waiting
            .iter()
            .all(|(_, state, body)| state == "pending" && *body)
    );
    // What was erased cannot be queued again.
    let erased: Vec<Uuid> = email_outbox::table
        .filter(email_outbox::recipient_user_id.eq(l.id))
        .filter(email_outbox::subject.eq(outbox::SUBJECT_ERASED))
        .select(email_outbox::id)
        .load(&mut app.conn())
        .unwrap();
    assert!(!erased.is_empty());
    diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(&erased)))
        .set(email_outbox::state.eq("dead"))
        .execute(&mut app.conn())
        .unwrap();
    let page = format!("/admin/emails/{}", erased[0]);
    let (_, html) = app.get_as(&admin, &page).await;
    assert!(html.contains("erased: the other person of the session deleted their account"));
    assert!(!html.contains(&format!("action=\"{page}/retry\"")));
    let res = post(&app, &admin, &format!("{page}/retry"), &[]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_last_admin_cannot_delete_themselves() {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin);
    app.set_password(admin.id, PASSWORD);
    let a = app.sign_in(&admin).await;
    let res = post(
        &app,
        &a,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains("last active admin"), "{html}");
    assert_eq!(user_row(&app, admin.id).0, admin.email);
    assert!(is_signed_in(&app, &a.client).await);

    // With a second admin, the first may go.
    app.create_user(Role::Admin);
    let res = post(
        &app,
        &a,
        "/account/delete",
        &[("delete_password", PASSWORD), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(user_row(&app, admin.id).1, DELETED_NAME);
}
