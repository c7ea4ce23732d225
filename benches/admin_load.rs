//! Admin pages on 100,000 bookings (issue 6): `cargo bench --bench admin_load`.
//!
//! Uses the release binary cargo builds for benchmarks
//! (`CARGO_BIN_EXE_officehours`), creates a scratch database on this
//! checkout's private cluster (`scripts/db start` / `scripts/db url`, or the
//! caller's `DATABASE_URL`, which must be on the loopback), runs
//! `officehours migrate`, seeds it with set-based SQL (`generate_series`)
//! and serves it with `officehours serve` on a free 127.0.0.1 port (real
//! clock, no SMTP, `OFFICEHOURS_LOG=warn`).
//!
//! Seed: 60 mentors (Europe/Berlin, Monday-Friday 09:00-16:00, all three
//! topics), 3,000 learners, 3 topics (30, 45 and 60 minutes) and 100,000
//! bookings on hourly slots from the Monday 40 weeks before this week to
//! about 7.6 weeks ahead: booking `i` is mentor `i % 60`'s slot `i / 60`
//! (35 a week), learner `(i + 37 * (i / 60)) % 3000`, so no mentor and no
//! learner ever has two bookings at once. Past ones are completed (70%),
//! cancelled (12%, a quarter of them late), no-show (8%) or still confirmed
//! (10%, not marked); future ones confirmed (88%) or cancelled (12%). One
//! admin (Europe/Berlin) with a server-side session inserted directly (the
//! cookie's token, its SHA-256 in `sessions.token_hash`). Then
//! `VACUUM ANALYZE`, the state autovacuum reaches on its own.
//!
//! Then, each with a warm-up that is not counted and a fixed number of
//! requests at a few in flight (p50/p99/max, requests per second):
//!
//! 1. `GET /admin/bookings?from=&to=&status=completed`: a 4-week range
//!    (eight different ones in turn, 8 to 38 weeks ago);
//! 2. `GET /admin/bookings?learner=<first and last name>` (3 learners,
//!    about 100 bookings) and `?learner=<last name>` (100 learners, about
//!    3,300 bookings);
//! 3. the 50th page of the unfiltered list: the 49 next links are followed
//!    once (their times printed), then the 50th page's URL is timed;
//! 4. `GET /admin`: the statistics.
//!
//! Afterwards it checks the 50th page starts at row 2,451, counts the
//! sequential scans of `bookings` during each phase
//! (`pg_stat_user_tables`), and prints `EXPLAIN (ANALYZE, BUFFERS)` of the
//! SQL the filtered list runs (`src/admin/bookings.rs`: the count and the
//! page query), both as a custom plan (the parameters' values known) and as
//! the generic plan PostgreSQL may switch to for a prepared statement after
//! five executions, and says which indexes they use. The target of issue 6
//! is a p99 under 50 ms for each page.
//!
//! The server is killed and the scratch database dropped at the end, on
//! error, on panic and on Ctrl-C. Settings (environment):
//!
//! | variable | default | what |
//! |---|---|---|
//! | `ADMIN_LOAD_REQUESTS` | 1000 | measured requests per target |
//! | `ADMIN_LOAD_CONCURRENCY` | 4 | requests in flight |
//! | `ADMIN_LOAD_WARM_UP` | 50 | unmeasured requests before each target |

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Europe::Berlin;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use officehours::clock::Clock;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use uuid::Uuid;

#[path = "support/mod.rs"]
mod support;

use support::{
    Result, Scratch, admin_url, create_scratch, free_port, heading, migrate, percentile,
    print_server_log, start_server, wait_ready,
};

const MENTORS: i64 = 60;
const LEARNERS: i64 = 3000;
const BOOKINGS: i64 = 100_000;
/// Weeks of history before the current week.
const PAST_WEEKS: u64 = 40;
/// Hourly slots a mentor has a week: Monday-Friday, 09:00-16:00.
const SLOTS_PER_WEEK: i64 = 35;
/// Rows per page of `/admin/bookings` (`admin::bookings::PAGE_SIZE`).
const PAGE_SIZE: usize = 50;
/// The page reached by next links.
const DEEP_PAGE: usize = 50;
/// The target of issue 6.
const TARGET_P99: Duration = Duration::from_millis(50);

/// Learners' first and last names: learner `n` is
/// `FIRST[n % 40] LAST[(n / 40) % 30]`, so a full name belongs to 2 or 3
/// learners and a last name to 100.
const FIRST: [&str; 40] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Tim",
    "Sophie",
    "Linus",
    "Karen",
    "John",
    "Hedy",
    "Niklaus",
    "Shafi",
    "Leslie",
    "Mary",
    "Bjarne",
    "Anita",
    "Guido",
    "Joan",
    "James",
    "Katherine",
    "Robin",
    "Lynn",
    "Brian",
    "Annie",
    "Whitfield",
    "Evelyn",
    "Martin",
    "Jean",
    "Peter",
    "Marian",
    "Tony",
    "Ida",
    "Ole",
];
const LAST: [&str; 30] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Wilson",
    "Torvalds",
    "Jones",
    "Backus",
    "Lamarr",
    "Wirth",
    "Goldwasser",
    "Lamport",
    "Keller",
    "Stroustrup",
    "Borg",
    "van Rossum",
    "Clarke",
    "Gosling",
    "Johnson",
    "Milner",
    "Conway",
    "Kernighan",
];

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` (CI) runs
    // benchmark targets without it, as a smoke test: a load run is not a
    // test, so it only says how to run it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("admin_load: a load benchmark; run it with `cargo bench --bench admin_load`");
        return;
    }
    if let Err(e) = run() {
        eprintln!("admin_load: error: {e}");
        std::process::exit(1);
    }
}

struct Config {
    requests: usize,
    concurrency: usize,
    warm_up: usize,
}

fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} must be a positive whole number, not {v:?}").into()),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(format!("{name}: {e}").into()),
    }
}

impl Config {
    fn from_env() -> Result<Self> {
        Ok(Config {
            requests: env_number("ADMIN_LOAD_REQUESTS", 1000)?,
            concurrency: env_number("ADMIN_LOAD_CONCURRENCY", 4)?,
            warm_up: env_number("ADMIN_LOAD_WARM_UP", 50)?,
        })
    }
}

// ---------------------------------------------------------------------
// Scratch database and server, cleaned up by Drop
// ---------------------------------------------------------------------

// ---------------------------------------------------------------------
// Seed
// ---------------------------------------------------------------------

struct Seed {
    /// The admin's cookie (`oh_session=…`).
    cookie: String,
    /// The Monday (Berlin) the bookings start on.
    first_monday: NaiveDate,
}

fn sql_text_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    format!("ARRAY[{}]::text[]", quoted.join(","))
}

fn seed(db_url: &str) -> Result<Seed> {
    let today = Clock::system().now().with_timezone(&Berlin).date_naive();
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let first_monday = monday - Days::new(7 * PAST_WEEKS);
    let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let first = sql_text_array(&FIRST);
    let last = sql_text_array(&LAST);
    let (m, l, n, per_week) = (MENTORS, LEARNERS, BOOKINGS, SLOTS_PER_WEEK);
    let sql = format!(
        "SET synchronous_commit = on;
BEGIN;
CREATE TEMP TABLE seed_mentors AS SELECT n, gen_random_uuid() AS id FROM generate_series(0, {m} - 1) n;
CREATE TEMP TABLE seed_learners AS SELECT n, gen_random_uuid() AS id FROM generate_series(0, {l} - 1) n;
CREATE TEMP TABLE seed_topics (n int, id uuid, slug text, title text, minutes int);
INSERT INTO seed_topics VALUES
  (0, gen_random_uuid(), 'javascript-fundamentals', 'JavaScript fundamentals', 30),
  (1, gen_random_uuid(), 'database-fundamentals', 'Database fundamentals', 45),
  (2, gen_random_uuid(), 'backend-debugging', 'Backend debugging', 60);
INSERT INTO topics (id, slug, title, description, duration_minutes, active, created_at, updated_at)
  SELECT id, slug, title, 'Seeded by the admin_load benchmark.', minutes, true, now(), now() FROM seed_topics;
INSERT INTO users (id, email, display_name, role, time_zone, email_verified_at, created_at, updated_at)
  SELECT id, format('mentor%s@admin-load.test', n),
         format('%s %s (mentor %s)', ({first})[1 + (n * 7) % 40], ({last})[1 + n % 30], n),
         'mentor', 'Europe/Berlin', now(), now() - interval '1 year', now()
    FROM seed_mentors;
INSERT INTO users (id, email, display_name, role, time_zone, email_verified_at, created_at, updated_at)
  SELECT id, format('learner%s@admin-load.test', n),
         format('%s %s', ({first})[1 + n % 40], ({last})[1 + (n / 40) % 30]),
         'learner', 'Europe/Berlin', now(), now() - interval '1 year', now()
    FROM seed_learners;
INSERT INTO mentor_profiles (user_id, headline, bio, meeting_url, accepting_bookings, buffer_before_min,
                             buffer_after_min, min_notice_hours, horizon_days, step_min, max_per_day,
                             max_per_week, created_at, updated_at)
  SELECT id, 'Volunteer mentor', '', 'https://meet.example.org/admin-load', true, 0, 0, 12, 56, 60,
         NULL, NULL, now(), now()
    FROM seed_mentors;
INSERT INTO mentor_topics (mentor_id, topic_id) SELECT m.id, t.id FROM seed_mentors m CROSS JOIN seed_topics t;
INSERT INTO weekly_rules (id, mentor_id, weekday, start_time, end_time)
  SELECT gen_random_uuid(), m.id, d, '09:00', '16:00' FROM seed_mentors m CROSS JOIN generate_series(1, 5) d;
-- The per-row slot-version trigger is replaced by one bump per person below.
ALTER TABLE bookings DISABLE TRIGGER bookings_slot_version;
WITH b AS (
  SELECT i, i % {m} AS mi, i / {m} AS k, (i + 37 * (i / {m})) % {l} AS li, (i / 7 + i / {m}) % 3 AS ti,
         ((hashint4(i) % 100) + 100) % 100 AS r
    FROM generate_series(0, {n} - 1) i
), s AS (
  SELECT b.*, ((DATE '{first_monday}' + ((k / {per_week}) * 7 + (k % {per_week}) / 7)::int)
                + TIME '09:00' + ((k % {per_week}) % 7) * interval '1 hour') AT TIME ZONE 'Europe/Berlin' AS at
    FROM b
), x AS (
  SELECT s.*,
         CASE WHEN s.at < now() THEN
                CASE WHEN r < 70 THEN 'completed' WHEN r < 82 THEN 'cancelled'
                     WHEN r < 90 THEN 'no_show' ELSE 'confirmed' END
              ELSE CASE WHEN r < 88 THEN 'confirmed' ELSE 'cancelled' END
         END AS status,
         r % 4 = 0 AS late
    FROM s
)
INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, buffer_before_min, buffer_after_min,
                      occupied, status, goals, cancelled_by, cancelled_as, cancel_reason, cancelled_at, late_cancel, sequence,
                      created_at, updated_at, timed_at, outcome_marked_at, outcome_marked_by)
SELECT gen_random_uuid(), sl.id, sm.id, st.id, x.at, x.at + make_interval(mins => st.minutes), 0, 0,
       tstzrange(x.at, x.at + make_interval(mins => st.minutes), '[)'), x.status,
       'I would like to understand how ' || st.title || ' fits together, with an example from my project.',
       CASE WHEN x.status = 'cancelled' THEN sl.id END,
       CASE WHEN x.status = 'cancelled' THEN 'learner' END,
       CASE WHEN x.status = 'cancelled' THEN 'Something came up at work.' END,
       CASE WHEN x.status = 'cancelled' THEN
         least(now(), x.at - CASE WHEN x.late THEN interval '3 hours' ELSE interval '2 days' END) END,
       x.status = 'cancelled' AND x.late, 0,
       x.at - interval '10 days', x.at - interval '1 day', x.at - interval '10 days',
       CASE WHEN x.status IN ('completed', 'no_show') THEN x.at + interval '2 hours' END,
       CASE WHEN x.status IN ('completed', 'no_show') THEN sm.id END
  FROM x
  JOIN seed_mentors sm ON sm.n = x.mi
  JOIN seed_learners sl ON sl.n = x.li
  JOIN seed_topics st ON st.n = x.ti
 ORDER BY x.at, x.mi;
ALTER TABLE bookings ENABLE TRIGGER bookings_slot_version;
INSERT INTO slot_versions (mentor_id, version) SELECT id, 1 FROM users
  ON CONFLICT (mentor_id) DO UPDATE SET version = slot_versions.version + 1;
INSERT INTO users (id, email, display_name, role, time_zone, email_verified_at, created_at, updated_at)
  VALUES ('{admin}', 'admin@admin-load.test', 'Load Admin', 'admin', 'Europe/Berlin', now(), now(), now());
INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at, ip, user_agent)
  VALUES (gen_random_uuid(), '{admin}', sha256(convert_to('{token}', 'UTF8')), now(), now(),
          now() + interval '30 days', '127.0.0.1', 'admin_load');
COMMIT;
",
        admin = Uuid::new_v4(),
    );
    let mut conn = PgConnection::establish(db_url)?;
    conn.batch_execute(&sql)
        .map_err(|e| format!("seeding failed: {e}"))?;
    // On its own: VACUUM cannot run inside the implicit transaction of a
    // multi-statement batch.
    conn.batch_execute("VACUUM ANALYZE")
        .map_err(|e| format!("VACUUM ANALYZE failed: {e}"))?;
    Ok(Seed {
        cookie: format!("oh_session={token}"),
        first_monday,
    })
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64> {
    Ok(diesel::sql_query(sql).get_result::<N>(conn)?.n)
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

fn lines(conn: &mut PgConnection, sql: &str) -> Result<Vec<String>> {
    Ok(diesel::sql_query(sql)
        .load::<Line>(conn)?
        .into_iter()
        .map(|l| l.line)
        .collect())
}

/// Scans of `bookings` so far: (sequential scans, rows they read, index
/// scans). The counters reach the view within a second.
fn booking_scans(conn: &mut PgConnection) -> Result<[i64; 3]> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        seq_scan: i64,
        #[diesel(sql_type = BigInt)]
        seq_tup_read: i64,
        #[diesel(sql_type = BigInt)]
        idx_scan: i64,
    }
    std::thread::sleep(Duration::from_millis(1100));
    let r: Row = diesel::sql_query(
        "SELECT coalesce(seq_scan, 0) AS seq_scan, coalesce(seq_tup_read, 0) AS seq_tup_read,
                coalesce(idx_scan, 0) AS idx_scan
           FROM pg_stat_user_tables WHERE relname = 'bookings'",
    )
    .get_result(conn)?;
    Ok([r.seq_scan, r.seq_tup_read, r.idx_scan])
}

fn scans_between(before: [i64; 3], after: [i64; 3]) -> String {
    format!(
        "{} sequential scans of bookings ({} rows read), {} index scans",
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2]
    )
}

// ---------------------------------------------------------------------
// EXPLAIN of the list's SQL (as built by src/admin/bookings.rs)
// ---------------------------------------------------------------------

/// `SELECT_ROWS` of `src/admin/bookings.rs`.
const SELECT_ROWS: &str = "SELECT b.id, b.start_at, b.end_at, b.status, b.goals, \
     b.cancel_reason, b.late_cancel, t.slug AS topic_slug, t.title AS topic_title, \
     m.id AS mentor_id, m.display_name AS mentor_name, m.email AS mentor_email, \
     l.id AS learner_id, l.display_name AS learner_name, l.email AS learner_email \
     FROM bookings b \
     JOIN users m ON m.id = b.mentor_id \
     JOIN users l ON l.id = b.learner_id \
     JOIN topics t ON t.id = b.topic_id";

/// One statement the list runs: its SQL with `$n` parameters, their types
/// and the values of the measured request (SQL literals).
struct Statement {
    label: String,
    sql: String,
    types: &'static str,
    args: Vec<String>,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The count and the first page of the list for `status` in
/// `[from, to)`, and for a learner name, as `bookings::count` and
/// `bookings::seek` build them.
fn list_statements(from: &str, to: &str, learner: &str) -> Vec<Statement> {
    let dates = "b.start_at >= $1 AND b.start_at < $2 AND b.status = $3";
    let date_args = vec![literal(from), literal(to), literal("completed")];
    let name = "(l.email ILIKE $1 ESCAPE '\\' OR l.display_name ILIKE $1 ESCAPE '\\')";
    let pattern = vec![literal(&format!("%{learner}%"))];
    vec![
        Statement {
            label: "status=completed, 4 weeks: count".into(),
            sql: format!("SELECT count(*) AS n FROM bookings b WHERE {dates}"),
            types: "timestamptz, timestamptz, text",
            args: date_args.clone(),
        },
        Statement {
            label: "status=completed, 4 weeks: first page".into(),
            sql: format!(
                "{SELECT_ROWS} WHERE {dates} ORDER BY b.start_at DESC, b.id DESC LIMIT {}",
                PAGE_SIZE + 1
            ),
            types: "timestamptz, timestamptz, text",
            args: date_args,
        },
        Statement {
            label: format!("learner={learner:?}: count"),
            sql: format!(
                "SELECT count(*) AS n FROM bookings b JOIN users l ON l.id = b.learner_id WHERE {name}"
            ),
            types: "text",
            args: pattern.clone(),
        },
        Statement {
            label: format!("learner={learner:?}: first page"),
            sql: format!(
                "{SELECT_ROWS} WHERE {name} ORDER BY b.start_at DESC, b.id DESC LIMIT {}",
                PAGE_SIZE + 1
            ),
            types: "text",
            args: pattern,
        },
    ]
}

/// The three aggregate statements of the statistics on `/admin`
/// (`src/admin/stats.rs`: `weeks_of`, `topics_of`, `mentors_with_booked`)
/// with the bounds the page uses now for an admin in Berlin.
fn stats_statements(now: chrono::DateTime<chrono::Utc>) -> Vec<Statement> {
    let at = |t: chrono::DateTime<chrono::Utc>| literal(&t.to_rfc3339());
    let bounds = officehours::admin::stats::week_bounds(chrono_tz::Europe::Berlin, now);
    let (from, to) = (bounds[0], bounds[bounds.len() - 1]);
    let array = format!(
        "ARRAY[{}]::timestamptz[]",
        bounds.iter().map(|b| at(*b)).collect::<Vec<_>>().join(", ")
    );
    let ahead = now + chrono::Duration::days(officehours::admin::stats::UTILISATION_DAYS);
    vec![
        Statement {
            label: "/admin statistics: weeks_of (12 weeks by outcome)".into(),
            sql: "SELECT width_bucket(start_at, $1) AS bucket, count(*) AS total, \
                  count(*) FILTER (WHERE status = 'cancelled') AS cancelled, \
                  count(*) FILTER (WHERE status = 'cancelled' AND late_cancel) AS late_cancelled, \
                  count(*) FILTER (WHERE status = 'completed') AS completed, \
                  count(*) FILTER (WHERE status = 'no_show') AS no_show \
                  FROM bookings WHERE start_at >= $2 AND start_at < $3 GROUP BY 1"
                .into(),
            types: "timestamptz[], timestamptz, timestamptz",
            args: vec![array, at(from), at(to)],
        },
        Statement {
            label: "/admin statistics: topics_of (12 weeks by topic)".into(),
            sql: "SELECT t.title, count(b.id) AS booked FROM topics t \
                  LEFT JOIN bookings b ON b.topic_id = t.id AND b.status <> 'cancelled' \
                  AND b.start_at >= $1 AND b.start_at < $2 \
                  GROUP BY t.id, t.title, t.active HAVING t.active OR count(b.id) > 0 \
                  ORDER BY booked DESC, t.title, t.id"
                .into(),
            types: "timestamptz, timestamptz",
            args: vec![at(from), at(to)],
        },
        Statement {
            label: "/admin statistics: mentors_with_booked (next 28 days)".into(),
            sql: "SELECT u.id, u.display_name, u.time_zone, \
                  coalesce(sum(extract(epoch FROM b.end_at - b.start_at)), 0)::bigint AS booked_seconds \
                  FROM users u LEFT JOIN bookings b ON b.mentor_id = u.id AND b.status <> 'cancelled' \
                  AND b.start_at >= $1 AND b.start_at < $2 \
                  WHERE u.disabled_at IS NULL AND (u.role = 'mentor' \
                  OR EXISTS (SELECT 1 FROM mentor_profiles p WHERE p.user_id = u.id)) \
                  GROUP BY u.id ORDER BY u.display_name, u.id"
                .into(),
            types: "timestamptz, timestamptz",
            args: vec![at(now), at(ahead)],
        },
    ]
}

/// `admin::stats::load` (every statement of the statistics and the hours
/// offered from the schedules, no HTTP, no rendering) `n` times, one at a
/// time: its p50 and max.
fn time_stats_load(conn: &mut PgConnection, n: usize) -> Result<Stats> {
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let now = Clock::system().now();
        let t0 = Instant::now();
        officehours::admin::stats::load(conn, chrono_tz::Europe::Berlin, now)?;
        took.push(t0.elapsed());
    }
    Ok(stats(&took))
}

/// What a plan reads `bookings` with, and how long it ran.
fn plan_summary(plan: &[String]) -> String {
    let mut scans = Vec::new();
    for line in plan {
        let l = line.trim_start().trim_start_matches("->").trim();
        let node = l.split("  (").next().unwrap_or(l);
        if node.contains("Scan") && !scans.iter().any(|s: &String| s == node) {
            scans.push(node.to_owned());
        }
    }
    let time = plan
        .iter()
        .find_map(|l| l.trim().strip_prefix("Execution Time: "))
        .unwrap_or("?");
    format!("{}; execution {time}", scans.join(" | "))
}

fn seq_scan_on_bookings(plan: &[String]) -> bool {
    plan.iter().any(|l| l.contains("Seq Scan on bookings"))
}

/// Prints EXPLAIN (ANALYZE, BUFFERS) of each statement, custom and generic
/// plan; returns whether any reads `bookings` sequentially.
fn explain(conn: &mut PgConnection, statements: &[Statement]) -> Result<bool> {
    let mut seq = false;
    conn.batch_execute("DEALLOCATE ALL")?;
    for (i, st) in statements.iter().enumerate() {
        conn.batch_execute(&format!(
            "PREPARE admin_load_{i} ({}) AS {}",
            st.types, st.sql
        ))?;
        let exec = format!(
            "EXPLAIN (ANALYZE, BUFFERS) EXECUTE admin_load_{i} ({})",
            st.args.join(", ")
        );
        conn.batch_execute("SET plan_cache_mode = force_custom_plan")?;
        let custom = explain_lines(conn, &exec)?;
        conn.batch_execute("SET plan_cache_mode = force_generic_plan")?;
        let generic = explain_lines(conn, &exec)?;
        conn.batch_execute("RESET plan_cache_mode")?;
        println!("\n--- EXPLAIN {} (custom plan: the values known)", st.label);
        println!("    {}", st.sql);
        for l in &custom {
            println!("  {l}");
        }
        println!("  => {}", plan_summary(&custom));
        println!(
            "--- the same as a generic plan (what a prepared statement may switch to): {}",
            plan_summary(&generic)
        );
        if seq_scan_on_bookings(&generic) {
            for l in &generic {
                println!("  {l}");
            }
        }
        seq |= seq_scan_on_bookings(&custom) || seq_scan_on_bookings(&generic);
    }
    Ok(seq)
}

/// EXPLAIN's rows: its one column is named `QUERY PLAN`.
fn explain_lines(conn: &mut PgConnection, sql: &str) -> Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    Ok(diesel::sql_query(sql)
        .load::<Plan>(conn)?
        .into_iter()
        .map(|p| p.line)
        .collect())
}

// ---------------------------------------------------------------------
// HTTP load
// ---------------------------------------------------------------------

#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    wall: Duration,
    bytes: usize,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_insert(0) += n;
        }
        self.transport_errors += other.transport_errors;
        self.bytes += other.bytes;
    }

    fn not_200(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| **s != 200)
            .map(|(_, n)| n)
            .sum::<usize>()
            + self.transport_errors
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// `n` GETs of `urls` (in turn) with `concurrency` in flight.
async fn measure(
    client: &reqwest::Client,
    cookie: &str,
    urls: &[String],
    n: usize,
    concurrency: usize,
) -> Outcome {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| async {
        let mut out = Outcome::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let url = &urls[i % urls.len()];
            let t0 = Instant::now();
            let res = client.get(url).header(COOKIE, cookie).send().await;
            match res {
                Ok(res) => {
                    let status = res.status().as_u16();
                    match res.bytes().await {
                        Ok(body) => {
                            out.latencies.push(t0.elapsed());
                            out.bytes += body.len();
                            *out.statuses.entry(status).or_insert(0) += 1;
                        }
                        Err(_) => out.transport_errors += 1,
                    }
                }
                Err(_) => out.transport_errors += 1,
            }
        }
        out
    });
    let parts = futures_util::future::join_all(workers).await;
    let mut total = Outcome::default();
    for p in parts {
        total.merge(p);
    }
    total.wall = started.elapsed();
    total
}

async fn get_page(client: &reqwest::Client, cookie: &str, url: &str) -> Result<String> {
    let res = client.get(url).header(COOKIE, cookie).send().await?;
    let status = res.status();
    let body = res.text().await?;
    if status != StatusCode::OK {
        return Err(format!("GET {url} answered {status}").into());
    }
    Ok(body)
}

/// The href of the page's `rel="next"` link, unescaped.
fn next_href(html: &str) -> Option<String> {
    let marker = "<a rel=\"next\" href=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

fn rows_on(html: &str) -> usize {
    html.matches("data-booking-id=").count()
}

/// `N bookings match.` / `N bookings.` as shown.
fn summary(html: &str) -> String {
    let re = regex::Regex::new(r"(\d+) bookings?( match)?\.").ok();
    re.and_then(|re| re.find(html).map(|m| m.as_str().to_owned()))
        .unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(latencies: &[Duration]) -> Stats {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    Stats {
        n: sorted.len(),
        p50: percentile(&sorted, 50.0),
        p99: percentile(&sorted, 99.0),
        max: sorted.last().copied().unwrap_or_default(),
    }
}

/// The 1-minute load average and the compilers (rustc, cargo, clippy)
/// running right now: other work sharing the machine.
fn machine_note() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    let mut compilers = BTreeMap::<String, usize>::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) {
                let comm = comm.trim();
                if matches!(comm, "rustc" | "cargo" | "clippy-driver" | "rustdoc") {
                    *compilers.entry(comm.to_owned()).or_insert(0) += 1;
                }
            }
        }
    }
    // This benchmark runs under `cargo bench`: one cargo is ours.
    if let Some(n) = compilers.get_mut("cargo") {
        *n -= 1;
    }
    compilers.retain(|_, n| *n > 0);
    let others = if compilers.is_empty() {
        "none".to_owned()
    } else {
        compilers
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("load average {load}, other compilers running: {others}")
}

// ---------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------

fn run() -> Result<()> {
    let cfg = Config::from_env()?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_officehours"));

    heading("database (scripts/db)");
    let admin = admin_url(&root)?;
    let mut scratch = create_scratch("admin_load", admin)?;
    eprintln!("scratch database {}", scratch.name);
    migrate(&bin, &scratch.url)?;

    heading(&format!(
        "seed: {MENTORS} mentors, {LEARNERS} learners, 3 topics, {BOOKINGS} bookings, one admin; \
         VACUUM ANALYZE"
    ));
    let t0 = Instant::now();
    let seed = seed(&scratch.url)?;
    eprintln!("seeded in {:.1} s", t0.elapsed().as_secs_f64());

    let log = tempfile::NamedTempFile::new()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    heading(&format!("{} serve on {base}", bin.display()));
    scratch.server = Some(start_server(&bin, &scratch.url, port, log.as_file())?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        tokio::select! {
            r = drive(&cfg, &mut scratch, &seed, &base) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        }
    });
    scratch.stop_server();
    print_server_log(log.path());
    let failures = result?;
    if failures > 0 {
        return Err(format!("{failures} check(s) failed (see above)").into());
    }
    Ok(())
}

struct Target {
    label: String,
    urls: Vec<String>,
}

/// The measurements against the running server; returns the number of
/// failed checks (the figures are printed either way).
async fn drive(cfg: &Config, scratch: &mut Scratch, seed: &Seed, base: &str) -> Result<usize> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()?;
    {
        let server = scratch.server.as_mut().ok_or("no server")?;
        wait_ready(&client, base, server).await?;
    }
    let mut conn = PgConnection::establish(&scratch.url)?;
    let cookie = seed.cookie.as_str();
    let mut failures = 0;

    let statuses = lines(
        &mut conn,
        "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) AS line
           FROM (SELECT status, count(*) AS n FROM bookings GROUP BY status) s",
    )?;
    let range = lines(
        &mut conn,
        "SELECT min(start_at)::text || ' .. ' || max(start_at)::text AS line FROM bookings",
    )?;
    let visible = lines(
        &mut conn,
        "SELECT relallvisible || ' of ' || relpages AS line FROM pg_class WHERE relname = 'bookings'",
    )?;
    println!(
        "bookings by status: {}; starts {}; all-visible pages {}",
        statuses.join(""),
        range.join(""),
        visible.join("")
    );

    // 1. status=completed over 4 weeks, eight ranges 8 to 38 weeks ago.
    let ranges: Vec<(NaiveDate, NaiveDate)> = (0..8u64)
        .map(|j| {
            let from = seed.first_monday + Days::new(7 * (2 + 4 * j));
            (from, from + Days::new(27))
        })
        .collect();
    let status_urls: Vec<String> = ranges
        .iter()
        .map(|(f, t)| format!("{base}/admin/bookings?from={f}&to={t}&status=completed"))
        .collect();
    // 2. a learner's full name (2-3 learners), and a last name (100).
    let full_name = "Grace Lovelace";
    let last_name = "Hopper";
    let targets = vec![
        Target {
            label: "/admin/bookings status=completed, 4 weeks".into(),
            urls: status_urls,
        },
        Target {
            label: format!("/admin/bookings learner={full_name:?}"),
            urls: vec![format!(
                "{base}/admin/bookings?learner={}",
                full_name.replace(' ', "+")
            )],
        },
        Target {
            label: format!("/admin/bookings learner={last_name:?}"),
            urls: vec![format!("{base}/admin/bookings?learner={last_name}")],
        },
    ];
    for t in &targets {
        let html = get_page(&client, cookie, &t.urls[0]).await?;
        println!(
            "{}: {} ({} rows on the first page, {} KB)",
            t.label,
            summary(&html),
            rows_on(&html),
            html.len() / 1024
        );
    }

    // 3. Follow the next links to the 50th page, once.
    heading(&format!(
        "following {} next links from /admin/bookings",
        DEEP_PAGE - 1
    ));
    let mut url = format!("{base}/admin/bookings");
    let mut follow = Vec::new();
    let mut html = get_page(&client, cookie, &url).await?;
    println!("/admin/bookings (no filter): {}", summary(&html));
    for page in 2..=DEEP_PAGE {
        let href = next_href(&html).ok_or(format!("page {} has no next link", page - 1))?;
        url = format!("{base}{href}");
        let t0 = Instant::now();
        html = get_page(&client, cookie, &url).await?;
        follow.push(t0.elapsed());
    }
    let f = stats(&follow);
    println!(
        "pages 2-{DEEP_PAGE} reached by next links, once each: p50 {}, max {}; page {DEEP_PAGE}: {} ({} rows)",
        ms(f.p50),
        ms(f.max),
        url.trim_start_matches(base),
        rows_on(&html)
    );
    // The 50th page starts after row 2,450 of the list's order.
    let after = url
        .split("after=")
        .nth(1)
        .and_then(|v| v.split('&').next())
        .and_then(|v| v.split_once('_'))
        .ok_or("the 50th page's URL has no after= key")?;
    let micros: i64 = after.0.parse()?;
    let id = Uuid::parse_str(after.1)?;
    let before_it = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM bookings
              WHERE (start_at, id) >= (timestamptz 'epoch' + {micros} * interval '1 microsecond',
                                       '{id}'::uuid)"
        ),
    )?;
    let expected = i64::try_from((DEEP_PAGE - 1) * PAGE_SIZE)?;
    let deep_ok = before_it == expected && rows_on(&html) == PAGE_SIZE;
    if !deep_ok {
        failures += 1;
    }
    println!(
        "check: the 50th page follows row {before_it} of the list (expected {expected}), {} rows: {}",
        rows_on(&html),
        if deep_ok { "ok" } else { "WRONG" }
    );

    let mut all = targets;
    all.push(Target {
        label: format!("/admin/bookings page {DEEP_PAGE} (after=)"),
        urls: vec![url.clone()],
    });
    all.push(Target {
        label: "/admin (statistics)".into(),
        urls: vec![format!("{base}/admin")],
    });
    let stats_html = get_page(&client, cookie, &format!("{base}/admin")).await?;
    println!("/admin: {} KB", stats_html.len() / 1024);

    let mut results = Vec::new();
    for t in &all {
        heading(&format!(
            "{}: {} warm-up + {} requests, {} in flight",
            t.label, cfg.warm_up, cfg.requests, cfg.concurrency
        ));
        let machine = machine_note();
        eprintln!("{machine}");
        let warm = measure(&client, cookie, &t.urls, cfg.warm_up, cfg.concurrency).await;
        let scans_before = booking_scans(&mut conn)?;
        let out = measure(&client, cookie, &t.urls, cfg.requests, cfg.concurrency).await;
        let scans = scans_between(scans_before, booking_scans(&mut conn)?);
        if warm.not_200() + out.not_200() > 0 {
            failures += 1;
        }
        results.push((t.label.clone(), out, scans, machine));
    }

    // ------------------------------------------------------------------
    heading("EXPLAIN (ANALYZE, BUFFERS) of the filtered list's SQL");
    let (from, to) = ranges[3];
    let from_utc = format!("{from} 00:00 Europe/Berlin");
    let to_utc = format!("{} 00:00 Europe/Berlin", to + Days::new(1));
    let seq = explain(&mut conn, &list_statements(&from_utc, &to_utc, full_name))?;

    heading("EXPLAIN (ANALYZE, BUFFERS) of the statistics' SQL");
    let stats_seq = explain(&mut conn, &stats_statements(Clock::system().now()))?;
    let load_alone = time_stats_load(&mut conn, 20)?;

    let schema = count(
        &mut conn,
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    )?;
    println!();
    println!(
        "admin_load: {BOOKINGS} bookings, {MENTORS} mentors, {LEARNERS} learners, 3 topics; \
         {} requests per target after {} warm-up, {} in flight; {schema} migrations, release build, loopback",
        cfg.requests, cfg.warm_up, cfg.concurrency
    );
    println!(
        "{:<46} {:>8} {:>8} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "GET", "requests", "per s", "p50", "p99", "max", "KB/page", "not 200"
    );
    let mut met = true;
    for (label, out, _, _) in &results {
        let s = stats(&out.latencies);
        met &= s.p99 < TARGET_P99 && out.not_200() == 0;
        println!(
            "{label:<46} {:>8} {:>8.0} {:>10} {:>10} {:>10} {:>8} {:>8}",
            s.n,
            out.rate(),
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            out.bytes / s.n.max(1) / 1024,
            out.not_200()
        );
    }
    for (label, out, scans, machine) in &results {
        let s = stats(&out.latencies);
        println!(
            "{label}: p99 {} (target < 50 ms: {}); {scans}; before it: {machine}",
            ms(s.p99),
            if s.p99 < TARGET_P99 { "met" } else { "NOT met" }
        );
    }
    println!(
        "EXPLAIN of the filtered list (count and first page, custom and generic plans): {}",
        if seq {
            "a SEQUENTIAL SCAN of bookings (see above)"
        } else {
            "bookings read through indexes only (no sequential scan of bookings)"
        }
    );
    println!(
        "EXPLAIN of the statistics' three aggregates: {}",
        if stats_seq {
            "a SEQUENTIAL SCAN of bookings (see above)"
        } else {
            "bookings read through indexes only (no sequential scan of bookings)"
        }
    );
    println!(
        "admin::stats::load alone (its SQL and the hours offered, no HTTP or rendering), \
         {} times one at a time: p50 {}, max {}",
        load_alone.n,
        ms(load_alone.p50),
        ms(load_alone.max)
    );
    println!(
        "all targets (p99 < 50 ms, every answer 200): {}",
        if met { "met" } else { "NOT met" }
    );
    println!("machine at the end: {}", machine_note());
    Ok(failures)
}
