//! The public slot pages: `/mentors/{id}` (profile and week grid) and
//! `/topics/{slug}` (mentors with their next free slots) — exact UTC
//! instants in the booking links, the viewer's zone, week navigation, DST
//! through the page with the app clock set, and a bounded number of SQL
//! queries whatever the number of mentors and bookings.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use officehours::accounts::{Role, User};
use officehours::db::schema::{mentor_profiles, mentor_topics, topics, users, weekly_rules};
use officehours::schedule::Profile;
use officehours::schedule::queries::save_profile;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::{TestApp, spawn_app};
use crate::web::add_topic;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn hm(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}

/// A mentor in `zone` taking bookings: no notice, 60 days ahead, 30-minute
/// steps.
fn mentor(app: &TestApp, zone: &str, name: &str) -> User {
    let user = app.create_user(Role::Mentor);
    set_zone(app, &user, zone);
    diesel::update(users::table.find(user.id))
        .set(users::display_name.eq(name))
        .execute(&mut app.conn())
        .unwrap();
    profile(app, &user, true);
    user
}

fn set_zone(app: &TestApp, user: &User, zone: &str) {
    diesel::update(users::table.find(user.id))
        .set(users::time_zone.eq(zone))
        .execute(&mut app.conn())
        .unwrap();
}

fn profile(app: &TestApp, user: &User, accepting: bool) {
    let now = app.clock.now();
    save_profile(
        &mut app.conn(),
        &Profile {
            headline: format!("Headline of {}", user.id.simple()),
            bio: "Ten years of backend work.".into(),
            accepting_bookings: accepting,
            min_notice_hours: 0,
            horizon_days: 60,
            step_min: 30,
            ..Profile::new_default(user.id, now)
        },
    )
    .unwrap();
}

fn rule(app: &TestApp, user: &User, weekday: i16, start: &str, end: &str) {
    diesel::insert_into(weekly_rules::table)
        .values((
            weekly_rules::id.eq(Uuid::now_v7()),
            weekly_rules::mentor_id.eq(user.id),
            weekly_rules::weekday.eq(weekday),
            weekly_rules::start_time.eq(hm(start)),
            weekly_rules::end_time.eq(hm(end)),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn every_day(app: &TestApp, user: &User, start: &str, end: &str) {
    for weekday in 1..=7 {
        rule(app, user, weekday, start, end);
    }
}

fn topic_id(app: &TestApp, slug: &str) -> Uuid {
    topics::table
        .filter(topics::slug.eq(slug))
        .select(topics::id)
        .first(&mut app.conn())
        .unwrap()
}

fn offer(app: &TestApp, user: &User, slug: &str) {
    diesel::insert_into(mentor_topics::table)
        .values((
            mentor_topics::mentor_id.eq(user.id),
            mentor_topics::topic_id.eq(topic_id(app, slug)),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn book(app: &TestApp, mentor: &User, learner: &User, slug: &str, start: DateTime<Utc>) {
    let end = start + chrono::Duration::minutes(30);
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, occupied, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, tstzrange($5, $6, '[)'), $7, $7)",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<diesel::sql_types::Uuid, _>(learner.id)
    .bind::<diesel::sql_types::Uuid, _>(mentor.id)
    .bind::<diesel::sql_types::Uuid, _>(topic_id(app, slug))
    .bind::<diesel::sql_types::Timestamptz, _>(start)
    .bind::<diesel::sql_types::Timestamptz, _>(end)
    .bind::<diesel::sql_types::Timestamptz, _>(app.clock.now())
    .execute(&mut app.conn())
    .unwrap();
}

async fn page(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    unescape(&res.text().await.unwrap())
}

fn unescape(html: &str) -> String {
    html.replace("&#38;", "&").replace("&amp;", "&")
}

/// The `start` of every booking link, in page order.
fn starts(html: &str) -> Vec<String> {
    links(html, "/book?").iter().map(|l| start_of(l)).collect()
}

/// The `start` parameter of a booking link (a `&tz=` may follow it).
fn start_of(link: &str) -> String {
    let tail = link.split("start=").nth(1).unwrap();
    tail.split('&').next().unwrap().to_owned()
}

/// Every `href` beginning with `prefix`, in page order.
fn links(html: &str, prefix: &str) -> Vec<String> {
    let marker = format!("href=\"{prefix}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&marker) {
        let from = i + "href=\"".len();
        let len = rest[from..].find('"').unwrap();
        out.push(rest[from..from + len].to_owned());
        rest = &rest[from + len..];
    }
    out
}

/// The slot times (as shown) in the column of local date `iso`.
fn column(html: &str, iso: &str) -> Vec<String> {
    let head = format!("<time datetime=\"{iso}\">");
    let start = html
        .find(&head)
        .unwrap_or_else(|| panic!("no column {iso}"));
    let rest = &html[start..];
    let end = rest[1..]
        .find("class=\"public-day")
        .map_or(rest.len(), |e| e + 1);
    let col = &rest[..end];
    let mut out = Vec::new();
    let mut r = col;
    while let Some(i) = r.find("class=\"public-slot\"") {
        r = &r[i..];
        let t = r.find("<time datetime=").unwrap();
        let t = t + r[t..].find("\">").unwrap() + 2;
        let len = r[t..].find('<').unwrap();
        out.push(r[t..t + len].to_owned());
        r = &r[t..];
    }
    out
}

#[tokio::test]
async fn slot_links_carry_the_exact_utc_instant() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "Europe/Berlin", "Maya Schneider");
    offer(&app, &m, "sql-basics");
    rule(&app, &m, 2, "09:00", "10:00");

    let html = page(&app, &format!("/mentors/{}?tz=Europe/Berlin", m.id)).await;
    assert!(html.contains("Maya Schneider"));
    assert!(html.contains(&format!("Headline of {}", m.id.simple())));
    assert!(html.contains("Ten years of backend work."));
    assert!(
        html.contains("href=\"/topics/sql-basics?tz=Europe%2FBerlin\""),
        "topics are links, keeping the chosen zone"
    );
    assert_eq!(
        links(&html, "/book?"),
        vec![
            format!(
                "/book?mentor={}&topic=sql-basics&start=2026-06-16T07:00:00Z&tz=Europe%2FBerlin",
                m.id
            ),
            format!(
                "/book?mentor={}&topic=sql-basics&start=2026-06-16T07:30:00Z&tz=Europe%2FBerlin",
                m.id
            ),
        ]
    );
    assert_eq!(column(&html, "2026-06-16"), vec!["09:00", "09:30"]);
    assert!(html.contains("Tue 16 Jun"), "unambiguous dates");
    assert!(
        html.contains("<strong>Europe/Berlin</strong>"),
        "the zone is named"
    );
    assert!(html.contains("CEST"));
    // Seven columns, Monday first.
    assert_eq!(html.matches("<li class=\"public-day").count(), 7);
    assert!(html.contains("Mon 15 Jun – Sun 21 Jun 2026"));
    assert!(!html.contains("style="));
}

#[tokio::test]
async fn a_session_may_span_two_touching_windows_and_be_booked() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "Europe/Berlin", "Maya Schneider");
    diesel::update(mentor_profiles::table.find(m.id))
        .set(mentor_profiles::step_min.eq(15))
        .execute(&mut app.conn())
        .unwrap();
    offer(&app, &m, "sql-basics");
    rule(&app, &m, 1, "09:00", "12:00");
    rule(&app, &m, 1, "12:00", "14:00");

    let html = page(
        &app,
        &format!("/mentors/{}?tz=Europe/Berlin&week=2026-06-22", m.id),
    )
    .await;
    // As one window 09:00–14:00 would: every quarter hour to 13:30,
    // 11:45 (to 12:15) included.
    let expected: Vec<String> = (0..19)
        .map(|i| format!("{:02}:{:02}", 9 + i * 15 / 60, i * 15 % 60))
        .collect();
    assert_eq!(column(&html, "2026-06-22"), expected);
    assert!(starts(&html).contains(&"2026-06-22T09:45:00Z".to_owned()));

    // The booking check runs the same engine: 11:45 can be booked.
    let learner = app.sign_in(&app.create_user(Role::Learner)).await;
    let start = at(2026, 6, 22, 9, 45);
    let res = crate::booking_fixture::post_booking(&app, &learner, m.id, "sql-basics", start).await;
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    assert!(location.starts_with("/bookings/"), "{location}");
    let booked: i64 = officehours::db::schema::bookings::table
        .filter(officehours::db::schema::bookings::mentor_id.eq(m.id))
        .filter(officehours::db::schema::bookings::start_at.eq(start))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(booked, 1);
}

#[tokio::test]
async fn the_viewer_zone_is_tz_then_the_account_zone_then_utc() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "Europe/Berlin", "Maya");
    offer(&app, &m, "sql-basics");
    rule(&app, &m, 2, "09:00", "09:30");
    let path = format!("/mentors/{}", m.id);
    let slot = "<time datetime=\"2026-06-16T07:00:00Z\">";

    // Anonymous: UTC, and the page asks the script for the browser's zone.
    let html = page(&app, &path).await;
    assert!(html.contains("<strong>UTC</strong>"));
    assert!(html.contains(&format!("{slot}07:00</time>")));
    assert!(html.contains("data-tz-auto"));
    assert!(html.contains("<option selected>UTC</option>"));

    // Signed in: the account's zone.
    let learner = app.create_user(Role::Learner);
    set_zone(&app, &learner, "Asia/Tokyo");
    let signed = app.sign_in(&learner).await;
    let get = |p: String| {
        let c = signed.client.clone();
        let url = app.url(&p);
        async move { unescape(&c.get(url).send().await.unwrap().text().await.unwrap()) }
    };
    let html = get(path.clone()).await;
    assert!(html.contains("<strong>Asia/Tokyo</strong>"));
    assert!(html.contains(&format!("{slot}16:00</time>")));
    assert!(!html.contains("data-tz-auto"));
    assert!(html.contains("<option selected>Asia/Tokyo</option>"));

    // ?tz= beats the account's zone, and the page's links keep it.
    let html = get(format!("{path}?tz=America/New_York")).await;
    assert!(html.contains("<strong>America/New_York</strong>"));
    assert!(html.contains(&format!("{slot}03:00</time>")));
    assert!(html.contains("tz=America%2FNew_York"));
    // As typed, in any letter case: the zone it names, under its own
    // spelling (the page sends the browser there), links canonical.
    let res = app.get(&format!("{path}?tz=america/new_york")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        crate::harness::location(&res),
        format!("{path}?tz=America%2FNew_York")
    );
    let html = get(format!("{path}?tz=America%2FNew_York")).await;
    assert!(html.contains("<strong>America/New_York</strong>"), "{html}");
    assert!(html.contains(&format!("{slot}03:00</time>")));
    assert!(html.contains("tz=America%2FNew_York"));
    assert!(!html.contains("public-tz-error"));

    // A zone we do not know: the default, said next to the zone list (the
    // text escaped); the script may offer the browser's zone.
    let html = page(&app, &format!("{path}?tz=Mars/Olympus_Mons")).await;
    assert!(html.contains("<strong>UTC</strong>"));
    assert!(html.contains("data-tz-auto"));
    assert!(!html.contains("no time zone chosen yet"));
    assert_eq!(starts(&html), vec!["2026-06-16T07:00:00Z"]);
    assert!(
        html.contains("“Mars/Olympus_Mons” is not a time zone we know, so the times are in UTC."),
        "{html}"
    );
    assert!(html.contains("aria-describedby=\"public-tz-error\""));
    // Signed in, the account's zone; a known zone says nothing.
    let html = get(format!("{path}?tz=Mars%2F%3Cb%3E")).await;
    assert!(html.contains("<strong>Asia/Tokyo</strong>"));
    assert!(html.contains("” is not a time zone we know, so the times are in Asia/Tokyo."));
    let (_, raw) = app
        .get_as(&signed, &format!("{path}?tz=Mars%2F%3Cb%3E"))
        .await;
    assert!(!raw.contains("Mars/<b>"), "escaped");
    let html = get(format!("{path}?tz=America/New_York")).await;
    assert!(!html.contains("public-tz-error"));

    // The zone form is a GET form keeping topic and week.
    assert!(html.contains(&format!("action=\"{path}\"")));
    assert!(html.contains("name=\"week\" value=\"2026-06-15\""));
    assert!(html.contains("name=\"topic\" value=\"sql-basics\""));
}

#[tokio::test]
async fn weeks_can_be_browsed_and_bad_parameters_fall_back() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    add_topic(&app, "rust-intro", "A Rust intro", true);
    let m = mentor(&app, "UTC", "Maya");
    offer(&app, &m, "sql-basics");
    offer(&app, &m, "rust-intro");
    rule(&app, &m, 2, "09:00", "09:30");
    let path = format!("/mentors/{}", m.id);

    let html = page(&app, &path).await;
    assert_eq!(starts(&html), vec!["2026-06-16T09:00:00Z"]);
    // The first topic by title is the default.
    assert!(links(&html, "/book?")[0].contains("topic=rust-intro"));
    assert!(!html.contains("rel=\"prev\""), "no earlier weeks to show");
    let next = format!("{path}?topic=rust-intro&week=2026-06-22");
    assert!(
        html.contains(&format!("href=\"{next}\" rel=\"next\"")),
        "{html}"
    );

    // Any day of a week shows that week, from its Monday.
    let html = page(&app, &format!("{path}?week=2026-06-25&topic=sql-basics")).await;
    assert!(html.contains("Mon 22 Jun – Sun 28 Jun 2026"));
    assert_eq!(starts(&html), vec!["2026-06-23T09:00:00Z"]);
    assert!(links(&html, "/book?")[0].contains("topic=sql-basics"));
    assert!(html.contains(&format!(
        "href=\"{path}?topic=sql-basics&week=2026-06-15\" rel=\"prev\""
    )));
    assert!(html.contains(&format!(
        "href=\"{path}?topic=sql-basics&week=2026-06-29\" rel=\"next\""
    )));

    // Past the horizon (60 days) there is no next week, and the page
    // says why; weeks well before it say nothing of it.
    let html = page(&app, &format!("{path}?week=2026-08-10")).await;
    assert!(!html.contains("rel=\"next\""));
    assert!(
        html.contains("Maya takes bookings up to 60 days ahead."),
        "{html}"
    );
    let html = page(&app, &format!("{path}?week=2026-06-22")).await;
    assert!(!html.contains("days ahead"), "{html}");

    // Nonsense falls back to the defaults, never a 500.
    for q in [
        "week=junk",
        "week=2026-13-45",
        "week=99999-01-01",
        "week=1900-01-01",
        "topic=no-such-topic",
        "topic=",
        "tz=",
        "tz=%FF%FE",
        "week=2026-06-15&week=2026-06-22",
    ] {
        let html = page(&app, &format!("{path}?{q}")).await;
        assert!(
            html.contains("Mon 15 Jun – Sun 21 Jun 2026") || q.starts_with("week=2026-06-15"),
            "{q}"
        );
        assert_eq!(starts(&html).len(), 1, "{q}");
    }
}

#[tokio::test]
async fn a_mentor_not_taking_bookings_shows_the_profile_and_no_slots() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let off = mentor(&app, "Europe/Berlin", "Resting Mentor");
    offer(&app, &off, "sql-basics");
    every_day(&app, &off, "09:00", "17:00");
    profile(&app, &off, false);
    let html = page(&app, &format!("/mentors/{}", off.id)).await;
    assert!(html.contains("Resting Mentor"));
    assert!(html.contains("not taking bookings right now"));
    assert!(starts(&html).is_empty());

    // Accepting, but offering no (active) topic.
    add_topic(&app, "retired", "Retired", false);
    let no_topics = mentor(&app, "Europe/Berlin", "Topicless Mentor");
    offer(&app, &no_topics, "retired");
    every_day(&app, &no_topics, "09:00", "17:00");
    let html = page(&app, &format!("/mentors/{}", no_topics.id)).await;
    assert!(html.contains("not taking bookings right now"));
    assert!(starts(&html).is_empty());
    assert!(!html.contains("Retired"));

    // A mentor who never saved settings is not accepting bookings either.
    let fresh = app.create_user(Role::Mentor);
    offer(&app, &fresh, "sql-basics");
    let html = page(&app, &format!("/mentors/{}", fresh.id)).await;
    assert!(html.contains("not taking bookings right now"));

    // Only mentors have a page.
    let learner = app.create_user(Role::Learner);
    for path in [
        format!("/mentors/{}", learner.id),
        format!("/mentors/{}", Uuid::new_v4()),
        "/mentors/not-a-uuid".to_owned(),
    ] {
        assert_eq!(
            app.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_topic_page_lists_mentors_with_their_next_three_slots() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    add_topic(&app, "retired", "Retired topic", false);
    let early = mentor(&app, "UTC", "Early Mentor");
    offer(&app, &early, "sql-basics");
    rule(&app, &early, 2, "08:00", "10:00");
    let late = mentor(&app, "America/New_York", "Late Mentor");
    offer(&app, &late, "sql-basics");
    // Thursdays only, 18:00 New York = 22:00Z.
    rule(&app, &late, 4, "18:00", "19:00");
    let resting = mentor(&app, "UTC", "Resting Mentor");
    offer(&app, &resting, "sql-basics");
    every_day(&app, &resting, "08:00", "20:00");
    profile(&app, &resting, false);
    let other = mentor(&app, "UTC", "Other Topic Mentor");
    every_day(&app, &other, "08:00", "20:00");

    // A booking takes one of the early mentor's slots.
    let learner = app.create_user(Role::Learner);
    book(&app, &early, &learner, "sql-basics", at(2026, 6, 16, 8, 30));

    let html = page(&app, "/topics/sql-basics?tz=Europe/Berlin").await;
    assert!(html.contains("<h1>SQL basics</h1>"));
    assert!(html.contains("What it is about."));
    assert!(html.contains("30 minutes"));
    assert!(html.contains("Early Mentor") && html.contains("Late Mentor"));
    assert!(!html.contains("Resting Mentor"), "not accepting bookings");
    assert!(!html.contains("Other Topic Mentor"));
    assert!(html.contains("<strong>Europe/Berlin</strong>"));
    // Soonest first; three each, in the viewer's zone, named.
    assert_eq!(
        starts(&html),
        vec![
            "2026-06-16T08:00:00Z",
            "2026-06-16T09:00:00Z",
            "2026-06-16T09:30:00Z",
            "2026-06-18T22:00:00Z",
            "2026-06-18T22:30:00Z",
            "2026-06-25T22:00:00Z",
        ]
    );
    assert!(html.contains(">Tue 16 Jun, 10:00 CEST</time>"));
    assert!(html.contains(">Fri 19 Jun, 00:00 CEST</time>"));
    assert!(html.contains(&format!(
        "href=\"/book?mentor={}&topic=sql-basics&start=2026-06-18T22:00:00Z&tz=Europe%2FBerlin\"",
        late.id
    )));
    assert!(html.contains(&format!(
        "href=\"/mentors/{}?topic=sql-basics&tz=Europe%2FBerlin\"",
        late.id
    )));

    for missing in ["/topics/retired", "/topics/no-such-topic"] {
        assert_eq!(app.get(missing).await.status(), StatusCode::NOT_FOUND);
    }
    // The home page's topic cards lead here.
    let home = page(&app, "/").await;
    assert!(home.contains("href=\"/topics/sql-basics\""));
}

#[tokio::test]
async fn a_berlin_week_across_the_spring_change_keeps_nine_o_clock() {
    let app = spawn_app().await;
    app.clock.set(at(2026, 3, 25, 8, 0));
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "Europe/Berlin", "Maya");
    offer(&app, &m, "sql-basics");
    every_day(&app, &m, "09:00", "10:00");
    let path = format!("/mentors/{}?tz=Europe/Berlin", m.id);

    let html = page(&app, &path).await;
    assert!(html.contains("Mon 23 Mar – Sun 29 Mar 2026"));
    assert!(html.contains("CET until Sun 29 Mar 02:00, then CEST"));
    assert_eq!(column(&html, "2026-03-28"), vec!["09:00", "09:30"]);
    assert_eq!(column(&html, "2026-03-29"), vec!["09:00", "09:30"]);
    let s = starts(&html);
    assert!(s.contains(&"2026-03-28T08:00:00Z".to_owned()), "{s:?}");
    assert!(s.contains(&"2026-03-29T07:00:00Z".to_owned()), "{s:?}");
    // Today (Wed 25) 09:00 CET = 08:00Z is now: still bookable; nothing earlier.
    assert_eq!(s[0], "2026-03-25T08:00:00Z");

    let html = page(&app, &format!("{path}&week=2026-03-30")).await;
    assert_eq!(column(&html, "2026-03-30"), vec!["09:00", "09:30"]);
    assert_eq!(starts(&html)[0], "2026-03-30T07:00:00Z");
    assert!(html.contains("All times Europe/Berlin (CEST)"));
}

#[tokio::test]
async fn an_auckland_viewer_sees_a_los_angeles_evening_on_the_next_day() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "America/Los_Angeles", "LA Mentor");
    offer(&app, &m, "sql-basics");
    // Mondays 15:00-16:00 in Los Angeles (PDT, UTC-7) = 22:00Z Monday =
    // Tuesday 10:00 in Auckland (NZST, UTC+12).
    rule(&app, &m, 1, "15:00", "16:00");

    let html = page(
        &app,
        &format!("/mentors/{}?tz=Pacific/Auckland&week=2026-06-22", m.id),
    )
    .await;
    assert_eq!(column(&html, "2026-06-22"), Vec::<String>::new());
    assert_eq!(column(&html, "2026-06-23"), vec!["10:00", "10:30"]);
    assert_eq!(
        starts(&html),
        vec!["2026-06-22T22:00:00Z", "2026-06-22T22:30:00Z"]
    );
    // The same slots seen from Los Angeles are on the Monday.
    let html = page(
        &app,
        &format!("/mentors/{}?tz=America/Los_Angeles&week=2026-06-22", m.id),
    )
    .await;
    assert_eq!(column(&html, "2026-06-22"), vec!["15:00", "15:30"]);
}

/// SQL statements one request runs.
async fn queries_of(app: &TestApp, path: &str) -> u64 {
    let before = app.state.queries.get();
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap();
    app.state.queries.get() - before
}

#[tokio::test]
async fn both_pages_run_the_same_queries_for_one_mentor_or_ten_with_bookings() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let first = mentor(&app, "Europe/Berlin", "Mentor 0");
    offer(&app, &first, "sql-basics");
    every_day(&app, &first, "08:00", "20:00");
    let mentor_path = format!("/mentors/{}", first.id);
    let topic_path = "/topics/sql-basics";

    let small = (
        queries_of(&app, &mentor_path).await,
        queries_of(&app, topic_path).await,
    );

    let mut mentors = vec![first];
    for i in 1..10 {
        let m = mentor(&app, "America/New_York", &format!("Mentor {i}"));
        offer(&app, &m, "sql-basics");
        every_day(&app, &m, "08:00", "20:00");
        mentors.push(m);
    }
    // 200 bookings in the coming weeks: 20 per mentor, each with its own
    // learner.
    for m in &mentors {
        let learner = app.create_user(Role::Learner);
        for day in 0..20 {
            let start = at(2026, 6, 15, 13, 0) + chrono::Duration::days(day);
            book(&app, m, &learner, "sql-basics", start);
        }
    }
    let html = page(&app, topic_path).await;
    assert_eq!(starts(&html).len(), 30, "ten mentors, three slots each");
    assert!(!starts(&html).iter().any(|s| s.ends_with("T13:00:00Z")));

    let large = (
        queries_of(&app, &mentor_path).await,
        queries_of(&app, topic_path).await,
    );
    assert_eq!(small, large, "no query per mentor or per booking");
    // The mentor page: the slot versions and (when they changed) one
    // statement; the topic page one statement; plus the pool's check on
    // checkout.
    assert!(large.0 <= 3 && large.1 <= 2, "{large:?}");
    // Unchanged since: the mentor page's rows come from its cache.
    assert!(queries_of(&app, &mentor_path).await <= 2);
}

/// The mentor page caches its rows under the mentor's slot version, which
/// triggers bump on every change, by whatever path it is made.
#[tokio::test]
async fn the_cached_mentor_page_follows_every_change() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "Europe/Berlin", "Maya");
    offer(&app, &m, "sql-basics");
    rule(&app, &m, 2, "09:00", "10:00");
    let path = format!("/mentors/{}?tz=UTC&week=2026-06-15", m.id);
    let seen = |html: &str| starts(html);
    assert_eq!(
        seen(&page(&app, &path).await),
        ["2026-06-16T07:00:00Z", "2026-06-16T07:30:00Z"]
    );
    // A rule added behind the app's back (plain SQL).
    rule(&app, &m, 2, "11:00", "11:30");
    assert_eq!(
        seen(&page(&app, &path).await),
        [
            "2026-06-16T07:00:00Z",
            "2026-06-16T07:30:00Z",
            "2026-06-16T09:00:00Z"
        ]
    );
    // A booking takes its slot.
    let learner = app.create_user(Role::Learner);
    book(&app, &m, &learner, "sql-basics", at(2026, 6, 16, 7, 0));
    assert_eq!(
        seen(&page(&app, &path).await),
        ["2026-06-16T07:30:00Z", "2026-06-16T09:00:00Z"]
    );
    // Its cancellation frees it again.
    diesel::sql_query(
        "UPDATE bookings SET status = 'cancelled', cancelled_as = 'admin', cancelled_at = now() WHERE mentor_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(m.id)
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(seen(&page(&app, &path).await).len(), 3);
    // The mentor's zone moves the windows.
    set_zone(&app, &m, "UTC");
    assert_eq!(
        seen(&page(&app, &path).await),
        [
            "2026-06-16T09:00:00Z",
            "2026-06-16T09:30:00Z",
            "2026-06-16T11:00:00Z"
        ]
    );
    // Not accepting bookings: no slots.
    profile(&app, &m, false);
    assert!(seen(&page(&app, &path).await).is_empty());
    profile(&app, &m, true);
    assert_eq!(seen(&page(&app, &path).await).len(), 3);
    // A deactivated topic is not offered any more (a change to topics
    // bumps every mentor's pages).
    diesel::update(topics::table)
        .set(topics::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    assert!(seen(&page(&app, &path).await).is_empty());
}

/// The pages load their rows in one statement of their own; they must show
/// exactly the slots that `availability::load` (what the booking check and
/// the editor's preview use) gives for the same window.
#[tokio::test]
async fn the_pages_show_the_slots_availability_load_computes() {
    use officehours::db::schema::{date_overrides, override_windows, time_off};
    use officehours::schedule::availability::{self, MentorRef};
    use officehours::slots::{Interval, resolve_local};

    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "Europe/Berlin", "Maya");
    offer(&app, &m, "sql-basics");
    let now = app.clock.now();
    let settings = |caps: bool| Profile {
        accepting_bookings: true,
        buffer_before_min: 120,
        buffer_after_min: 15,
        min_notice_hours: 20,
        horizon_days: 30,
        step_min: 15,
        max_per_day: caps.then_some(2),
        max_per_week: caps.then_some(7),
        ..Profile::new_default(m.id, now)
    };
    for weekday in 1..=5 {
        rule(&app, &m, weekday, "09:00", "12:00");
    }
    rule(&app, &m, 3, "22:00", "01:30");
    rule(&app, &m, 6, "10:00", "13:00");
    rule(&app, &m, 1, "00:30", "03:00");
    let mut conn = app.conn();
    let date = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
    // An override with its own windows, and a day off.
    for (on, windows) in [(17, vec![("14:00", "16:30")]), (24, vec![])] {
        let id = Uuid::now_v7();
        diesel::insert_into(date_overrides::table)
            .values((
                date_overrides::id.eq(id),
                date_overrides::mentor_id.eq(m.id),
                date_overrides::on_date.eq(date(on)),
            ))
            .execute(&mut conn)
            .unwrap();
        for (start, end) in windows {
            diesel::insert_into(override_windows::table)
                .values((
                    override_windows::id.eq(Uuid::now_v7()),
                    override_windows::override_id.eq(id),
                    override_windows::start_time.eq(hm(start)),
                    override_windows::end_time.eq(hm(end)),
                ))
                .execute(&mut conn)
                .unwrap();
        }
    }
    let berlin = chrono_tz::Europe::Berlin;
    diesel::insert_into(time_off::table)
        .values((
            time_off::id.eq(Uuid::now_v7()),
            time_off::mentor_id.eq(m.id),
            time_off::starts_at.eq(resolve_local(berlin, date(29), hm("00:00"))),
            time_off::ends_at.eq(resolve_local(berlin, date(30), hm("10:30"))),
        ))
        .execute(&mut conn)
        .unwrap();
    // Bookings with the mentor (one day reaches the cap of two), one
    // cancelled, and one the mentor has as a learner with someone else.
    let learner = app.create_user(Role::Learner);
    let other_learner = app.create_user(Role::Learner);
    book(&app, &m, &learner, "sql-basics", at(2026, 6, 16, 7, 30));
    book(
        &app,
        &m,
        &other_learner,
        "sql-basics",
        at(2026, 6, 16, 9, 0),
    );
    book(&app, &m, &learner, "sql-basics", at(2026, 6, 19, 8, 0));
    book(&app, &m, &learner, "sql-basics", at(2026, 6, 23, 8, 0));
    diesel::sql_query(
        "UPDATE bookings SET status = 'cancelled', cancelled_as = 'admin', cancelled_at = now() WHERE start_at = '2026-06-23T08:00:00Z'",
    )
    .execute(&mut conn)
    .unwrap();
    let other_mentor = mentor(&app, "UTC", "Other");
    book(&app, &other_mentor, &m, "sql-basics", at(2026, 6, 18, 8, 0));
    // Just before a shown week (Sunday 21 Jun, 23:30-24:00 Berlin), with the
    // largest buffer after it: it blocks the Monday's first slots.
    book(
        &app,
        &m,
        &other_learner,
        "sql-basics",
        at(2026, 6, 21, 21, 30),
    );
    diesel::sql_query(
        "UPDATE bookings SET buffer_after_min = 120, \
         occupied = tstzrange(start_at, end_at + interval '120 minutes', '[)') \
         WHERE start_at = '2026-06-21T21:30:00Z'",
    )
    .execute(&mut conn)
    .unwrap();

    let duration = chrono::Duration::minutes(30);
    let expected = |from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<String> {
        let refs = [MentorRef {
            id: m.id,
            zone: berlin,
        }];
        let loaded = availability::load(&mut app.conn(), &refs, from, to, now, None).unwrap();
        loaded
            .slots(m.id, duration, now, Interval::new(from, to))
            .iter()
            .map(|s| s.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .collect()
    };
    // With day and week caps (bookings a week around count) and without
    // (only nearby bookings matter).
    for caps in [true, false] {
        save_profile(&mut app.conn(), &settings(caps)).unwrap();
        let mut seen = 0;
        for monday in [15, 22, 29] {
            let from = resolve_local(berlin, date(monday), hm("00:00"));
            let to = from + chrono::Duration::days(7);
            let html = page(
                &app,
                &format!(
                    "/mentors/{}?tz=Europe/Berlin&week=2026-06-{monday:02}",
                    m.id
                ),
            )
            .await;
            let want = expected(from, to);
            assert_eq!(starts(&html), want, "week of {monday} Jun, caps: {caps}");
            seen += want.len();
        }
        assert!(seen > 20, "the fixture leaves slots to compare: {seen}");
        let html = page(&app, "/topics/sql-basics").await;
        let all = expected(now, now + chrono::Duration::days(30));
        let mine: Vec<String> = links(&html, "/book?")
            .iter()
            .filter(|l| l.contains(&m.id.to_string()))
            .map(|l| start_of(l))
            .collect();
        assert_eq!(mine, all[..3].to_vec(), "caps: {caps}");
    }
    // The edge booking did block something: 00:30 Monday 22 Jun is taken.
    assert!(
        !expected(at(2026, 6, 21, 22, 0), at(2026, 6, 22, 1, 0))
            .contains(&"2026-06-21T22:30:00Z".to_owned())
    );
}

/// A 30-minute session `host` mentors from `start`, with `buffers`
/// (minutes before and after), booked by a new learner.
fn host_session(app: &TestApp, host: &User, start: DateTime<Utc>, buffers: (i32, i32)) {
    let end = start + chrono::Duration::minutes(30);
    let (before, after) = buffers;
    diesel::sql_query(
        "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, \
           buffer_before_min, buffer_after_min, occupied, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
           tstzrange($5 - make_interval(mins => $7), $6 + make_interval(mins => $8), '[)'), $9, $9)",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<diesel::sql_types::Uuid, _>(app.create_user(Role::Learner).id)
    .bind::<diesel::sql_types::Uuid, _>(host.id)
    .bind::<diesel::sql_types::Uuid, _>(topic_id(app, "sql-basics"))
    .bind::<diesel::sql_types::Timestamptz, _>(start)
    .bind::<diesel::sql_types::Timestamptz, _>(end)
    .bind::<diesel::sql_types::Integer, _>(before)
    .bind::<diesel::sql_types::Integer, _>(after)
    .bind::<diesel::sql_types::Timestamptz, _>(app.clock.now())
    .execute(&mut app.conn())
    .unwrap();
}

/// The start of every slot shown busy, in page order.
fn busy(html: &str) -> Vec<String> {
    html.split("class=\"public-slot public-slot-busy\"><time datetime=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

/// The mentor page `week` and the topic page as `who` sees them.
async fn pages_for(app: &TestApp, who: &User, week: &str) -> (String, String) {
    let s = app.sign_in(who).await;
    let (status, html) = app.get_as(&s, week).await;
    assert_eq!(status, StatusCode::OK);
    let (_, topic) = app.get_as(&s, "/topics/sql-basics?tz=UTC").await;
    (unescape(&html), unescape(&topic))
}

/// A signed-in visitor sees which of a mentor's times clash with their own
/// sessions (as learner, and as mentor with buffers): shown, not linked;
/// the topic page offers only times they are free at.
#[tokio::test]
async fn a_signed_in_visitor_is_not_offered_times_they_already_have_a_session() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let a = mentor(&app, "UTC", "Tuesday Mentor");
    offer(&app, &a, "sql-basics");
    rule(&app, &a, 2, "08:00", "10:00");
    let b = mentor(&app, "UTC", "Other Mentor");
    offer(&app, &b, "sql-basics");
    every_day(&app, &b, "08:00", "10:00");

    // Limits high enough that only busy times are left out (a session of
    // the topic would otherwise use up the one per topic).
    diesel::update(officehours::db::schema::booking_policy::table)
        .set(officehours::db::schema::booking_policy::max_upcoming_per_topic.eq(10))
        .execute(&mut app.conn())
        .unwrap();
    // A learner with a session at 09:00 with someone else.
    let learner = app.create_user(Role::Learner);
    book(&app, &b, &learner, "sql-basics", at(2026, 6, 16, 9, 0));
    // A mentor hosting 08:00-08:30 with a 30-minute buffer after it.
    let host = mentor(&app, "UTC", "Hosting Mentor");
    host_session(&app, &host, at(2026, 6, 16, 8, 0), (0, 30));

    let week = format!("/mentors/{}?topic=sql-basics&week=2026-06-15&tz=UTC", a.id);
    let legend = "Times marked “busy” overlap one of your own sessions.";
    let a_starts = |html: &str| -> Vec<String> {
        links(html, &format!("/book?mentor={}&", a.id))
            .iter()
            .map(|l| start_of(l))
            .collect()
    };

    let anonymous = page(&app, &week).await;
    assert_eq!(
        starts(&anonymous),
        vec![
            "2026-06-16T08:00:00Z",
            "2026-06-16T08:30:00Z",
            "2026-06-16T09:00:00Z",
            "2026-06-16T09:30:00Z",
        ]
    );
    assert!(busy(&anonymous).is_empty() && !anonymous.contains(legend));

    let (html, topic) = pages_for(&app, &learner, &week).await;
    assert_eq!(
        starts(&html),
        vec![
            "2026-06-16T08:00:00Z",
            "2026-06-16T08:30:00Z",
            "2026-06-16T09:30:00Z",
        ]
    );
    assert_eq!(busy(&html), vec!["2026-06-16T09:00:00Z"]);
    assert!(html.contains(legend));
    assert!(html.contains(", Tue 16 Jun, 09:00 UTC: you have another session then"));
    assert_eq!(
        a_starts(&topic),
        vec![
            "2026-06-16T08:00:00Z",
            "2026-06-16T08:30:00Z",
            "2026-06-16T09:30:00Z",
        ]
    );

    // The hosted session's buffer keeps 08:30 busy too.
    let (html, topic) = pages_for(&app, &host, &week).await;
    assert_eq!(
        starts(&html),
        vec!["2026-06-16T09:00:00Z", "2026-06-16T09:30:00Z"]
    );
    assert_eq!(
        busy(&html),
        vec!["2026-06-16T08:00:00Z", "2026-06-16T08:30:00Z"]
    );
    assert_eq!(
        a_starts(&topic),
        vec![
            "2026-06-16T09:00:00Z",
            "2026-06-16T09:30:00Z",
            "2026-06-23T08:00:00Z",
        ]
    );

    // The mentor's own page shows their free times as before.
    let (own, _) = pages_for(&app, &a, &week).await;
    assert_eq!(starts(&own), starts(&anonymous));

    // Busy at every one of the week's times: nothing to book, and the
    // page says so.
    let full = app.create_user(Role::Learner);
    let c = mentor(&app, "UTC", "Third Mentor");
    for minute in [0, 30, 60, 90] {
        let start = at(2026, 6, 16, 8, 0) + chrono::Duration::minutes(minute);
        book(&app, &c, &full, "sql-basics", start);
    }
    let (html, _) = pages_for(&app, &full, &week).await;
    assert!(starts(&html).is_empty());
    assert_eq!(busy(&html).len(), 4);
    assert!(html.contains("No free times this week"));
    assert!(!anonymous.contains("No free times this week"));
}

/// The grid's last slot of a week may end after the week: a session the
/// visitor hosts then, whose buffer before it reaches back into that slot,
/// still marks it busy. (A New York week ends at 04:00 UTC; the session
/// starts more than two hours later.)
#[tokio::test]
async fn a_buffer_reaching_back_over_the_week_s_end_marks_the_last_slot_busy() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let a = mentor(&app, "UTC", "Late Mentor");
    offer(&app, &a, "sql-basics");
    diesel::update(mentor_profiles::table.find(a.id))
        .set(mentor_profiles::step_min.eq(15))
        .execute(&mut app.conn())
        .unwrap();
    // Mondays 03:30-05:00 UTC: Sunday 23:30 and 23:45 in New York.
    rule(&app, &a, 1, "03:30", "05:00");
    let host = mentor(&app, "UTC", "Hosting Mentor");
    // 06:10 UTC with two hours before it: occupied from 04:10.
    host_session(&app, &host, at(2026, 6, 22, 6, 10), (120, 0));

    let week = format!(
        "/mentors/{}?topic=sql-basics&week=2026-06-15&tz=America/New_York",
        a.id
    );
    let anonymous = page(&app, &week).await;
    assert_eq!(
        starts(&anonymous),
        vec!["2026-06-22T03:30:00Z", "2026-06-22T03:45:00Z"]
    );
    let (html, _) = pages_for(&app, &host, &week).await;
    assert_eq!(starts(&html), vec!["2026-06-22T03:30:00Z"]);
    assert_eq!(busy(&html), vec!["2026-06-22T03:45:00Z"]);
}

#[tokio::test]
async fn a_signed_out_visitor_s_header_links_lead_back_to_the_page() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "UTC", "Maya");
    offer(&app, &m, "sql-basics");
    rule(&app, &m, 2, "09:00", "09:30");
    let encode = |p: &str| url::form_urlencoded::byte_serialize(p.as_bytes()).collect::<String>();
    // A mentor's week in a chosen zone, and a topic page: the header's
    // Sign in and Create account links carry the page, query and all.
    for path in [
        format!(
            "/mentors/{}?topic=sql-basics&week=2026-06-22&tz=Asia/Kolkata",
            m.id
        ),
        "/topics/sql-basics".to_owned(),
    ] {
        let html = page(&app, &path).await;
        let next = encode(&path);
        for link in [
            format!("/login?next={next}"),
            format!("/register?next={next}"),
        ] {
            assert!(html.contains(&format!("href=\"{link}\"")), "{link}: {html}");
        }
        // The sign-in form it opens sends them back there.
        let form = page(&app, &format!("/login?next={next}")).await;
        assert!(
            form.contains(&format!("name=\"next\" value=\"{path}\"")),
            "{form}"
        );
        // Browsing is not booking: no "the time you picked" line.
        assert!(!form.contains("the time you picked"), "{form}");
    }
    // Elsewhere the links are plain.
    for path in ["/", "/login"] {
        let html = page(&app, path).await;
        assert!(html.contains("href=\"/login\""), "{path}: {html}");
        assert!(html.contains("href=\"/register\""), "{path}: {html}");
    }
}

#[tokio::test]
async fn a_renamed_zone_in_the_url_is_shown_by_its_current_name() {
    let app = spawn_app().await;
    add_topic(&app, "sql-basics", "SQL basics", true);
    let m = mentor(&app, "UTC", "Maya");
    offer(&app, &m, "sql-basics");
    rule(&app, &m, 2, "09:00", "09:30");
    // The page answers with its address under the current name (and in
    // its letter case): one name in the address bar, `next` and links.
    for (asked, current) in [
        ("Asia/Calcutta", "Asia%2FKolkata"),
        ("asia/kolkata", "Asia%2FKolkata"),
    ] {
        for path in [
            format!("/mentors/{}?week=2026-06-15&tz={asked}", m.id),
            format!("/topics/sql-basics?tz={asked}"),
        ] {
            let res = app.get(&path).await;
            assert_eq!(res.status(), StatusCode::FOUND, "{path}");
            let to = crate::harness::location(&res);
            assert!(to.ends_with(&format!("tz={current}")), "{to}");
            assert_eq!(to.split('?').next(), path.split('?').next());
        }
    }
    let html = page(
        &app,
        &format!("/mentors/{}?week=2026-06-15&tz=Asia%2FKolkata", m.id),
    )
    .await;
    assert!(html.contains("Asia/Kolkata"), "{html}");
    // (The zone list keeps the old name, for the browser's script.)
    assert!(!html.contains("(Asia/Calcutta)"), "{html}");
    assert!(!html.contains("in Asia/Calcutta"), "{html}");
    // 09:00 UTC is 14:30 in India; the slot link carries the current name.
    assert!(html.contains("14:30"), "{html}");
    assert!(
        links(&html, "/book?")[0].contains("tz=Asia%2FKolkata"),
        "{html}"
    );
}
