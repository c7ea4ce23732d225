//! The email outbox against a real SMTP server on loopback.

use std::collections::HashSet;

use chrono::Duration;
use diesel::prelude::*;
use lettre::message::Mailbox;
use mail_parser::MimeHeaders;
use officehours::db::schema::email_outbox;
use officehours::email::outbox::{self, NewEmail, OutboxError, OutboxRow};
use officehours::email::render::Welcome;
use officehours::email::{EmailContent, enqueue};
use uuid::Uuid;

use crate::harness::{TestApp, spawn_app, spawn_app_with_mail};

fn welcome(app: &TestApp, to: &str) -> NewEmail {
    Welcome {
        display_name: "Ada Lovelace".into(),
        role: "learner".into(),
        sign_in_url: format!("{}/login", app.address),
        home_url: format!("{}/", app.address),
    }
    .to_email(
        Mailbox::new(Some("Ada Lovelace".into()), to.parse().unwrap()),
        None,
    )
    .unwrap()
}

fn put(app: &TestApp, email: &NewEmail) -> Uuid {
    let mut conn = app.conn();
    conn.transaction(|c| enqueue(c, app.clock.now(), &app.state.settings.smtp_from, email))
        .unwrap()
}

fn row(app: &TestApp, id: Uuid) -> OutboxRow {
    outbox::find(&mut app.conn(), id)
        .unwrap()
        .expect("row exists")
}

fn count_rows(app: &TestApp) -> i64 {
    email_outbox::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_message_is_delivered_once_with_headers_and_both_parts() {
    let app = spawn_app_with_mail().await;
    let id = put(&app, &welcome(&app, "ada@example.org"));
    let worker = app.worker();

    let round = worker.run_once().await.unwrap();
    assert_eq!(round.sent, 1);
    // Nothing is left to send: a second round delivers nothing again.
    assert_eq!(worker.run_once().await.unwrap().handled(), 0);

    let got = app.mail().wait_for(1).await;
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert_eq!(got[0].to, vec!["ada@example.org".to_owned()]);
    assert_eq!(got[0].from, "hours@officehours.test");

    let stored = row(&app, id);
    assert_eq!(stored.state, "sent");
    assert_eq!(stored.sent_at, Some(app.clock.now()));
    assert_eq!(stored.attempts, 1);

    let msg = got[0].parsed();
    assert_eq!(
        msg.subject(),
        Some("Your Office Hours account is ready, Ada Lovelace")
    );
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("hours@officehours.test"));
    assert_eq!(from.name(), Some("Office Hours"));
    let to = msg.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("ada@example.org"));
    assert_eq!(to.name(), Some("Ada Lovelace"));
    assert_eq!(
        format!("<{}>", msg.message_id().unwrap()),
        stored.message_id,
        "the Message-ID is the one stored with the row"
    );
    assert!(stored.message_id.ends_with("@officehours.test>"));
    let date = msg.date().unwrap();
    assert_eq!(
        date.to_timestamp(),
        app.clock.now().timestamp(),
        "Date comes from the app clock"
    );
    // multipart/alternative with a text and an HTML part.
    assert!(
        msg.content_type()
            .unwrap()
            .subtype()
            .unwrap()
            .eq_ignore_ascii_case("alternative")
    );
    let text = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    assert!(
        text.contains(&format!("Sign in: {}/login", app.address)),
        "{text}"
    );
    assert!(
        html.contains(&format!("href=\"{}/login\"", app.address)),
        "{html}"
    );
    assert!(
        !html.contains("Sign in: "),
        "the HTML part is its own rendering"
    );
}

#[tokio::test]
async fn a_refused_message_is_retried_with_backoff_and_delivered_later() {
    let app = spawn_app_with_mail().await;
    let id = put(&app, &welcome(&app, "ada@example.org"));
    let worker = app.worker();

    app.mail().set_refusing(true);
    let round = worker.run_once().await.unwrap();
    assert_eq!(round.retried, 1);
    let failed = row(&app, id);
    assert_eq!(failed.state, "pending");
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.last_error.as_deref().unwrap().contains("451"),
        "{:?}",
        failed.last_error
    );
    let wait = failed.next_attempt_at - app.clock.now();
    assert!(
        wait >= Duration::seconds(15) && wait <= Duration::seconds(30),
        "{wait}"
    );

    // Not due yet: nothing is tried, even though the server accepts again.
    app.mail().set_refusing(false);
    assert_eq!(worker.run_once().await.unwrap().handled(), 0);
    assert!(app.mail().messages().is_empty());

    app.clock.advance(Duration::seconds(31));
    assert_eq!(worker.run_once().await.unwrap().sent, 1);
    let got = app.mail().wait_for(1).await;
    assert_eq!(got.len(), 1, "nothing lost, nothing doubled");
    let sent = row(&app, id);
    assert_eq!(sent.state, "sent");
    assert_eq!(sent.attempts, 2);
    assert_eq!(
        format!("<{}>", got[0].parsed().message_id().unwrap()),
        sent.message_id
    );
}

#[tokio::test]
async fn a_message_failing_for_a_day_becomes_dead() {
    let app = spawn_app_with_mail().await;
    let id = put(&app, &welcome(&app, "ada@example.org"));
    let worker = app.worker();
    app.mail().set_refusing(true);

    let mut attempts = 0;
    loop {
        let round = worker.run_once().await.unwrap();
        attempts += round.handled();
        let r = row(&app, id);
        if r.state == "dead" {
            break;
        }
        assert_eq!(r.state, "pending");
        assert!(attempts < 60, "still not dead after {attempts} attempts");
        // Jump to the next attempt.
        app.clock.set(r.next_attempt_at);
    }
    let dead = row(&app, id);
    assert!(app.clock.now() - dead.not_before <= Duration::hours(25));
    assert!(app.clock.now() - dead.not_before >= Duration::hours(23));
    // Backoff is capped at an hour, so a day holds at least ~24 tries.
    assert!(dead.attempts >= 24, "{}", dead.attempts);
    assert!(app.mail().messages().is_empty());
    // A dead message is not picked up again.
    app.mail().set_refusing(false);
    app.clock.advance(Duration::days(2));
    assert_eq!(worker.run_once().await.unwrap().handled(), 0);
}

#[tokio::test]
async fn two_workers_never_send_the_same_row() {
    let app = spawn_app_with_mail().await;
    let total = 60;
    for i in 0..total {
        put(&app, &welcome(&app, &format!("learner{i}@example.org")));
    }
    let (a, b) = (app.worker(), app.worker());
    let drain = |w: officehours::email::worker::Worker| async move {
        let mut sent = 0;
        loop {
            let round = w.run_once().await.unwrap();
            if round.handled() == 0 {
                return sent;
            }
            sent += round.sent;
        }
    };
    let (sent_a, sent_b) = tokio::join!(drain(a), drain(b));
    assert_eq!(sent_a + sent_b, total);
    let got = app.mail().wait_for(total).await;
    assert_eq!(got.len(), total);
    let ids: HashSet<String> = got
        .iter()
        .map(|m| m.parsed().message_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), total, "every message delivered exactly once");
    let sent: i64 = email_outbox::table
        .filter(email_outbox::state.eq("sent"))
        .filter(email_outbox::attempts.eq(1))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(sent, total as i64);
}

#[tokio::test]
async fn concurrent_claims_are_disjoint() {
    let app = spawn_app().await;
    for i in 0..10 {
        put(&app, &welcome(&app, &format!("l{i}@example.org")));
    }
    // Two open transactions claim at the same time, as two processes would.
    let mut c1 = app.conn();
    let mut c2 = app.conn();
    let now = app.clock.now();
    c1.transaction::<_, diesel::result::Error, _>(|c1| {
        let (_, first) = outbox::claim_due(c1, now, 6)?;
        let (_, second) = c2.transaction(|c2| outbox::claim_due(c2, now, 6))?;
        assert_eq!(first.len(), 6);
        assert_eq!(second.len(), 4, "locked rows are skipped, not waited for");
        let a: HashSet<Uuid> = first.iter().map(|r| r.id).collect();
        assert!(second.iter().all(|r| !a.contains(&r.id)));
        Ok(())
    })
    .unwrap();
}

#[tokio::test]
async fn a_row_left_sending_by_a_crashed_worker_is_sent_after_its_lease() {
    let app = spawn_app_with_mail().await;
    let id = put(&app, &welcome(&app, "ada@example.org"));
    // A worker claims the row and dies before sending.
    let (_lost_token, claimed) = outbox::claim_due(&mut app.conn(), app.clock.now(), 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(row(&app, id).state, "sending");

    let worker = app.worker();
    assert_eq!(
        worker.run_once().await.unwrap().handled(),
        0,
        "the lease still holds"
    );
    app.clock.advance(outbox::LEASE - Duration::seconds(1));
    assert_eq!(worker.run_once().await.unwrap().handled(), 0);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(worker.run_once().await.unwrap().sent, 1);
    assert_eq!(app.mail().wait_for(1).await.len(), 1);
    let r = row(&app, id);
    assert_eq!(r.state, "sent");
    assert_eq!(r.attempts, 2);
    assert!(r.lease_until.is_none());
}

/// A slow worker whose batch outlives the lease does not send a row whose
/// lease ran out: the worker that takes it over sends it, once.
#[tokio::test]
async fn a_row_whose_lease_ran_out_in_a_slow_batch_is_sent_once() {
    let app = spawn_app_with_mail().await;
    let id = put(&app, &welcome(&app, "ada@example.org"));
    let (slow_token, claimed) = outbox::claim_due(&mut app.conn(), app.clock.now(), 10).unwrap();
    assert_eq!(claimed.len(), 1);
    app.clock.advance(outbox::LEASE);
    let worker = app.worker();
    let round = worker.handle_claimed(slow_token, claimed).await.unwrap();
    assert_eq!((round.withdrawn, round.sent), (1, 0), "{round:?}");
    assert_eq!(row(&app, id).state, "sending");

    assert_eq!(worker.run_once().await.unwrap().sent, 1);
    assert_eq!(app.mail().wait_for(1).await.len(), 1);
    assert_eq!(row(&app, id).state, "sent");
    assert_eq!(app.mail().messages().len(), 1);
}

#[tokio::test]
async fn header_values_with_line_breaks_are_refused_before_anything_is_written() {
    let app = spawn_app().await;
    let mut email = welcome(&app, "ada@example.org");
    email.subject = "Hello\r\nBcc: everyone@example.org".into();
    let mut conn = app.conn();
    let err = conn
        .transaction(|c| enqueue(c, app.clock.now(), &app.state.settings.smtp_from, &email))
        .unwrap_err();
    assert!(
        matches!(err, OutboxError::HeaderInjection { field: "subject" }),
        "{err}"
    );

    let mut email = welcome(&app, "ada@example.org");
    email.to = Mailbox::new(
        Some("Ada\nBcc: x@example.org".into()),
        "ada@example.org".parse().unwrap(),
    );
    let err = conn
        .transaction(|c| enqueue(c, app.clock.now(), &app.state.settings.smtp_from, &email))
        .unwrap_err();
    assert!(matches!(err, OutboxError::HeaderInjection { .. }), "{err}");

    let mut email = welcome(&app, "ada@example.org");
    email.subject = "nul\0byte".into();
    assert!(
        conn.transaction(|c| enqueue(c, app.clock.now(), &app.state.settings.smtp_from, &email))
            .is_err()
    );
    assert_eq!(count_rows(&app), 0);
}

#[tokio::test]
async fn a_message_with_a_secret_link_loses_its_body_once_sent() {
    let app = spawn_app_with_mail().await;
    let mut secret = welcome(&app, "ada@example.org");
    secret.carries_secret = true;
    secret.text = format!("Reset: {}/reset-password?token=s3cret", app.address);
    let secret_id = put(&app, &secret);
    let plain_id = put(&app, &welcome(&app, "bob@example.org"));

    assert_eq!(app.worker().run_once().await.unwrap().sent, 2);
    let got = app.mail().wait_for(2).await;
    assert!(
        got.iter()
            .any(|m| String::from_utf8_lossy(&m.raw).contains("token=s3cret"))
    );

    let s = row(&app, secret_id);
    assert_eq!(s.state, "sent");
    assert_eq!(s.body_text, None);
    assert_eq!(s.body_html, None);
    let p = row(&app, plain_id);
    assert!(
        p.body_text.is_some(),
        "only secret-carrying bodies are cleared"
    );
}

#[tokio::test]
async fn without_smtp_messages_are_kept_readable_and_not_before_is_honoured() {
    let app = spawn_app().await;
    let now_id = put(&app, &welcome(&app, "ada@example.org"));
    let mut later = welcome(&app, "bob@example.org");
    later.not_before = Some(app.clock.now() + Duration::hours(24));
    later.carries_secret = true;
    let later_id = put(&app, &later);

    let worker = app.worker();
    assert_eq!(worker.run_once().await.unwrap().kept, 1);
    let kept = row(&app, now_id);
    assert_eq!(kept.state, "kept");
    assert!(kept.body_text.is_some(), "kept messages stay readable");
    assert_eq!(row(&app, later_id).state, "pending", "not before its time");

    app.clock.advance(Duration::hours(24));
    assert_eq!(worker.run_once().await.unwrap().kept, 1);
    let kept_later = row(&app, later_id);
    assert_eq!(kept_later.state, "kept");
    assert!(
        kept_later.body_text.is_some(),
        "a kept secret stays readable for the developer"
    );
}

#[tokio::test]
async fn the_background_worker_of_serve_delivers_by_itself() {
    let mail = crate::mail::MailSink::start();
    let mut app = crate::harness::spawn_app_with(crate::harness::AppOptions {
        worker: true,
        smtp: Some(mail.url()),
        ..Default::default()
    })
    .await;
    app.mail = Some(mail);
    let id = put(&app, &welcome(&app, "ada@example.org"));
    assert_eq!(app.mail().wait_for(1).await.len(), 1);
    // The row is marked right after the SMTP conversation ends.
    for _ in 0..100 {
        if row(&app, id).state == "sent" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("row not marked sent");
}
