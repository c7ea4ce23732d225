//! `/admin/bookings` (+ `.csv`) and `POST /admin/bookings/{id}/cancel`:
//! every filter against known rows, sorting, keyset pages under concurrent
//! inserts, the CSV against the listing (quoting, formula neutralising),
//! admin cancellation with a required reason, and who may do any of it —
//! through HTTP against the running app, checking the database behind it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamptz, Uuid as SqlUuid};
use officehours::accounts::service::{self as accounts, NewAccount};
use officehours::accounts::{Role, User};
use officehours::db::schema::{audit_log, bookings, email_outbox, users};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::booking_fixture::{add_topic, at, set_zone};
use crate::harness::{SignedIn, TestApp, location, spawn_app};

const NO_PASSWORD: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn add_user(app: &TestApp, email: &str, name: &str, role: Role) -> User {
    accounts::create(
        &mut app.conn(),
        app.clock.now(),
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

/// A booking written directly: `minutes` long, no buffers; a cancelled one
/// gets a cancel instant and reason.
#[expect(
    clippy::too_many_arguments,
    reason = "one column per argument reads best in the tests"
)]
fn insert(
    app: &TestApp,
    learner: Uuid,
    mentor: Uuid,
    topic: Uuid,
    start: DateTime<Utc>,
    minutes: i64,
    status: &str,
    goals: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, occupied,
                               status, goals, cancelled_at, cancelled_by, cancelled_as,
                               cancel_reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, tstzrange($5, $6, '[)'), $7, $8,
                 CASE WHEN $7 = 'cancelled' THEN $5 END,
                 CASE WHEN $7 = 'cancelled' THEN $2 END,
                 CASE WHEN $7 = 'cancelled' THEN 'learner' END,
                 CASE WHEN $7 = 'cancelled' THEN 'changed plans' END, $5, $5)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(learner)
    .bind::<SqlUuid, _>(mentor)
    .bind::<SqlUuid, _>(topic)
    .bind::<Timestamptz, _>(start)
    .bind::<Timestamptz, _>(start + Duration::minutes(minutes))
    .bind::<Text, _>(status)
    .bind::<Text, _>(goals)
    .execute(&mut app.conn())
    .unwrap();
    id
}

/// `n` completed 30-minute bookings an hour apart from `first`.
fn insert_many(
    app: &TestApp,
    learner: Uuid,
    mentor: Uuid,
    topic: Uuid,
    first: DateTime<Utc>,
    n: i32,
) {
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, occupied,
                               status, goals, created_at, updated_at)
         SELECT gen_random_uuid(), $1, $2, $3, s, s + interval '30 minutes',
                tstzrange(s, s + interval '30 minutes', '[)'), 'completed', 'Goals ' || g, s, s
         FROM generate_series(0, $5 - 1) g, LATERAL (SELECT $4 + g * interval '1 hour' AS s) x",
    )
    .bind::<SqlUuid, _>(learner)
    .bind::<SqlUuid, _>(mentor)
    .bind::<SqlUuid, _>(topic)
    .bind::<Timestamptz, _>(first)
    .bind::<Integer, _>(n)
    .execute(&mut app.conn())
    .unwrap();
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#43;", "+")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The booking ids listed on a page, in order.
fn listed(html: &str) -> Vec<Uuid> {
    html.match_indices("data-booking-id=\"")
        .map(|(i, m)| Uuid::parse_str(&html[i + m.len()..i + m.len() + 36]).unwrap())
        .collect()
}

/// The total the page states (`N bookings match.` / `N bookings.`).
fn total(html: &str) -> i64 {
    let marker = "id=\"booking-count\">";
    let start = html.find(marker).unwrap() + marker.len();
    let end = html[start..].find(' ').unwrap() + start;
    html[start..end].parse().unwrap()
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

async fn ids(app: &TestApp, who: &SignedIn, query: &str) -> Vec<Uuid> {
    listed(&get_html(app, who, &format!("/admin/bookings?{query}")).await)
}

/// Every row of the listing for `query`, following next links.
async fn all_pages(app: &TestApp, who: &SignedIn, query: &str) -> Vec<Uuid> {
    let mut path = format!("/admin/bookings?{query}");
    let mut out = Vec::new();
    loop {
        let html = get_html(app, who, &path).await;
        let rows = listed(&html);
        assert!(rows.len() <= 50);
        out.extend(rows);
        match link(&html, "next") {
            Some(next) => path = next,
            None => return out,
        }
    }
}

/// A minimal RFC 4180 reader: records of fields; checks CRLF line ends.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("a bare LF ends a record"),
            _ => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record lacks its CRLF"
    );
    records
}

async fn csv(
    app: &TestApp,
    who: &SignedIn,
    query: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let res = who
        .client
        .get(app.url(&format!("/admin/bookings.csv?{query}")))
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

struct World {
    app: TestApp,
    admin: SignedIn,
    ada: User,
    bob: User,
    lin: User,
    kim: User,
    sql: Uuid,
    js: Uuid,
}

/// Two mentors (Ada Lovelace, Bob Stone), two learners (Lin Wu, Kim
/// Park), two topics (`sql-basics`, `js-intro`), an admin in New York.
async fn world() -> World {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin);
    let admin = set_zone(&app, &admin, "America/New_York");
    let admin = app.sign_in(&admin).await;
    let ada = add_user(&app, "ada@mentors.test", "Ada Lovelace", Role::Mentor);
    let bob = add_user(&app, "bob.stone@mentors.test", "Bob Stone", Role::Mentor);
    let lin = add_user(&app, "LIN.wu@learners.test", "Lin Wu", Role::Learner);
    let kim = add_user(&app, "kim@learners.test", "Kim Park", Role::Learner);
    let sql = add_topic(&app, "sql-basics", 30);
    let js = add_topic(&app, "js-intro", 60);
    World {
        app,
        admin,
        ada,
        bob,
        lin,
        kim,
        sql,
        js,
    }
}

fn set(v: &[Uuid]) -> HashSet<Uuid> {
    v.iter().copied().collect()
}

#[tokio::test]
async fn every_filter_narrows_to_the_known_rows_and_bad_values_are_field_errors() {
    let w = world().await;
    let app = &w.app;
    // 2026-06-30 23:30 in New York (the admin's zone) is 2026-07-01 03:30Z.
    let late_june_30 = insert(
        app,
        w.lin.id,
        w.ada.id,
        w.sql,
        at(2026, 7, 1, 3, 30),
        30,
        "completed",
        "g",
    );
    let july_1 = insert(
        app,
        w.kim.id,
        w.ada.id,
        w.js,
        at(2026, 7, 1, 14, 0),
        60,
        "confirmed",
        "g",
    );
    let july_2 = insert(
        app,
        w.lin.id,
        w.bob.id,
        w.js,
        at(2026, 7, 2, 14, 0),
        60,
        "cancelled",
        "g",
    );
    let july_3 = insert(
        app,
        w.kim.id,
        w.bob.id,
        w.sql,
        at(2026, 7, 3, 14, 0),
        30,
        "no_show",
        "g",
    );
    let june_1 = insert(
        app,
        w.lin.id,
        w.ada.id,
        w.sql,
        at(2026, 6, 1, 14, 0),
        30,
        "completed",
        "g",
    );
    let all = [late_june_30, july_1, july_2, july_3, june_1];

    let admin = &w.admin;
    let html = get_html(app, admin, "/admin/bookings").await;
    assert_eq!(set(&listed(&html)), set(&all));
    assert_eq!(total(&html), 5);

    let cases: Vec<(String, Vec<Uuid>)> = vec![
        ("from=2026-07-01".into(), vec![july_1, july_2, july_3]),
        ("to=2026-06-30".into(), vec![late_june_30, june_1]),
        (
            "from=2026-06-30&to=2026-07-01".into(),
            vec![late_june_30, july_1],
        ),
        (format!("mentor={}", w.bob.id), vec![july_2, july_3]),
        (
            "mentor_q=LOVELACE".into(),
            vec![late_june_30, july_1, june_1],
        ),
        ("mentor_q=bob.stone%40".into(), vec![july_2, july_3]),
        (
            "learner=lin.WU%40".into(),
            vec![late_june_30, july_2, june_1],
        ),
        ("learner=park".into(), vec![july_1, july_3]),
        ("learner=%25".into(), vec![]),
        ("topic=js-intro".into(), vec![july_1, july_2]),
        ("status=confirmed".into(), vec![july_1]),
        ("status=cancelled".into(), vec![july_2]),
        ("status=completed".into(), vec![late_june_30, june_1]),
        ("status=no_show".into(), vec![july_3]),
        (
            format!(
                "mentor={}&learner=kim&topic=sql-basics&from=2026-07-01",
                w.bob.id
            ),
            vec![july_3],
        ),
    ];
    for (query, want) in &cases {
        let html = get_html(app, admin, &format!("/admin/bookings?{query}")).await;
        assert_eq!(set(&listed(&html)), set(want), "{query}");
        assert_eq!(total(&html), want.len() as i64, "{query}");
        assert!(!html.contains("left out of the filter"), "{query}");
    }

    // Malformed values: 200, a message at the field, the rest still applies.
    for (query, field) in [
        ("from=2026-02-30&status=no_show", "from-error"),
        ("from=yesterday&status=no_show", "from-error"),
        ("to=2026-07-01&from=2026-07-02&status=no_show", "to-error"),
        ("mentor=not-a-uuid&status=no_show", "mentor-error"),
        ("topic=no-such-topic&status=no_show", "topic-error"),
        ("status=lost&learner=kim%20park", "status-error"),
        ("from=%2B275760-09-13&status=no_show", "from-error"),
    ] {
        let html = get_html(app, admin, &format!("/admin/bookings?{query}")).await;
        assert!(html.contains(&format!("id=\"{field}\"")), "{query}");
        assert!(html.contains("aria-invalid=\"true\""), "{query}");
        // The count says the list is not what the marked field asked.
        assert!(
            html.contains("The fields marked above are left out of the filter."),
            "{query}"
        );
        let want = if query.contains("kim") {
            vec![july_1, july_3]
        } else {
            vec![july_3]
        };
        assert_eq!(set(&listed(&html)), set(&want), "{query}");
    }
    // Junk that is simply ignored.
    for query in [
        "sort=sideways",
        "after=junk",
        "before=1_x",
        "status=confirmed&status=cancelled&x=%FF",
        "learner=%01%1B",
    ] {
        let html = get_html(app, admin, &format!("/admin/bookings?{query}")).await;
        let n = listed(&html).len();
        assert!(n == 5 || (query.starts_with("status") && n == 1), "{query}");
    }
    // A NUL, which no form sends, is refused rather than ignored.
    let res = admin
        .client
        .get(app.url("/admin/bookings?learner=%00%01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_mentor_list_holds_who_mentors_or_has_mentored() {
    let w = world().await;
    let app = &w.app;
    let id = insert(
        app,
        w.lin.id,
        w.bob.id,
        w.sql,
        at(2026, 6, 10, 14, 0),
        30,
        "completed",
        "g",
    );
    // Bob has since become a learner; his past session keeps him listed.
    diesel::update(users::table.find(w.bob.id))
        .set(users::role.eq("learner"))
        .execute(&mut app.conn())
        .unwrap();
    let html = get_html(app, &w.admin, "/admin/bookings").await;
    let select = &html[html.find("id=\"mentor\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    for listed in [w.ada.id, w.bob.id] {
        assert!(select.contains(&format!("value=\"{listed}\"")), "{select}");
    }
    // Neither the admin (no profile, no sessions as mentor) nor learners.
    for not in [w.admin.user.id, w.lin.id, w.kim.id] {
        assert!(!select.contains(&format!("value=\"{not}\"")), "{select}");
    }
    assert_eq!(
        ids(app, &w.admin, &format!("mentor={}", w.bob.id)).await,
        [id]
    );
}

#[tokio::test]
async fn sorted_by_start_both_ways_with_the_id_breaking_ties() {
    let w = world().await;
    let app = &w.app;
    let a = insert(
        app,
        w.lin.id,
        w.ada.id,
        w.sql,
        at(2026, 7, 1, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let b = insert(
        app,
        w.kim.id,
        w.bob.id,
        w.sql,
        at(2026, 7, 1, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let c = insert(
        app,
        w.lin.id,
        w.bob.id,
        w.sql,
        at(2026, 7, 2, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let d = insert(
        app,
        w.kim.id,
        w.ada.id,
        w.sql,
        at(2026, 6, 20, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    assert_eq!(ids(app, &w.admin, "sort=asc").await, vec![d, lo, hi, c]);
    assert_eq!(ids(app, &w.admin, "sort=desc").await, vec![c, hi, lo, d]);
    // The default is the latest start first.
    assert_eq!(ids(app, &w.admin, "").await, vec![c, hi, lo, d]);
}

#[tokio::test]
async fn pages_list_every_row_once_while_rows_are_inserted_between_requests() {
    let w = world().await;
    let app = &w.app;
    // Three mentors and learners: three sessions share each start, so page
    // boundaries fall between rows with equal starts.
    let mentors = [w.ada.id, w.bob.id, app.create_user(Role::Mentor).id];
    let learners = [w.lin.id, w.kim.id, app.create_user(Role::Learner).id];
    let (extra_mentor, extra_learner) = (
        app.create_user(Role::Mentor).id,
        app.create_user(Role::Learner).id,
    );
    let base = at(2026, 7, 1, 0, 0);
    let mut original = Vec::new();
    for i in 0..130_i64 {
        let k = (i % 3) as usize;
        original.push(insert(
            app,
            learners[k],
            mentors[k],
            w.sql,
            base + Duration::hours(i / 3),
            30,
            "confirmed",
            "g",
        ));
    }
    let mut inserted = 0_i64;
    let mut add = |hours: i64| {
        inserted += 1;
        // Half past: never overlapping the originals or each other.
        insert(
            app,
            extra_learner,
            extra_mentor,
            w.sql,
            base + Duration::hours(hours) + Duration::minutes(30 + inserted),
            1,
            "confirmed",
            "g",
        )
    };

    for sort in ["asc", "desc"] {
        let mut path = format!("/admin/bookings?status=confirmed&sort={sort}");
        let mut seen = Vec::new();
        let mut pages = 0;
        let mut queries = Vec::new();
        loop {
            let before = app.state.queries.get();
            let html = get_html(app, &w.admin, &path).await;
            queries.push(app.state.queries.get() - before);
            pages += 1;
            let rows = listed(&html);
            assert!(rows.len() <= 50);
            seen.extend(rows);
            // Rows appear before and after where the reader is.
            add(-5 - pages);
            add(10 + pages);
            add(200 + pages);
            match link(&html, "next") {
                Some(next) => path = next,
                None => break,
            }
            assert!(pages < 20, "runaway paging");
        }
        let mut counts: HashMap<Uuid, usize> = HashMap::new();
        for id in &seen {
            *counts.entry(*id).or_default() += 1;
        }
        assert!(
            counts.values().all(|&n| n == 1),
            "{sort}: a row listed twice"
        );
        for id in &original {
            assert_eq!(counts.get(id), Some(&1), "{sort}: {id} missing");
        }
        // A bounded number of queries per page, whatever its rows.
        assert!(queries.iter().all(|&q| q <= 12), "{sort}: {queries:?}");
    }

    // Previous links walk back to the first page without gaps.
    let mut path = "/admin/bookings?sort=asc".to_owned();
    let mut forward = Vec::new();
    loop {
        let html = get_html(app, &w.admin, &path).await;
        forward.push(listed(&html));
        match link(&html, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    let mut backward = Vec::new();
    loop {
        let html = get_html(app, &w.admin, &path).await;
        backward.push(listed(&html));
        match link(&html, "prev") {
            Some(prev) => {
                assert!(prev.contains("sort=asc"), "{prev}");
                path = prev;
            }
            None => break,
        }
    }
    backward.reverse();
    let flat = |v: &Vec<Vec<Uuid>>| v.iter().flatten().copied().collect::<Vec<_>>();
    assert_eq!(flat(&forward), flat(&backward));
}

#[tokio::test]
async fn the_csv_holds_the_same_rows_as_the_listing_in_the_same_order() {
    let w = world().await;
    let app = &w.app;
    insert_many(app, w.lin.id, w.ada.id, w.sql, at(2026, 1, 1, 0, 0), 1050);
    insert_many(app, w.kim.id, w.bob.id, w.js, at(2026, 1, 1, 0, 0), 40);
    let query = format!("mentor={}&sort=asc&from=2026-01-02", w.ada.id);
    let listing = all_pages(app, &w.admin, &query).await;
    assert!(listing.len() > 1000, "{}", listing.len());

    let (status, headers, body) = csv(app, &w.admin, &query).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let records = parse_csv(&body);
    assert_eq!(
        records[0],
        [
            "id",
            "start_utc",
            "end_utc",
            "status",
            "topic",
            "mentor_name",
            "mentor_email",
            "learner_name",
            "learner_email",
            "goals",
            "cancel_reason",
            "late_cancel",
            "cancelled_by"
        ]
    );
    let csv_ids: Vec<Uuid> = records[1..]
        .iter()
        .map(|r| Uuid::parse_str(&r[0]).unwrap())
        .collect();
    assert_eq!(csv_ids, listing);
    let first = &records[1];
    assert_eq!(first[3], "completed");
    assert_eq!(first[4], "sql-basics");
    assert_eq!(first[5], "Ada Lovelace");
    assert_eq!(first[7], "Lin Wu");
    assert_eq!(first[11], "false");
    assert_eq!(first[12], "", "not cancelled");
    // The first row starts at local midnight 2 January in New York.
    assert_eq!(first[1], "2026-01-02T05:00:00Z");
    assert_eq!(first[2], "2026-01-02T05:30:00Z");

    // No filter: everything, descending by default.
    let (_, _, body) = csv(app, &w.admin, "").await;
    assert_eq!(parse_csv(&body).len(), 1 + 1090);
}

#[tokio::test]
async fn csv_cells_are_quoted_and_formulas_neutralised() {
    let w = world().await;
    let app = &w.app;
    let tricky = add_user(app, "tricky@learners.test", "Tricky", Role::Learner);
    // The sign-up form refuses line breaks in names; older rows or other
    // writers may still hold one, and the export must survive it.
    diesel::update(users::table.find(tricky.id))
        .set(users::display_name.eq("Doe, \"Jo\"\nSmith"))
        .execute(&mut app.conn())
        .unwrap();
    let goals = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "plain goal"];
    for (i, g) in goals.iter().enumerate() {
        insert(
            app,
            tricky.id,
            w.ada.id,
            w.sql,
            at(2026, 7, 1, 8 + i as u32, 0),
            30,
            "completed",
            g,
        );
    }
    let (status, _, body) = csv(app, &w.admin, "sort=asc&learner=tricky").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"Doe, \"\"Jo\"\"\nSmith\""), "{body}");
    assert!(body.starts_with("id,start_utc,end_utc,status,topic,mentor_name,mentor_email,learner_name,learner_email,goals,cancel_reason,late_cancel,cancelled_by\r\n"));
    let records = parse_csv(&body);
    assert_eq!(records.len(), 1 + goals.len());
    let got: Vec<&str> = records[1..].iter().map(|r| r[9].as_str()).collect();
    assert_eq!(
        got,
        [
            "'=1+1",
            "'+SUM(A1)",
            "'-2+3",
            "'@cmd",
            "'\tTAB",
            "plain goal"
        ]
    );
    assert!(records[1..].iter().all(|r| r[7] == "Doe, \"Jo\"\nSmith"));
    assert!(records[1..].iter().all(|r| r.len() == 13));
}

fn booking_row(app: &TestApp, id: Uuid) -> (String, Option<String>, Option<Uuid>) {
    bookings::table
        .find(id)
        .select((
            bookings::status,
            bookings::cancel_reason,
            bookings::cancelled_by,
        ))
        .first(&mut app.conn())
        .unwrap()
}

fn cancel_audits(app: &TestApp, id: Uuid) -> Vec<(Option<Uuid>, serde_json::Value)> {
    audit_log::table
        .filter(audit_log::action.eq("booking.cancel"))
        .filter(audit_log::subject_id.eq(id))
        .select((audit_log::actor_user_id, audit_log::details))
        .load(&mut app.conn())
        .unwrap()
}

fn emails_about(app: &TestApp, id: Uuid) -> i64 {
    email_outbox::table
        .filter(email_outbox::booking_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn an_admin_cancel_needs_a_reason_and_then_cancels_with_emails_and_audit() {
    let w = world().await;
    let app = &w.app;
    let upcoming = insert(
        app,
        w.lin.id,
        w.ada.id,
        w.sql,
        at(2026, 6, 20, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let past = insert(
        app,
        w.kim.id,
        w.ada.id,
        w.sql,
        at(2026, 6, 10, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let list_query = "?status=confirmed&sort=asc";
    let html = get_html(app, &w.admin, &format!("/admin/bookings{list_query}")).await;
    let action = format!("/admin/bookings/{upcoming}/cancel{list_query}");
    assert!(
        html.contains(&format!(
            "action=\"/admin/bookings/{upcoming}/cancel?status=confirmed&#38;sort=asc\""
        )) || html.contains(&format!(
            "action=\"/admin/bookings/{upcoming}/cancel?status=confirmed&amp;sort=asc\""
        ))
    );
    assert!(!html.contains(&format!("/admin/bookings/{past}/cancel")));
    assert!(html.contains(&format!("href=\"/bookings/{upcoming}\"")));

    let emails_before = emails_about(app, upcoming);
    for reason in ["", "   \n "] {
        let res = app
            .post_form(
                &w.admin.client,
                &action,
                &[("csrf_token", &w.admin.csrf), ("reason", reason)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("id=\"reason-{upcoming}-error\"")));
        assert!(html.contains(&format!("aria-describedby=\"reason-{upcoming}-error\"")));
        assert_eq!(booking_row(app, upcoming), ("confirmed".into(), None, None));
    }
    let too_long = "x".repeat(501);
    let res = app
        .post_form(
            &w.admin.client,
            &action,
            &[("csrf_token", &w.admin.csrf), ("reason", &too_long)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(cancel_audits(app, upcoming).is_empty());
    assert_eq!(emails_about(app, upcoming), emails_before);

    // A session that has started cannot be cancelled.
    let res = app
        .post_form(
            &w.admin.client,
            &format!("/admin/bookings/{past}/cancel"),
            &[("csrf_token", &w.admin.csrf), ("reason", "Mentor is ill")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(booking_row(app, past).0, "confirmed");

    let res = app
        .post_form(
            &w.admin.client,
            &action,
            &[
                ("csrf_token", &w.admin.csrf),
                ("reason", "  Mentor is ill  "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.starts_with("/admin/bookings?"), "{back}");
    assert!(
        back.contains("status=confirmed") && back.contains("sort=asc"),
        "{back}"
    );
    assert!(back.contains("notice=cancelled"), "{back}");
    assert_eq!(
        booking_row(app, upcoming),
        (
            "cancelled".into(),
            Some("Mentor is ill".into()),
            Some(w.admin.user.id)
        )
    );
    let audits = cancel_audits(app, upcoming);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].0, Some(w.admin.user.id));
    assert_eq!(audits[0].1["as"], "admin");
    assert_eq!(audits[0].1["reason"], "Mentor is ill");
    assert!(emails_about(app, upcoming) >= emails_before + 2);
    let html = get_html(app, &w.admin, &back).await;
    assert!(html.contains("role=\"status\""));
    assert!(!listed(&html).contains(&upcoming));

    // The same form again (a second tab): nothing changes, and the page
    // does not claim emails went out.
    let emails_after = emails_about(app, upcoming);
    let res = app
        .post_form(
            &w.admin.client,
            &action,
            &[("csrf_token", &w.admin.csrf), ("reason", "Twice")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let again = location(&res);
    assert!(again.contains("notice=already-cancelled"), "{again}");
    let html = get_html(app, &w.admin, &again).await;
    assert!(html.contains("The booking was cancelled already; nothing changed"));
    assert_eq!(emails_about(app, upcoming), emails_after);
    assert_eq!(cancel_audits(app, upcoming).len(), 1);
    assert_eq!(booking_row(app, upcoming).1, Some("Mentor is ill".into()));
    // The list of cancelled ones says who cancelled, next to the reason.
    let html = get_html(app, &w.admin, "/admin/bookings?status=cancelled").await;
    let row = &html[html
        .find(&format!("data-booking-id=\"{upcoming}\""))
        .expect("listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<span class=\"meta\">by an admin</span>"),
        "{row}"
    );
    assert!(row.contains("Mentor is ill"), "{row}");
    // So does the export.
    let (_, _, body) = csv(app, &w.admin, "status=cancelled").await;
    let records = parse_csv(&body);
    let cancelled = records
        .iter()
        .find(|r| r[0] == upcoming.to_string())
        .expect("exported");
    assert_eq!(
        (cancelled[10].as_str(), cancelled[12].as_str()),
        ("Mentor is ill", "admin")
    );

    // Unknown or malformed ids are 404s.
    for id in [Uuid::new_v4().to_string(), "nope".to_owned()] {
        let res = app
            .post_form(
                &w.admin.client,
                &format!("/admin/bookings/{id}/cancel"),
                &[("csrf_token", &w.admin.csrf), ("reason", "x")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
    }
}

/// The "who cancelled" of the list, CSV and booking pages: the cancel's row
/// in the list of cancelled bookings, and its CSV `cancelled_by` cell.
async fn cancelled_by_shown(app: &TestApp, admin: &SignedIn, id: Uuid) -> (String, String) {
    let html = get_html(app, admin, "/admin/bookings?status=cancelled").await;
    let row = &html[html
        .find(&format!("data-booking-id=\"{id}\""))
        .expect("listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    let meta = row
        .split("<span class=\"meta\">by ")
        .nth(1)
        .and_then(|r| r.split("</span>").next())
        .unwrap_or_default()
        .to_owned();
    let (_, _, body) = csv(app, admin, "status=cancelled").await;
    let cell = parse_csv(&body)
        .into_iter()
        .find(|r| r[0] == id.to_string())
        .expect("exported")[12]
        .clone();
    (meta, cell)
}

#[tokio::test]
async fn an_admin_who_mentors_a_session_is_named_in_the_role_they_cancelled_it_in() {
    let w = world().await;
    let app = &w.app;
    let admin_id = w.admin.user.id;
    let from_list = insert(
        app,
        w.lin.id,
        admin_id,
        w.sql,
        at(2026, 6, 20, 10, 0),
        30,
        "confirmed",
        "g",
    );
    let from_page = insert(
        app,
        w.kim.id,
        admin_id,
        w.sql,
        at(2026, 6, 21, 10, 0),
        30,
        "confirmed",
        "g",
    );

    // From the admin list: as an admin, as the emails say.
    let res = app
        .post_form(
            &w.admin.client,
            &format!("/admin/bookings/{from_list}/cancel"),
            &[
                ("csrf_token", &w.admin.csrf),
                ("reason", "Clash with a conference"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // From the booking page, where they are the session's mentor.
    let res = app
        .post_form(
            &w.admin.client,
            &format!("/bookings/{from_page}/cancel"),
            &[
                ("csrf_token", &w.admin.csrf),
                ("reason", "Clash with a conference"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let role = |id: Uuid| -> Option<String> {
        bookings::table
            .find(id)
            .select(bookings::cancelled_as)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(role(from_list).as_deref(), Some("admin"));
    assert_eq!(role(from_page).as_deref(), Some("mentor"));
    assert_eq!(booking_row(app, from_list).2, Some(admin_id));
    assert_eq!(booking_row(app, from_page).2, Some(admin_id));

    assert_eq!(
        cancelled_by_shown(app, &w.admin, from_list).await,
        ("an admin".to_owned(), "admin".to_owned())
    );
    assert_eq!(
        cancelled_by_shown(app, &w.admin, from_page).await,
        ("the mentor".to_owned(), "mentor".to_owned())
    );
    // The learner's booking page agrees with their email.
    let lin = app.sign_in(&w.lin).await;
    let (status, html) = app.get_as(&lin, &format!("/bookings/{from_list}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Cancelled by an administrator"), "{html}");
    let mail: String = email_outbox::table
        .filter(email_outbox::booking_id.eq(from_list))
        .filter(email_outbox::recipient_user_id.eq(w.lin.id))
        .select(email_outbox::body_text)
        .first::<Option<String>>(&mut app.conn())
        .unwrap()
        .unwrap();
    assert!(mail.contains("an administrator"), "{mail}");
    let kim = app.sign_in(&w.kim).await;
    let (_, html) = app.get_as(&kim, &format!("/bookings/{from_page}")).await;
    assert!(
        html.contains(&format!("Cancelled by {}", w.admin.user.display_name)),
        "{html}"
    );
}

#[tokio::test]
async fn mentors_and_learners_get_403_and_change_nothing() {
    let w = world().await;
    let app = &w.app;
    let id = insert(
        app,
        w.lin.id,
        w.ada.id,
        w.sql,
        at(2026, 6, 20, 10, 0),
        30,
        "confirmed",
        "g",
    );
    // Even the booking's own mentor and learner: this is the admin's route.
    for user in [&w.ada, &w.lin] {
        let who = app.sign_in(user).await;
        for path in [
            "/admin/bookings",
            "/admin/bookings.csv",
            "/admin/bookings?status=confirmed",
        ] {
            let res = who.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
            let body = res.text().await.unwrap();
            assert!(!body.contains(&id.to_string()));
        }
        let res = app
            .post_form(
                &who.client,
                &format!("/admin/bookings/{id}/cancel"),
                &[("csrf_token", &who.csrf), ("reason", "because")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(booking_row(app, id), ("confirmed".into(), None, None));
    }
    assert!(cancel_audits(app, id).is_empty());
    // Signed out: to the sign-in page.
    let anon = crate::harness::new_client();
    for path in ["/admin/bookings", "/admin/bookings.csv"] {
        let res = anon.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&res).starts_with("/login"));
    }
}
