//! The route × role matrix: every route is requested by an anonymous
//! visitor and by each role, with a valid CSRF token for that visitor;
//! no 2xx may come back where the role is not allowed, and nothing may
//! change.

use diesel::prelude::*;
use officehours::accounts::Role;
use officehours::db::schema::{audit_log, sessions, users};
use uuid::Uuid;

use crate::harness::{TestApp, new_client, spawn_app};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Learner,
    Mentor,
    Admin,
}

/// The least a route needs.
#[derive(Clone, Copy, Debug)]
enum Needs {
    Nobody,
    SignedIn,
    Mentor,
    Admin,
}

fn allowed(who: Who, needs: Needs) -> bool {
    match needs {
        Needs::Nobody => true,
        Needs::SignedIn => who != Who::Anonymous,
        Needs::Mentor => matches!(who, Who::Mentor | Who::Admin),
        Needs::Admin => who == Who::Admin,
    }
}

/// Every route of the app with what it needs. `{user}` stands for another
/// user's id, `{id}` for a random id.
fn routes() -> Vec<(&'static str, &'static str, Needs)> {
    vec![
        ("GET", "/", Needs::Nobody),
        ("GET", "/healthz", Needs::Nobody),
        ("GET", "/readyz", Needs::Nobody),
        ("GET", "/metrics", Needs::Nobody),
        ("GET", "/login", Needs::Nobody),
        ("GET", "/register", Needs::Nobody),
        ("GET", "/register/sent", Needs::Nobody),
        ("GET", "/forgot-password", Needs::Nobody),
        ("GET", "/forgot-password/sent", Needs::Nobody),
        ("POST", "/logout", Needs::SignedIn),
        ("POST", "/verify-email/resend", Needs::SignedIn),
        ("GET", "/account", Needs::SignedIn),
        ("POST", "/account/profile", Needs::SignedIn),
        ("POST", "/account/email", Needs::SignedIn),
        ("POST", "/account/password", Needs::SignedIn),
        ("POST", "/account/sessions/{id}/revoke", Needs::SignedIn),
        ("POST", "/account/tokens", Needs::SignedIn),
        ("POST", "/account/tokens/{id}/revoke", Needs::SignedIn),
        ("POST", "/account/export", Needs::SignedIn),
        ("POST", "/account/delete", Needs::SignedIn),
        (
            "GET",
            "/book?mentor={id}&topic=x&start=2026-07-01T10:00:00Z",
            Needs::SignedIn,
        ),
        ("POST", "/bookings", Needs::SignedIn),
        ("GET", "/bookings/{id}", Needs::SignedIn),
        ("POST", "/bookings/{id}/cancel", Needs::SignedIn),
        ("GET", "/bookings/{id}/reschedule", Needs::SignedIn),
        ("POST", "/bookings/{id}/reschedule", Needs::SignedIn),
        ("GET", "/me/sessions", Needs::SignedIn),
        ("GET", "/mentor", Needs::Mentor),
        ("GET", "/mentor/settings", Needs::Mentor),
        ("POST", "/mentor/settings", Needs::Mentor),
        ("GET", "/mentor/availability", Needs::Mentor),
        ("POST", "/mentor/availability/zone", Needs::Mentor),
        ("POST", "/mentor/availability/weekly", Needs::Mentor),
        (
            "POST",
            "/mentor/availability/weekly/{id}/delete",
            Needs::Mentor,
        ),
        (
            "POST",
            "/mentor/availability/overrides/window",
            Needs::Mentor,
        ),
        (
            "POST",
            "/mentor/availability/overrides/blocked",
            Needs::Mentor,
        ),
        (
            "POST",
            "/mentor/availability/overrides/{id}/delete",
            Needs::Mentor,
        ),
        (
            "POST",
            "/mentor/availability/override-windows/{id}/delete",
            Needs::Mentor,
        ),
        ("POST", "/mentor/availability/time-off", Needs::Mentor),
        (
            "POST",
            "/mentor/availability/time-off/{id}/delete",
            Needs::Mentor,
        ),
        ("POST", "/mentor/sessions/{id}/outcome", Needs::Mentor),
        ("POST", "/mentor/feed", Needs::Mentor),
        ("GET", "/admin", Needs::Admin),
        ("GET", "/admin/topics", Needs::Admin),
        ("POST", "/admin/topics", Needs::Admin),
        ("GET", "/admin/topics/{id}", Needs::Admin),
        ("POST", "/admin/topics/{id}", Needs::Admin),
        ("POST", "/admin/topics/{id}/deactivate", Needs::Admin),
        ("POST", "/admin/topics/{id}/activate", Needs::Admin),
        ("GET", "/admin/policy", Needs::Admin),
        ("POST", "/admin/policy", Needs::Admin),
        ("GET", "/admin/bookings", Needs::Admin),
        ("GET", "/admin/bookings.csv", Needs::Admin),
        ("POST", "/admin/bookings/{id}/cancel", Needs::Admin),
        ("GET", "/admin/bookings/{id}/reassign", Needs::Admin),
        ("POST", "/admin/bookings/{id}/reassign", Needs::Admin),
        ("GET", "/admin/emails", Needs::Admin),
        ("GET", "/admin/emails/{id}", Needs::Admin),
        ("POST", "/admin/emails/{id}/retry", Needs::Admin),
        ("GET", "/admin/audit", Needs::Admin),
        ("GET", "/admin/users", Needs::Admin),
        ("POST", "/admin/users/{user}/role", Needs::Admin),
        ("POST", "/admin/users/{user}/disable", Needs::Admin),
        ("POST", "/admin/users/{user}/enable", Needs::Admin),
    ]
}

type Snapshot = (Vec<(Uuid, String, bool, String)>, [i64; 9]);

/// What a refused request must not change.
fn snapshot(app: &TestApp) -> Snapshot {
    use officehours::db::schema::{
        bookings, calendar_feeds, date_overrides, mentor_profiles, mentor_topics, time_off, topics,
        weekly_rules,
    };
    let mut conn = app.conn();
    let users: Vec<(Uuid, String, bool, String)> = users::table
        .select((
            users::id,
            users::role,
            users::disabled_at.is_not_null(),
            users::time_zone,
        ))
        .order(users::id)
        .load(&mut conn)
        .unwrap();
    let counts = [
        audit_log::table.count().get_result(&mut conn).unwrap(),
        mentor_profiles::table
            .count()
            .get_result(&mut conn)
            .unwrap(),
        mentor_topics::table.count().get_result(&mut conn).unwrap(),
        weekly_rules::table.count().get_result(&mut conn).unwrap(),
        date_overrides::table.count().get_result(&mut conn).unwrap(),
        time_off::table.count().get_result(&mut conn).unwrap(),
        bookings::table.count().get_result(&mut conn).unwrap(),
        topics::table.count().get_result(&mut conn).unwrap(),
        calendar_feeds::table.count().get_result(&mut conn).unwrap(),
    ];
    (users, counts)
}

#[tokio::test]
async fn no_route_answers_2xx_to_a_role_it_does_not_allow() {
    let app = spawn_app().await;
    let target = app.create_user(Role::Learner);
    let target_id = target.id.to_string();
    let mut checked = 0;
    for who in [Who::Anonymous, Who::Learner, Who::Mentor, Who::Admin] {
        let (client, csrf) = match who {
            Who::Anonymous => {
                let c = new_client();
                let csrf = app.csrf_for(&c, "/login").await;
                (c, csrf)
            }
            Who::Learner | Who::Mentor | Who::Admin => {
                let role = match who {
                    Who::Learner => Role::Learner,
                    Who::Mentor => Role::Mentor,
                    _ => Role::Admin,
                };
                let s = app.sign_in(&app.create_user(role)).await;
                (s.client, s.csrf)
            }
        };
        for (method, path, needs) in routes() {
            if allowed(who, needs) {
                continue;
            }
            let path = path
                .replace("{user}", &target.id.to_string())
                .replace("{id}", &Uuid::new_v4().to_string());
            let before = snapshot(&app);
            let sessions_before: i64 = sessions::table.count().get_result(&mut app.conn()).unwrap();
            let res = match method {
                "GET" => client.get(app.url(&path)).send().await.unwrap(),
                _ => {
                    // Plausible fields, so only the role check can stop it.
                    let fields = [
                        ("csrf_token", csrf.as_str()),
                        ("role", "admin"),
                        ("display_name", "Changed"),
                        ("time_zone", "UTC"),
                        ("name", "token"),
                        ("weekday", "1"),
                        ("start", "09:00"),
                        ("end", "10:00"),
                        ("date", "2026-07-01"),
                        ("outcome", "no_show"),
                        ("reason", "Because."),
                        ("slug", "new-topic"),
                        ("title", "New topic"),
                        ("description", "About it."),
                        ("duration_minutes", "30"),
                        ("max_upcoming", "3"),
                        ("mentor", target_id.as_str()),
                    ];
                    app.post_form(&client, &path, &fields).await
                }
            };
            let status = res.status();
            assert!(
                !status.is_success(),
                "{who:?} {method} {path} answered {status}"
            );
            match who {
                Who::Anonymous => assert_eq!(
                    status,
                    reqwest::StatusCode::SEE_OTHER,
                    "{method} {path}: to sign-in"
                ),
                _ => assert_eq!(
                    status,
                    reqwest::StatusCode::FORBIDDEN,
                    "{who:?} {method} {path}"
                ),
            }
            assert_eq!(
                snapshot(&app),
                before,
                "{who:?} {method} {path} changed something"
            );
            let sessions_after: i64 = sessions::table.count().get_result(&mut app.conn()).unwrap();
            assert_eq!(sessions_before, sessions_after, "{who:?} {method} {path}");
            checked += 1;
        }
    }
    // Anonymous: 18 signed-in, 15 mentor and 22 admin routes; learner: the
    // mentor and admin ones; mentor: the admin ones.
    assert_eq!(checked, (18 + 15 + 22) + (15 + 22) + 22);
}

#[tokio::test]
async fn every_route_in_the_matrix_exists() {
    // A route missing from the app would "refuse" everyone with a 404 and
    // make the matrix pass for the wrong reason: the admin gets no 404.
    let app = spawn_app().await;
    let target = app.create_user(Role::Learner);
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    for (method, path, _) in routes() {
        // Pages of one record answer 404 for a made-up id: their
        // existence is shown by their own tests.
        if method != "GET" || path.contains("{id}") {
            continue;
        }
        let path = path.replace("{user}", &target.id.to_string());
        let res = admin.client.get(app.url(&path)).send().await.unwrap();
        let status = res.status();
        // Pages for visitors (sign-in, …) redirect a signed-in user.
        assert!(
            status.is_success() || status.is_redirection(),
            "GET {path} as admin: {status}"
        );
    }
}
