//! `/admin` and `/admin/users`: search, role filter, keyset pages, role
//! changes, disabling and enabling, who may do it — through HTTP against
//! the running app, checking the database and the audit log behind it.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use officehours::accounts::service::{self as accounts, NewAccount};
use officehours::accounts::{Role, User};
use officehours::admin::users::{self as admin_users, ChangeError};
use officehours::db::schema::{audit_log, sessions, users};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::{at, book, booking, fixture};
use crate::harness::{SignedIn, TestApp, new_client, spawn_app};

const PASSWORD: &str = "correct horse battery";
/// A valid PHC string no password matches (as the harness uses).
const NO_PASSWORD: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// What sign-in answers for a wrong password, an unknown email and a
/// disabled account alike.
const SIGN_IN_FAILED: &str =
    "That email and password do not match an account. Check both and try again.";

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn has_session_cookie(res: &reqwest::Response) -> bool {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("oh_session=") && !v.starts_with("oh_session=;"))
}

/// A verified account made directly in the database at `at`.
fn add_user(app: &TestApp, email: &str, name: &str, role: Role, at: DateTime<Utc>) -> User {
    accounts::create(
        &mut app.conn(),
        at,
        &NewAccount {
            email,
            display_name: name,
            role,
            time_zone: chrono_tz::Europe::Berlin,
            password_hash: NO_PASSWORD,
            verified: true,
        },
    )
    .unwrap()
}

fn set_password(app: &TestApp, user: &User, password: &str) {
    app.set_password(user.id, password);
}

fn reload(app: &TestApp, id: Uuid) -> User {
    accounts::find(&mut app.conn(), id).unwrap().unwrap()
}

fn session_count(app: &TestApp, id: Uuid) -> i64 {
    sessions::table
        .filter(sessions::user_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// `(action, actor, subject, details)` of every audit entry about users.
fn audit_rows(app: &TestApp) -> Vec<(String, Option<Uuid>, Option<Uuid>, serde_json::Value)> {
    audit_log::table
        .filter(audit_log::action.like("user.%"))
        .filter(audit_log::action.ne("user.created"))
        .order((audit_log::at, audit_log::id))
        .select((
            audit_log::action,
            audit_log::actor_user_id,
            audit_log::subject_id,
            audit_log::details,
        ))
        .load(&mut app.conn())
        .unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&").replace("&amp;", "&")
}

/// The user ids listed on a page, in order.
fn listed(html: &str) -> Vec<Uuid> {
    html.match_indices("data-user-id=\"")
        .map(|(i, m)| Uuid::parse_str(&html[i + m.len()..i + m.len() + 36]).unwrap())
        .collect()
}

/// The href of the link with `rel="{rel}"`, if the page has one.
fn link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    Some(unescape(&html[start..end]))
}

async fn get_html(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

async fn search(app: &TestApp, admin: &SignedIn, query: &str) -> (Vec<Uuid>, String) {
    let html = get_html(app, &admin.client, &format!("/admin/users?{query}")).await;
    (listed(&html), html)
}

async fn act(
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
    let html = get_html(app, client, "/").await;
    html.contains("Sign out")
}

async fn sign_in_with_password(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let client = new_client();
    let csrf = app.csrf_for(&client, "/login").await;
    app.post_form(
        &client,
        "/login",
        &[
            ("csrf_token", &csrf),
            ("email", email),
            ("password", password),
            ("next", "/"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_admin_landing_page_links_to_users_and_the_nav_links_to_it() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let html = get_html(&app, &admin.client, "/admin").await;
    assert!(html.contains("<h1>Admin</h1>"));
    assert!(html.contains("href=\"/admin/users\""));
    assert!(html.contains("href=\"/admin\""), "the nav's Admin link");
    assert!(!html.contains("style="));
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let target = app.create_user(Role::Learner);
    for path in ["/admin", "/admin/users", "/admin/users?q=ada&role=mentor"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&res);
        let next = to.strip_prefix("/login?next=").expect("to sign-in");
        let next: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("next={next}")).unwrap();
        assert_eq!(next[0].1, path, "and back afterwards");
    }
    // A POST with a valid pre-session token is sent to sign in too, and
    // changes nothing.
    let client = new_client();
    let csrf = app.csrf_for(&client, "/login").await;
    for action in ["role", "disable"] {
        let res = app
            .post_form(
                &client,
                &format!("/admin/users/{}/{action}", target.id),
                &[("csrf_token", &csrf), ("role", "admin")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(location(&res).starts_with("/login?next="));
    }
    let after = reload(&app, target.id);
    assert_eq!(after.role, Role::Learner);
    assert!(after.disabled_at.is_none());
    assert!(audit_rows(&app).is_empty());
}

#[tokio::test]
async fn learners_and_mentors_get_403_on_every_admin_route_and_change_nothing() {
    let app = spawn_app().await;
    let target = app.create_user(Role::Learner);
    let disabled = app.create_user(Role::Learner);
    diesel::update(users::table.find(disabled.id))
        .set(users::disabled_at.eq(Some(app.clock.now())))
        .execute(&mut app.conn())
        .unwrap();
    let target_session = app.sign_in(&target).await;
    for role in [Role::Learner, Role::Mentor] {
        let who = app.sign_in(&app.create_user(role)).await;
        for path in ["/admin", "/admin/users", "/admin/users?q=test&role=admin"] {
            let res = who.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role} GET {path}");
        }
        let posts = [
            (format!("/admin/users/{}/role", target.id), "admin"),
            (format!("/admin/users/{}/role", who.user.id), "admin"),
            (format!("/admin/users/{}/disable", target.id), ""),
            (format!("/admin/users/{}/enable", disabled.id), ""),
        ];
        for (path, new_role) in &posts {
            let res = act(&app, &who, path, &[("role", new_role)]).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role} POST {path}");
        }
        assert_eq!(reload(&app, who.user.id).role, role, "no self-promotion");
        assert!(is_signed_in(&app, &who.client).await, "the token was valid");
    }
    let t = reload(&app, target.id);
    assert_eq!(t.role, Role::Learner);
    assert!(t.disabled_at.is_none());
    assert!(reload(&app, disabled.id).disabled_at.is_some());
    assert!(is_signed_in(&app, &target_session.client).await);
    assert!(audit_rows(&app).is_empty());
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let target = app.create_user(Role::Learner);
    let target_session = app.sign_in(&target).await;
    let disable = format!("/admin/users/{}/disable", target.id);
    let role = format!("/admin/users/{}/role", target.id);
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        (&disable, vec![]),
        (&disable, vec![("csrf_token", "forged")]),
        // Another session's token is no good either.
        (&disable, vec![("csrf_token", &target_session.csrf)]),
        (&role, vec![("role", "admin")]),
    ];
    for (path, fields) in &cases {
        let res = app.post_form(&admin.client, path, fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} {fields:?}");
    }
    // A valid token from another site's page is refused as well.
    let res = admin
        .client
        .post(app.url(&disable))
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", admin.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let t = reload(&app, target.id);
    assert_eq!(t.role, Role::Learner);
    assert!(t.disabled_at.is_none());
    assert!(is_signed_in(&app, &target_session.client).await);
    assert!(audit_rows(&app).is_empty());
}

#[tokio::test]
async fn search_matches_email_or_name_case_insensitively_and_like_characters_literally() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let now = app.clock.now();
    let ada = add_user(
        &app,
        "ada.lovelace@analytical.example",
        "Ada Lovelace",
        Role::Learner,
        now,
    );
    let grace = add_user(
        &app,
        "grace@navy.example",
        "Grace Hopper",
        Role::Mentor,
        now,
    );
    let effort = add_user(
        &app,
        "effort@example.org",
        "100% Effort",
        Role::Learner,
        now,
    );
    let under = add_user(
        &app,
        "under_score@example.org",
        "Under Score",
        Role::Learner,
        now,
    );
    let slash = add_user(&app, "slash@example.org", "Back\\Slash", Role::Learner, now);
    let bold = add_user(&app, "bold@example.org", "<b>Bold</b>", Role::Learner, now);
    add_user(&app, "percy@example.org", "Percy Plain", Role::Learner, now);

    let cases: [(&str, Vec<Uuid>); 8] = [
        ("q=LOVELACE", vec![ada.id]),
        ("q=%20%20lovelace%20", vec![ada.id]),
        ("q=NAVY.Example", vec![grace.id]),
        ("q=hopper", vec![grace.id]),
        // `%` and `_` are wildcards in LIKE; here they match themselves.
        ("q=%25", vec![effort.id]),
        ("q=_", vec![under.id]),
        ("q=%5C", vec![slash.id]),
        ("q=%3Cb%3E", vec![bold.id]),
    ];
    for (query, expected) in cases {
        let (ids, html) = search(&app, &admin, query).await;
        assert_eq!(ids, expected, "{query}");
        assert!(html.contains("1 user matches."), "{query}");
    }

    let (ids, html) = search(&app, &admin, "q=%3Cb%3E").await;
    assert_eq!(ids, vec![bold.id]);
    assert!(
        html.contains("&#60;b&#62;Bold&#60;/b&#62;"),
        "names are escaped"
    );
    assert!(!html.contains("<b>Bold"));
    assert!(
        html.contains("value=\"&#60;b&#62;\""),
        "the search box keeps the text, escaped"
    );

    let (ids, html) = search(&app, &admin, "q=nobody-has-this").await;
    assert!(ids.is_empty());
    assert!(html.contains("0 users match."));
    assert!(html.contains("No users match these filters."));

    // A role that is none is said next to the list, and left out.
    let (bogus, html) = search(&app, &admin, "role=bogus").await;
    let (everyone, _) = search(&app, &admin, "").await;
    assert_eq!(bogus, everyone);
    assert!(html.contains("id=\"role-filter-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));

    // Script in the search text is shown as text; control characters are
    // dropped, and a NUL (which no form sends) is refused, not a 500.
    let (_, html) = search(&app, &admin, "q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&#34;&#62;&#60;script&#62;"));
    // (A word no random hex id in the admin's generated email contains.)
    let (ids, _) = search(&app, &admin, "q=lovelace%01%1B").await;
    assert_eq!(ids, vec![ada.id]);
    let res = admin
        .client
        .get(app.url("/admin/users?q=lovelace%00"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Without a filter, everyone (7 + the admin), newest first.
    let (ids, html) = search(&app, &admin, "").await;
    assert_eq!(ids.len(), 8);
    assert!(html.contains("8 users."));
}

#[tokio::test]
async fn the_role_filter_narrows_the_list_and_combines_with_search() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let now = app.clock.now();
    let m1 = add_user(&app, "mona@example.org", "Mona Mentor", Role::Mentor, now);
    let m2 = add_user(
        &app,
        "max@example.org",
        "Max Mentor",
        Role::Mentor,
        now + Duration::seconds(1),
    );
    let l1 = add_user(
        &app,
        "mona.learner@example.org",
        "Mona Learner",
        Role::Learner,
        now,
    );
    add_user(&app, "leo@example.org", "Leo Learner", Role::Learner, now);

    let (ids, html) = search(&app, &admin, "role=mentor").await;
    assert_eq!(ids, vec![m2.id, m1.id], "newest first");
    assert!(html.contains("2 users match."));
    assert!(html.contains("<option value=\"mentor\" selected>"));
    let (ids, _) = search(&app, &admin, "role=admin").await;
    assert_eq!(ids, vec![admin.user.id]);
    let (ids, _) = search(&app, &admin, "q=mona&role=learner").await;
    assert_eq!(ids, vec![l1.id]);
    // An unknown role filters nothing (and is not echoed back).
    let (ids, html) = search(&app, &admin, "role=boss").await;
    assert_eq!(ids.len(), 5);
    assert!(!html.contains("boss"));
}

#[tokio::test]
async fn pages_of_25_list_every_user_exactly_once_in_both_directions() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let base = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    // 30 accounts made in the same instant (ties broken by id) and 28 at
    // distinct instants, interleaved with accounts the search leaves out.
    let mut made: Vec<User> = Vec::new();
    for i in 0..58 {
        let at = if i < 30 {
            base
        } else {
            base + Duration::minutes(i)
        };
        made.push(add_user(
            &app,
            &format!("pager-{i:02}@example.org"),
            &format!("Pager {i:02}"),
            Role::Learner,
            at,
        ));
        if i % 10 == 0 {
            add_user(
                &app,
                &format!("other-{i}@example.org"),
                "Someone Else",
                Role::Learner,
                at,
            );
        }
    }
    let mut expected: Vec<(DateTime<Utc>, Uuid)> =
        made.iter().map(|u| (u.created_at, u.id)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<Uuid> = expected.into_iter().map(|(_, id)| id).collect();

    // Forward. A sign-up after the first page shifts nothing.
    let mut path = "/admin/users?q=PAGER".to_owned();
    let mut seen: Vec<Uuid> = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let html = get_html(&app, &admin.client, &path).await;
        let ids = listed(&html);
        sizes.push(ids.len());
        seen.extend(&ids);
        if sizes.len() == 1 {
            assert!(html.contains("58 users match."));
            assert!(
                link(&html, "prev").is_none(),
                "the first page has no previous"
            );
            add_user(
                &app,
                "pager-new@example.org",
                "Pager New",
                Role::Learner,
                base + Duration::days(1),
            );
        } else {
            assert!(html.contains("59 users match."), "the count is current");
            assert!(link(&html, "prev").is_some());
        }
        match link(&html, "next") {
            Some(next) => {
                assert!(next.starts_with("/admin/users?q=PAGER&after="), "{next}");
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(sizes, vec![25, 25, 8]);
    assert_eq!(
        seen, expected,
        "every user once, newest first, none skipped"
    );

    // Backward from the last page reaches the new account too.
    let mut back: Vec<Uuid> = Vec::new();
    let mut pages = 0;
    loop {
        let html = get_html(&app, &admin.client, &path).await;
        let mut ids = listed(&html);
        ids.extend(back);
        back = ids;
        pages += 1;
        match link(&html, "prev") {
            Some(prev) => {
                assert!(prev.starts_with("/admin/users?q=PAGER&before="), "{prev}");
                path = prev;
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(back.len(), 59);
    assert_eq!(
        back.iter().collect::<HashSet<_>>().len(),
        59,
        "no duplicates"
    );
    assert_eq!(&back[1..], &expected[..]);

    // A malformed cursor is the first page; one past the end offers a way back.
    let (ids, _) = search(&app, &admin, "q=pager&after=garbage").await;
    assert_eq!(ids.len(), 25);
    let oldest = made.iter().min_by_key(|u| (u.created_at, u.id)).unwrap();
    let html = get_html(
        &app,
        &admin.client,
        &format!(
            "/admin/users?q=pager&after={}_{}",
            oldest.created_at.timestamp_micros(),
            oldest.id
        ),
    )
    .await;
    assert!(listed(&html).is_empty());
    assert!(link(&html, "prev").is_some());
    assert!(link(&html, "next").is_none());
}

#[tokio::test]
async fn created_times_are_shown_in_the_admins_zone_with_the_zone_named() {
    let app = spawn_app().await;
    let admin_user = app.create_user(Role::Admin); // Europe/Berlin, 2026-06-15 09:00 UTC
    let admin = app.sign_in(&admin_user).await;
    let winter = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
    add_user(
        &app,
        "winter@example.org",
        "Winter Person",
        Role::Learner,
        winter,
    );

    let html = get_html(&app, &admin.client, "/admin/users").await;
    assert!(html.contains("Times in Europe/Berlin."));
    assert!(html.contains("Mon 15 Jun 2026, 11:00 CEST"));
    assert!(html.contains("Sat 10 Jan 2026, 13:00 CET"));
    assert!(html.contains("datetime=\"2026-01-10T12:00:00Z\""));

    diesel::update(users::table.find(admin_user.id))
        .set(users::time_zone.eq("America/New_York"))
        .execute(&mut app.conn())
        .unwrap();
    let html = get_html(&app, &admin.client, "/admin/users").await;
    assert!(html.contains("Times in America/New_York."));
    assert!(html.contains("Mon 15 Jun 2026, 05:00 EDT"));
    assert!(html.contains("Sat 10 Jan 2026, 07:00 EST"));
    // Each row still shows that user's own zone.
    assert!(html.contains("<td>Europe/Berlin</td>"));
}

#[tokio::test]
async fn a_role_change_is_audited_with_old_and_new_role_and_returns_to_the_same_list() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let lin = add_user(
        &app,
        "lin@example.org",
        "Lin Learner",
        Role::Learner,
        app.clock.now(),
    );
    let lin_session = app.sign_in(&lin).await;
    assert!(
        !get_html(&app, &lin_session.client, "/")
            .await
            .contains("href=\"/mentor\"")
    );

    let cursor = format!("{}_{}", app.clock.now().timestamp_micros() + 1, Uuid::nil());
    app.clock.advance(Duration::minutes(5));
    let res = act(
        &app,
        &admin,
        &format!(
            "/admin/users/{}/role?q=lin&role=learner&after={cursor}",
            lin.id
        ),
        &[("role", "mentor")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert_eq!(
        back,
        format!(
            "/admin/users?q=lin&role=learner&after={}&notice=role-changed&user={}",
            cursor, lin.id
        )
    );
    let after = reload(&app, lin.id);
    assert_eq!(after.role, Role::Mentor);
    let updated_at: DateTime<Utc> = users::table
        .find(lin.id)
        .select(users::updated_at)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(updated_at, app.clock.now());
    assert_eq!(
        audit_rows(&app),
        vec![(
            "user.role_changed".to_owned(),
            Some(admin.user.id),
            Some(lin.id),
            serde_json::json!({ "old_role": "learner", "new_role": "mentor" }),
        )]
    );
    let html = get_html(&app, &admin.client, &back).await;
    assert!(html.contains("Lin Learner is now a mentor."));
    // Lin's next request already has the new role.
    assert!(
        get_html(&app, &lin_session.client, "/")
            .await
            .contains("href=\"/mentor\"")
    );

    // The same role again writes nothing; another change is audited too.
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/role", lin.id),
        &[("role", "mentor")],
    )
    .await;
    assert_eq!(
        location(&res),
        format!("/admin/users?notice=role-unchanged&user={}", lin.id)
    );
    assert_eq!(audit_rows(&app).len(), 1);
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/role", lin.id),
        &[("role", "admin")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(reload(&app, lin.id).role, Role::Admin);
    assert_eq!(
        audit_rows(&app)[1].3,
        serde_json::json!({ "old_role": "mentor", "new_role": "admin" })
    );

    // An unknown role is refused.
    for bad in ["owner", "", "ADMIN "] {
        let res = act(
            &app,
            &admin,
            &format!("/admin/users/{}/role", lin.id),
            &[("role", bad)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert_eq!(reload(&app, lin.id).role, Role::Admin);
    assert_eq!(audit_rows(&app).len(), 2);
}

#[tokio::test]
async fn the_redirect_carries_only_the_validated_query() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let target = app.create_user(Role::Learner);
    let res = act(
        &app,
        &admin,
        &format!(
            "/admin/users/{}/disable?q=%3Cx%3E%0D%0ASet-Cookie:%20a=b&role=boss&after=junk&notice=evil&next=//evil.example",
            target.id
        ),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!(
            "/admin/users?q=%3Cx%3ESet-Cookie%3A+a%3Db&notice=disabled&user={}",
            target.id
        )
    );
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn disabling_ends_every_session_and_blocks_sign_in_until_enabled() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let target = app.create_user(Role::Learner);
    set_password(&app, &target, PASSWORD);
    let other_admin = app.sign_in(&app.create_user(Role::Admin)).await;

    // Before: a password sign-in works, next to two other sessions.
    let res = sign_in_with_password(&app, &target.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(has_session_cookie(&res));
    let phone = app.sign_in(&target).await;
    let laptop = app.sign_in(&target).await;
    assert!(is_signed_in(&app, &phone.client).await);
    assert_eq!(session_count(&app, target.id), 3);

    // The list's Disable is a second step that says what it does first.
    let html = get_html(&app, &admin.client, "/admin/users?q=learner").await;
    let row = &html[html
        .find(&format!("data-user-id=\"{}\"", target.id))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    let details = row.find("<details class=\"admin-disable\">").expect(row);
    let form = row
        .find(&format!("action=\"/admin/users/{}/disable", target.id))
        .expect(row);
    assert!(details < form, "the form is inside the details: {row}");
    assert!(
        row.contains("cancels every upcoming session they have"),
        "{row}"
    );

    app.clock.advance(Duration::minutes(1));
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/disable?q=learner", target.id),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert_eq!(
        back,
        format!("/admin/users?q=learner&notice=disabled&user={}", target.id)
    );
    assert_eq!(reload(&app, target.id).disabled_at, Some(app.clock.now()));
    assert_eq!(
        session_count(&app, target.id),
        0,
        "all sessions ended at once"
    );
    assert_eq!(
        audit_rows(&app),
        vec![(
            "user.disabled".to_owned(),
            Some(admin.user.id),
            Some(target.id),
            serde_json::json!({ "sessions_ended": 3, "bookings_cancelled": 0 }),
        )]
    );
    let html = get_html(&app, &admin.client, &back).await;
    assert!(html.contains("is disabled and all its sessions have ended."));
    assert!(html.contains(&format!("/admin/users/{}/enable?q=learner", target.id)));
    assert!(!html.contains(&format!("/admin/users/{}/disable", target.id)));

    // The target's browsers are signed out: home shows "Sign in", a
    // protected page sends them to sign in.
    for client in [&phone.client, &laptop.client] {
        assert!(!is_signed_in(&app, client).await);
        let res = client.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(location(&res).starts_with("/login?next="));
    }
    // The right password gets the same answer as a wrong one.
    let disabled = sign_in_with_password(&app, &target.email, PASSWORD).await;
    let disabled_status = disabled.status();
    assert!(!has_session_cookie(&disabled));
    let disabled_body = disabled.text().await.unwrap();
    let wrong = sign_in_with_password(&app, &target.email, "not the password").await;
    assert_eq!(disabled_status, wrong.status());
    assert_eq!(disabled_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(disabled_body.contains(SIGN_IN_FAILED));
    assert!(wrong.text().await.unwrap().contains(SIGN_IN_FAILED));
    assert_eq!(session_count(&app, target.id), 0);

    // Disabling again changes nothing.
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/disable", target.id),
        &[],
    )
    .await;
    assert_eq!(
        location(&res),
        format!("/admin/users?notice=already-disabled&user={}", target.id)
    );
    assert_eq!(audit_rows(&app).len(), 1);

    // Another admin can be disabled too (one stays); their admin pages end.
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/disable", other_admin.user.id),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = other_admin
        .client
        .get(app.url("/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login?next="));

    // Enabled again, the password works again.
    app.clock.advance(Duration::minutes(1));
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/enable", target.id),
        &[],
    )
    .await;
    assert_eq!(
        location(&res),
        format!("/admin/users?notice=enabled&user={}", target.id)
    );
    assert!(reload(&app, target.id).disabled_at.is_none());
    let rows = audit_rows(&app);
    assert_eq!(
        rows.last().unwrap(),
        &(
            "user.enabled".to_owned(),
            Some(admin.user.id),
            Some(target.id),
            serde_json::json!({}),
        )
    );
    let res = sign_in_with_password(&app, &target.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(has_session_cookie(&res));
    let res = act(
        &app,
        &admin,
        &format!("/admin/users/{}/enable", target.id),
        &[],
    )
    .await;
    assert_eq!(
        location(&res),
        format!("/admin/users?notice=already-enabled&user={}", target.id)
    );
    assert_eq!(audit_rows(&app).len(), rows.len());
}

#[tokio::test]
async fn admins_cannot_demote_or_disable_themselves() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let me = admin.user.id;
    let html = get_html(&app, &admin.client, "/admin/users").await;
    assert!(listed(&html).contains(&me));
    assert!(
        !html.contains(&format!("/admin/users/{me}/")),
        "no buttons on one's own row"
    );

    for (action, role) in [
        ("role", "learner"),
        ("role", "mentor"),
        ("disable", ""),
        ("enable", ""),
    ] {
        let res = act(
            &app,
            &admin,
            &format!("/admin/users/{me}/{action}?q=test"),
            &[("role", role)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        let back = location(&res);
        assert_eq!(
            back,
            format!("/admin/users?q=test&notice=own-account&user={me}")
        );
        let html = get_html(&app, &admin.client, &back).await;
        assert!(html.contains(
            "role=\"alert\">You cannot change your own role or disable your own account."
        ));
    }
    let after = reload(&app, me);
    assert_eq!(after.role, Role::Admin);
    assert!(after.disabled_at.is_none());
    assert_eq!(session_count(&app, me), 1);
    assert!(audit_rows(&app).is_empty());
}

#[tokio::test]
async fn a_mentor_with_sessions_still_to_come_is_not_made_a_learner() {
    let app = spawn_app().await;
    let f = fixture(&app);
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let id = book(
        &app,
        &learner,
        f.mentor.id,
        "sql-basics",
        at(2026, 6, 16, 10, 0),
    )
    .await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let role = format!("/admin/users/{}/role", f.mentor.id);

    // Under way counts too: its outcome is still to be marked.
    let before = app.clock.now();
    app.clock.set(at(2026, 6, 16, 10, 10));
    let during = app.sign_in(&admin.user).await;
    let res = act(&app, &during, &role, &[("role", "learner")]).await;
    assert!(
        location(&res).contains("notice=still-mentoring"),
        "{}",
        location(&res)
    );
    app.clock.set(before);

    let res = act(&app, &admin, &role, &[("role", "learner")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.contains("notice=still-mentoring"), "{back}");
    let html = get_html(&app, &admin.client, &back).await;
    assert!(
        html.contains("still has upcoming sessions as mentor, and nothing changed"),
        "{html}"
    );
    let filtered = format!(
        "/admin/bookings?mentor={}&#38;status=confirmed&#38;from=2026-06-15",
        f.mentor.id
    );
    let filtered_amp = filtered.replace("&#38;", "&amp;");
    assert!(
        html.contains(&filtered) || html.contains(&filtered_amp),
        "{html}"
    );
    assert_eq!(reload(&app, f.mentor.id).role, Role::Mentor);
    assert!(audit_rows(&app).is_empty());
    // The link lists exactly that session.
    let list = get_html(&app, &admin.client, &filtered.replace("&#38;", "&")).await;
    assert!(list.contains(&id.to_string()), "{list}");

    // Admins mentor too: that change is fine.
    let res = act(&app, &admin, &role, &[("role", "admin")]).await;
    assert!(location(&res).contains("notice=role-changed"));
    assert_eq!(reload(&app, f.mentor.id).role, Role::Admin);

    // Once the session is off, the mentor may become a learner.
    let res = act(
        &app,
        &admin,
        &format!("/bookings/{id}/cancel"),
        &[("reason", "Moving on")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(booking(&app, id).status, "cancelled");
    let res = act(&app, &admin, &role, &[("role", "learner")]).await;
    assert!(location(&res).contains("notice=role-changed"));
    assert_eq!(reload(&app, f.mentor.id).role, Role::Learner);
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let a = app.sign_in(&app.create_user(Role::Admin)).await;
    let b = app.sign_in(&app.create_user(Role::Admin)).await;
    let a_path = format!("/admin/users/{}/role", b.user.id);
    let b_path = format!("/admin/users/{}/role", a.user.id);
    let (ra, rb) = tokio::join!(
        act(&app, &a, &a_path, &[("role", "learner")]),
        act(&app, &b, &b_path, &[("role", "learner")]),
    );
    let mut statuses = vec![ra.status(), rb.status()];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::SEE_OTHER, StatusCode::FORBIDDEN]);
    let admins: i64 = users::table
        .filter(users::role.eq("admin"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(admins, 1);
    assert_eq!(audit_rows(&app).len(), 1);
}

#[tokio::test]
async fn the_service_rechecks_the_actor_and_keeps_the_last_admin() {
    let app = spawn_app().await;
    let a = app.create_user(Role::Admin);
    let b = app.create_user(Role::Admin);
    let now = app.clock.now();
    let mut conn = app.conn();
    // `a` passed the page's role check, then lost the role to someone else.
    diesel::update(users::table.find(a.id))
        .set(users::role.eq("mentor"))
        .execute(&mut conn)
        .unwrap();
    let ctx = officehours::bookings::service::Ctx {
        now,
        settings: &app.state.settings,
        key: app.state.secret_key.expose(),
    };
    for result in [
        admin_users::change_role(&mut conn, now, a.id, b.id, Role::Learner),
        admin_users::disable(&mut conn, ctx, a.id, b.id),
    ] {
        assert!(matches!(result, Err(ChangeError::NotAdmin)), "{result:?}");
    }
    assert!(matches!(
        admin_users::disable(&mut conn, ctx, b.id, b.id),
        Err(ChangeError::OwnAccount)
    ));
    assert!(matches!(
        admin_users::change_role(&mut conn, now, b.id, Uuid::now_v7(), Role::Mentor),
        Err(ChangeError::NotFound)
    ));
    let b_now = reload(&app, b.id);
    assert_eq!(b_now.role, Role::Admin);
    assert!(b_now.disabled_at.is_none());
    assert!(audit_rows(&app).is_empty());
}

#[tokio::test]
async fn unknown_and_malformed_user_ids_are_404() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let unknown = Uuid::now_v7().to_string();
    for id in [unknown.as_str(), "not-a-uuid", "123", "%00"] {
        for action in ["role", "disable", "enable"] {
            let res = act(
                &app,
                &admin,
                &format!("/admin/users/{id}/{action}"),
                &[("role", "mentor")],
            )
            .await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id} {action}");
            assert!(res.text().await.unwrap().contains("Page not found"));
        }
    }
    assert!(audit_rows(&app).is_empty());
}

/// A deleted account stays as a disabled row for the statistics; the list
/// says so and offers no action, and neither enabling nor a new role
/// brings it back.
#[tokio::test]
async fn a_deleted_account_cannot_be_enabled_or_given_a_role() {
    let app = spawn_app().await;
    let admin = app.sign_in(&app.create_user(Role::Admin)).await;
    let gone = app.create_user(Role::Mentor);
    let ctx = officehours::bookings::service::Ctx {
        now: app.clock.now(),
        settings: &app.state.settings,
        key: app.state.secret_key.expose(),
    };
    officehours::accounts::deletion::delete(&mut app.conn(), ctx, gone.id).unwrap();

    let (_, page) = app.get_as(&admin, "/admin/users?q=Deleted").await;
    assert!(page.contains("Deleted by its owner"), "{page}");
    assert!(!page.contains(&format!("/admin/users/{}/enable", gone.id)));
    assert!(!page.contains(&format!("/admin/users/{}/role", gone.id)));

    for (action, fields) in [("enable", vec![]), ("role", vec![("role", "admin")])] {
        let res = act(
            &app,
            &admin,
            &format!("/admin/users/{}/{action}", gone.id),
            &fields,
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let after = reload(&app, gone.id);
    assert!(after.disabled_at.is_some());
    assert_eq!(after.role, Role::Mentor);
    assert!(audit_rows(&app).is_empty());
}
