//! Booking under load (issue 5): `cargo bench --bench booking_load`.
//!
//! Uses the release binary cargo builds for benchmarks
//! (`CARGO_BIN_EXE_officehours`), creates a scratch database on this
//! checkout's private cluster (`scripts/db start` / `scripts/db url`, or the
//! caller's `DATABASE_URL`, which must be on the loopback), runs
//! `officehours migrate`, seeds it with SQL and serves it with
//! `officehours serve` on a free 127.0.0.1 port (real clock, no SMTP so
//! every email stays in the outbox, `OFFICEHOURS_LOG=warn`).
//!
//! Seed: 20 mentors (+1 for the race) in Europe/Berlin, all accepting one
//! 30-minute topic every day 08:00-20:00 (30-minute steps, no buffers, no
//! notice, 60-day horizon); 400 learners (+64 for the race), verified, each
//! with a server-side session inserted directly (the cookie's token, its
//! SHA-256 in `sessions.token_hash`); the fairness caps raised to the most
//! the CHECK allows; and a history of past sessions (every hour of the
//! last 60 days for each of the 20 mentors: 14,400 completed bookings),
//! then `ANALYZE`, so the planner works from real statistics as it would
//! in production rather than from an empty `bookings` table. The CSRF
//! token of each learner is read from `GET /me/sessions`.
//!
//! Then, at a fixed number of requests in flight:
//!
//! 1. `GET /readyz` (one `SELECT 1`) for N seconds: the trivial handler.
//! 2. `POST /bookings` on distinct free slots for N seconds: request `i`
//!    books mentor `i % 20`, slot `i / 20` (day by day from tomorrow), as
//!    learner `i % 400`, so no slot is asked for twice and no learner
//!    overlaps themselves; every answer must be 303. Afterwards SQL checks
//!    that no two live bookings of a mentor overlap.
//! 3. Races: 64 learners POST the same fresh free slot at once (released
//!    together by a barrier on 64 warm connections); exactly one 303 and
//!    63 refusals (409) are expected. Repeated on a fresh slot per round;
//!    each round's line says what else the database had to do as it
//!    started (outbox messages the worker had still to handle, autovacuum
//!    at work), since a first round right after phase 2 can be slower.
//!
//! Besides the table (requests, rate, p50/p99/max, requests over 1 s,
//! unexpected answers) and the targets of issue 5 (bookings/s at least 20%
//! of readyz req/s, refusals' p99 under 50 ms, no request over 1 s), it
//! prints what helps explain them: the CPU split between server,
//! PostgreSQL and load generator (Linux `/proc`), `pg_stat_activity`
//! samples (connections, lock waits), rows written per booking, sequential
//! scans, requests over 1 s by the server's own `/metrics`, and the load
//! average and compilers running, since other work on the machine skews
//! every figure. A failed correctness check (a non-303 booking, a race
//! without exactly one winner, overlapping bookings) exits non-zero.
//!
//! Each phase has a short unmeasured warm-up first. The server is killed
//! and the scratch database dropped at the end, on error, on panic and on
//! Ctrl-C. Settings (environment):
//!
//! | variable | default | what |
//! |---|---|---|
//! | `BOOKING_LOAD_SECONDS` | 10 | length of phases 1 and 2 |
//! | `BOOKING_LOAD_CONCURRENCY` | 32 | requests in flight in phases 1 and 2 |
//! | `BOOKING_LOAD_RACE_ROUNDS` | 5 | races of 64 on one slot |
//! | `BOOKING_LOAD_HISTORY_DAYS` | 60 | days of past (completed) sessions seeded, 0 for none |
//!
//! `OFFICEHOURS_DB_POOL` and the other `OFFICEHOURS_*` settings reach the
//! server unchanged (except bind, base URL and log level).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use futures_util::StreamExt;
use officehours::clock::Clock;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, ORIGIN};
use uuid::Uuid;

#[path = "support/mod.rs"]
mod support;

use support::{
    Error, Result, Scratch, admin_url, create_scratch, free_port, heading, migrate, percentile,
    print_server_log, start_server, wait_ready,
};

/// Mentors booked in phase 2.
const MENTORS: usize = 20;
/// Learners booking in phase 2: a multiple of `MENTORS`, so a learner
/// always books the same mentor, at distinct times.
const LEARNERS: usize = 400;
/// Learners racing for one slot in phase 3 (their own accounts).
const RACERS: usize = 64;
/// Days with slots, from tomorrow (Berlin); inside the 60-day horizon.
const DAYS: usize = 56;
/// 08:00-20:00 in 30-minute slots.
const SLOTS_PER_DAY: usize = 24;
const TOPIC_SLUG: &str = "booking-load";
const GOALS: &str = "Walk me through the indexes of one slow query, please.";
/// A request slower than this counts as a stall.
const STALL: Duration = Duration::from_secs(1);
/// Unmeasured warm-up before each phase.
const WARM_UP: Duration = Duration::from_secs(2);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` (CI) runs
    // benchmark targets without it, as a smoke test: a load run is not a
    // test, so it only says how to run it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("booking_load: a load benchmark; run it with `cargo bench --bench booking_load`");
        return;
    }
    if let Err(e) = run() {
        eprintln!("booking_load: error: {e}");
        std::process::exit(1);
    }
}

struct Config {
    seconds: u64,
    concurrency: usize,
    race_rounds: usize,
    history_days: usize,
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
        let race_rounds = env_number("BOOKING_LOAD_RACE_ROUNDS", 5)?;
        if race_rounds > DAYS * SLOTS_PER_DAY {
            return Err(format!(
                "BOOKING_LOAD_RACE_ROUNDS must be at most {}",
                DAYS * SLOTS_PER_DAY
            )
            .into());
        }
        Ok(Config {
            seconds: u64::try_from(env_number("BOOKING_LOAD_SECONDS", 10)?)?,
            concurrency: env_number("BOOKING_LOAD_CONCURRENCY", 32)?,
            race_rounds,
            history_days: match std::env::var("BOOKING_LOAD_HISTORY_DAYS").as_deref() {
                Ok("0") => 0,
                _ => env_number("BOOKING_LOAD_HISTORY_DAYS", 60)?,
            },
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
    mentors: Vec<Uuid>,
    race_mentor: Uuid,
    /// Session tokens (the cookie values) of the phase-2 learners…
    learners: Vec<String>,
    /// …and of the racers.
    racers: Vec<String>,
    /// Tomorrow in Berlin: the first day with slots.
    first_day: NaiveDate,
}

fn token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn seed(db_url: &str, history_days: usize) -> Result<Seed> {
    let today = Clock::system().now().with_timezone(&Berlin).date_naive();
    let mentors: Vec<Uuid> = (0..MENTORS).map(|_| Uuid::new_v4()).collect();
    let race_mentor = Uuid::new_v4();
    let learner_ids: Vec<Uuid> = (0..LEARNERS + RACERS).map(|_| Uuid::new_v4()).collect();
    let tokens: Vec<String> = learner_ids.iter().map(|_| token()).collect();
    let topic = Uuid::new_v4();

    let mut sql = String::from("BEGIN;\n");
    sql.push_str(
        "INSERT INTO users (id, email, display_name, role, time_zone, email_verified_at, \
         created_at, updated_at) VALUES\n",
    );
    let mut rows = Vec::new();
    for (n, id) in mentors.iter().chain([&race_mentor]).enumerate() {
        rows.push(format!(
            "('{id}', 'mentor{n}@load.test', 'Load Mentor {n}', 'mentor', 'Europe/Berlin', \
             now(), now(), now())"
        ));
    }
    for (n, id) in learner_ids.iter().enumerate() {
        rows.push(format!(
            "('{id}', 'learner{n}@load.test', 'Load Learner {n}', 'learner', 'Europe/Berlin', \
             now(), now(), now())"
        ));
    }
    sql.push_str(&rows.join(",\n"));
    sql.push_str(";\n");
    let _ = writeln!(
        sql,
        "INSERT INTO topics (id, slug, title, description, duration_minutes, active, created_at, \
         updated_at) VALUES ('{topic}', '{TOPIC_SLUG}', 'Booking load', 'The load benchmark.', \
         30, true, now(), now());"
    );
    sql.push_str(
        "INSERT INTO mentor_profiles (user_id, headline, bio, meeting_url, accepting_bookings, \
         buffer_before_min, buffer_after_min, min_notice_hours, horizon_days, step_min, \
         max_per_day, max_per_week, created_at, updated_at)
         SELECT id, 'Load mentor', '', 'https://meet.example.org/load', true, 0, 0, 0, 60, 30, \
         NULL, NULL, now(), now() FROM users WHERE role = 'mentor';
         INSERT INTO mentor_topics (mentor_id, topic_id) SELECT user_id, t.id FROM mentor_profiles \
         CROSS JOIN topics t;
         INSERT INTO weekly_rules (id, mentor_id, weekday, start_time, end_time)
         SELECT gen_random_uuid(), user_id, d, '08:00', '20:00' FROM mentor_profiles \
         CROSS JOIN generate_series(1, 7) d;
         UPDATE booking_policy SET max_upcoming = 100, max_upcoming_per_topic = 100, \
         max_per_month = 1000, updated_at = now();\n",
    );
    sql.push_str(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at, ip, \
         user_agent) VALUES\n",
    );
    let rows: Vec<String> = learner_ids
        .iter()
        .zip(&tokens)
        .map(|(id, t)| {
            format!(
                "(gen_random_uuid(), '{id}', sha256(convert_to('{t}', 'UTF8')), now(), now(), \
                 now() + interval '30 days', '127.0.0.1', 'booking_load')"
            )
        })
        .collect();
    sql.push_str(&rows.join(",\n"));
    sql.push_str(";\n");
    // History: the phase-2 mentors' past sessions, every hour 08:00-19:00
    // of the `history_days` days before today, with the same learners
    // (learner n % 400 with mentor n % 20, so nobody overlaps), completed.
    if history_days > 0 {
        let list = |ids: &[Uuid]| {
            ids.iter()
                .map(|id| format!("'{id}'"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = writeln!(
            sql,
            "WITH m AS (SELECT id, n - 1 AS n FROM unnest(ARRAY[{mentors}]::uuid[]) WITH ORDINALITY AS t(id, n)),
                  l AS (SELECT id, n - 1 AS n FROM unnest(ARRAY[{learners}]::uuid[]) WITH ORDINALITY AS t(id, n))
             INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, buffer_before_min,
                                   buffer_after_min, occupied, status, goals, idempotency_key, created_at, updated_at)
             SELECT gen_random_uuid(), l.id, m.id, '{topic}', s.at, s.at + interval '30 minutes', 0, 0,
                    tstzrange(s.at, s.at + interval '30 minutes', '[)'), 'completed', '{GOALS}', gen_random_uuid(),
                    s.at - interval '7 days', s.at
               FROM generate_series(0, {last}) i
               JOIN m ON m.n = i % {MENTORS}
               JOIN l ON l.n = i % {LEARNERS}
              CROSS JOIN LATERAL (SELECT (DATE '{today}' - 1 - (i / {MENTORS}) / 12 + TIME '08:00'
                                          + ((i / {MENTORS}) % 12) * interval '1 hour')
                                         AT TIME ZONE 'Europe/Berlin' AS at) s;",
            mentors = list(&mentors),
            learners = list(&learner_ids[..LEARNERS]),
            last = MENTORS * 12 * history_days - 1,
        );
    }
    sql.push_str("COMMIT;\nANALYZE;\n");

    let mut conn = PgConnection::establish(db_url)?;
    conn.batch_execute(&sql)
        .map_err(|e| format!("seeding failed: {e}"))?;
    let mut tokens = tokens;
    let racers = tokens.split_off(LEARNERS);
    Ok(Seed {
        mentors,
        race_mentor,
        learners: tokens,
        racers,
        first_day: today.checked_add_days(Days::new(1)).ok_or("no tomorrow")?,
    })
}

/// The UTC start of slot `index` (day `index / 24` from `first_day`,
/// 08:00 + 30 min × `index % 24`, Berlin time).
fn slot_start(first_day: NaiveDate, index: usize) -> Option<DateTime<Utc>> {
    let day = first_day.checked_add_days(Days::new(u64::try_from(index / SLOTS_PER_DAY).ok()?))?;
    let minutes = u32::try_from(8 * 60 + 30 * (index % SLOTS_PER_DAY)).ok()?;
    let time = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)?;
    Berlin
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    Ok(diesel::sql_query(sql).get_result::<N>(conn)?.n)
}

/// What else the database is doing as a race round starts: the outbox
/// messages the worker has still to handle, and any autovacuum at work on
/// the scratch database (its tables) — the usual suspects when a round is
/// slower than the others.
fn background(conn: &mut PgConnection) -> Result<String> {
    #[derive(QueryableByName)]
    struct Vacuums {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        tables: Option<String>,
    }
    let waiting = count(
        conn,
        "SELECT count(*) AS n FROM email_outbox WHERE state IN ('pending', 'sending')",
    )?;
    let vacuums = diesel::sql_query(
        "SELECT string_agg(regexp_replace(query, '^autovacuum: ', ''), '; ') AS tables
           FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'autovacuum worker'",
    )
    .get_result::<Vacuums>(conn)?
    .tables;
    Ok(format!(
        "outbox waiting {waiting}, autovacuum: {}",
        vacuums.as_deref().unwrap_or("none")
    ))
}

/// The tables PostgreSQL read most rows from by sequential scans so far
/// (`pg_stat_user_tables`): a missing index shows up here.
fn seq_scans(conn: &mut PgConnection) -> Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        relname: String,
        #[diesel(sql_type = BigInt)]
        seq_scan: i64,
        #[diesel(sql_type = BigInt)]
        seq_tup_read: i64,
        #[diesel(sql_type = BigInt)]
        idx_scan: i64,
        #[diesel(sql_type = BigInt)]
        live: i64,
    }
    // The counters reach the view within a second.
    std::thread::sleep(Duration::from_millis(1100));
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT relname::text AS relname, coalesce(seq_scan, 0) AS seq_scan,
                coalesce(seq_tup_read, 0) AS seq_tup_read, coalesce(idx_scan, 0) AS idx_scan,
                n_live_tup AS live
           FROM pg_stat_user_tables WHERE seq_tup_read > 0
          ORDER BY seq_tup_read DESC LIMIT 4",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            format!(
                "{} ({} rows): {} seq scans read {} rows, {} index scans",
                r.relname, r.live, r.seq_scan, r.seq_tup_read, r.idx_scan
            )
        })
        .collect())
}

/// Rows inserted, updated and deleted so far, per table
/// (`pg_stat_user_tables`, which lags up to a second behind).
fn table_writes(conn: &mut PgConnection) -> Result<BTreeMap<String, [i64; 3]>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        relname: String,
        #[diesel(sql_type = BigInt)]
        ins: i64,
        #[diesel(sql_type = BigInt)]
        upd: i64,
        #[diesel(sql_type = BigInt)]
        del: i64,
    }
    std::thread::sleep(Duration::from_millis(1100));
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT relname::text AS relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del
           FROM pg_stat_user_tables",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.relname, [r.ins, r.upd, r.del]))
        .collect())
}

/// Rows written per booking between two `table_writes`, largest first.
fn writes_per(
    before: &BTreeMap<String, [i64; 3]>,
    after: &BTreeMap<String, [i64; 3]>,
    bookings: usize,
) -> String {
    let n = bookings.max(1) as f64;
    let mut v: Vec<(i64, String)> = after
        .iter()
        .filter_map(|(table, a)| {
            let b = before.get(table).copied().unwrap_or_default();
            let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
            let total = d[0] + d[1] + d[2];
            let parts: Vec<String> = ["ins", "upd", "del"]
                .iter()
                .zip(d)
                .filter(|(_, x)| *x > 0)
                .map(|(what, x)| format!("{what} {:.1}", x as f64 / n))
                .collect();
            (total > 0).then(|| (total, format!("{table} {}", parts.join("/"))))
        })
        .collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.0));
    v.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------
// Database activity while loaded
// ---------------------------------------------------------------------

#[derive(QueryableByName)]
struct ActivityRow {
    #[diesel(sql_type = BigInt)]
    conns: i64,
    #[diesel(sql_type = BigInt)]
    active: i64,
    #[diesel(sql_type = BigInt)]
    in_tx: i64,
    #[diesel(sql_type = BigInt)]
    lock_waits: i64,
}

/// `pg_stat_activity` of the scratch database sampled every 50 ms.
#[derive(Default)]
struct Activity {
    samples: i64,
    max_conns: i64,
    active: i64,
    max_active: i64,
    in_tx: i64,
    lock_waits: i64,
    max_lock_waits: i64,
}

impl Activity {
    fn summary(&self) -> String {
        let n = self.samples.max(1) as f64;
        format!(
            "server connections max {}; active mean {:.1} (max {}); idle in transaction mean {:.1}; \
             waiting for a row lock mean {:.1} (max {}); {} samples",
            self.max_conns,
            self.active as f64 / n,
            self.max_active,
            self.in_tx as f64 / n,
            self.lock_waits as f64 / n,
            self.max_lock_waits,
            self.samples
        )
    }
}

struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Result<Activity>>,
}

impl Sampler {
    fn start(db_url: &str) -> Result<Sampler> {
        let mut conn = PgConnection::establish(db_url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || -> Result<Activity> {
            let mut a = Activity::default();
            while !flag.load(Ordering::Relaxed) {
                let r: ActivityRow = diesel::sql_query(
                    "SELECT count(*) AS conns,
                            count(*) FILTER (WHERE state = 'active') AS active,
                            count(*) FILTER (WHERE state = 'idle in transaction') AS in_tx,
                            count(*) FILTER (WHERE wait_event_type = 'Lock') AS lock_waits
                       FROM pg_stat_activity
                      WHERE datname = current_database() AND pid <> pg_backend_pid()
                        AND backend_type = 'client backend'",
                )
                .get_result(&mut conn)?;
                a.samples += 1;
                a.max_conns = a.max_conns.max(r.conns);
                a.active += r.active;
                a.max_active = a.max_active.max(r.active);
                a.in_tx += r.in_tx;
                a.lock_waits += r.lock_waits;
                a.max_lock_waits = a.max_lock_waits.max(r.lock_waits);
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(a)
        });
        Ok(Sampler { stop, handle })
    }

    fn finish(self) -> Result<Activity> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| "the activity sampler panicked")?
    }
}

// ---------------------------------------------------------------------
// CPU time (Linux /proc), to see where a phase's time goes
// ---------------------------------------------------------------------

/// Clock ticks of one process (all threads): utime + stime.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), utime 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total clock ticks of the whole machine.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// PIDs of the PostgreSQL backends serving the scratch database.
fn backend_pids(conn: &mut PgConnection) -> Vec<u32> {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'client backend'",
    )
    .load::<Pid>(conn)
    .map(|v| {
        v.into_iter()
            .filter_map(|p| u32::try_from(p.pid).ok())
            .collect()
    })
    .unwrap_or_default()
}

struct CpuMark {
    machine: Option<(u64, u64)>,
    server: Option<u64>,
    me: Option<u64>,
    backends: BTreeMap<u32, u64>,
}

fn cpu_mark(server_pid: u32, conn: &mut PgConnection) -> CpuMark {
    CpuMark {
        machine: machine_ticks(),
        server: process_ticks(server_pid),
        me: process_ticks(std::process::id()),
        backends: backend_pids(conn)
            .into_iter()
            .filter_map(|p| process_ticks(p).map(|t| (p, t)))
            .collect(),
    }
}

/// Where the CPU went between two marks, in milliseconds of CPU time
/// (Linux counts 100 ticks a second).
struct CpuUse {
    cores: f64,
    wall_ms: f64,
    busy_ms: f64,
    server_ms: f64,
    postgres_ms: f64,
    me_ms: f64,
}

fn cpu_use(before: &CpuMark, after: &CpuMark, conn: &mut PgConnection) -> Option<CpuUse> {
    let tick_ms = 10.0;
    let (busy0, total0) = before.machine?;
    let (busy1, total1) = after.machine?;
    // Backends opened during the phase count from zero.
    let mut postgres = 0;
    for pid in backend_pids(conn) {
        if let Some(t) = process_ticks(pid) {
            postgres += t.saturating_sub(before.backends.get(&pid).copied().unwrap_or(0));
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    Some(CpuUse {
        cores,
        wall_ms: (total1 - total0) as f64 * tick_ms / cores,
        busy_ms: (busy1 - busy0) as f64 * tick_ms,
        server_ms: (after.server? - before.server?) as f64 * tick_ms,
        postgres_ms: postgres as f64 * tick_ms,
        me_ms: (after.me? - before.me?) as f64 * tick_ms,
    })
}

impl CpuUse {
    /// Shares of the machine and CPU milliseconds per answered request.
    fn summary(&self, requests: usize) -> String {
        let capacity = (self.wall_ms * self.cores).max(1.0);
        let pct = |x: f64| 100.0 * x / capacity;
        let per = |x: f64| x / requests.max(1) as f64;
        let other = (self.busy_ms - self.server_ms - self.postgres_ms - self.me_ms).max(0.0);
        format!(
            "machine busy {:.0}% of {} cores: server {:.0}%, PostgreSQL {:.0}%, load generator {:.0}%, \
             other {:.0}%; CPU per request: server {:.2} ms, PostgreSQL {:.2} ms, load generator {:.2} ms",
            pct(self.busy_ms),
            self.cores,
            pct(self.server_ms),
            pct(self.postgres_ms),
            pct(self.me_ms),
            pct(other),
            per(self.server_ms),
            per(self.postgres_ms),
            per(self.me_ms)
        )
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
// HTTP load
// ---------------------------------------------------------------------

struct Learner {
    cookie: String,
    csrf: String,
}

struct Load {
    client: reqwest::Client,
    base: String,
    mentors: Vec<String>,
    learners: Vec<Learner>,
    first_day: NaiveDate,
    /// Distinct free slots available to phase 2.
    capacity: usize,
}

/// One answer: the status (`None` for a transport error) and, when it was
/// not what was expected, why.
struct Answer {
    status: Option<u16>,
    odd: Option<String>,
}

/// The heading (or the start) of an HTML body, for error reports.
fn gist(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let inner = text
        .find("<h1")
        .and_then(|i| text[i..].find('>').map(|j| i + j + 1))
        .and_then(|start| {
            text[start..]
                .find("</h1>")
                .map(|end| &text[start..start + end])
        });
    inner
        .unwrap_or(&text)
        .chars()
        .take(200)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn finish(res: reqwest::Result<reqwest::Response>, expected: &[StatusCode]) -> Answer {
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            return Answer {
                status: None,
                odd: Some(format!("request failed: {e}")),
            };
        }
    };
    let status = res.status();
    match res.bytes().await {
        Ok(body) => Answer {
            status: Some(status.as_u16()),
            odd: (!expected.contains(&status)).then(|| format!("{status}: {}", gist(&body))),
        },
        Err(e) => Answer {
            status: None,
            odd: Some(format!("reading the body of a {status}: {e}")),
        },
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn post_booking(
    load: &Load,
    learner: &Learner,
    mentor: &str,
    start: DateTime<Utc>,
    expected: &[StatusCode],
) -> Answer {
    let start = rfc3339(start);
    let key = Uuid::new_v4().to_string();
    let form = [
        ("csrf_token", learner.csrf.as_str()),
        ("mentor", mentor),
        ("topic", TOPIC_SLUG),
        ("start", &start),
        ("goals", GOALS),
        ("key", &key),
    ];
    let res = load
        .client
        .post(format!("{}/bookings", load.base))
        .header(COOKIE, &learner.cookie)
        .header(ORIGIN, &load.base)
        .form(&form)
        .send()
        .await;
    finish(res, expected).await
}

#[derive(Clone, Copy)]
enum Target {
    Readyz,
    Book,
}

/// Request number `i` of a phase; `None` when phase 2 ran out of slots.
async fn once(load: &Load, target: Target, i: usize) -> Option<Answer> {
    match target {
        Target::Readyz => {
            let res = load
                .client
                .get(format!("{}/readyz", load.base))
                .send()
                .await;
            Some(finish(res, &[StatusCode::OK]).await)
        }
        Target::Book => {
            if i >= load.capacity {
                return None;
            }
            let mentor = &load.mentors[i % load.mentors.len()];
            let learner = &load.learners[i % load.learners.len()];
            let start = slot_start(load.first_day, i / load.mentors.len())?;
            Some(post_booking(load, learner, mentor, start, &[StatusCode::SEE_OTHER]).await)
        }
    }
}

#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    odd: Vec<String>,
    exhausted: bool,
    elapsed: Duration,
    /// Requests slower than `STALL`: when they started (from the phase's
    /// start) and how long they took.
    stalls: Vec<(Duration, Duration)>,
}

impl Outcome {
    fn record(&mut self, latency: Duration, a: Answer) {
        self.latencies.push(latency);
        match a.status {
            Some(s) => *self.statuses.entry(s).or_insert(0) += 1,
            None => self.transport_errors += 1,
        }
        if let Some(why) = a.odd
            && self.odd.len() < 5
        {
            self.odd.push(why);
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_insert(0) += n;
        }
        self.transport_errors += other.transport_errors;
        for why in other.odd {
            if self.odd.len() < 5 {
                self.odd.push(why);
            }
        }
        self.exhausted |= other.exhausted;
        self.stalls.extend(other.stalls);
    }

    fn with(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    fn unexpected(&self, expected: u16) -> usize {
        self.latencies.len() - self.with(expected)
    }

    fn rate(&self, status: u16) -> f64 {
        self.with(status) as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// `concurrency` loops sending requests numbered from `counter` until
/// `duration` is over (requests under way then still finish and count).
async fn run_phase(
    load: Arc<Load>,
    target: Target,
    counter: Arc<AtomicUsize>,
    concurrency: usize,
    duration: Duration,
) -> Result<Outcome> {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (load, counter) = (load.clone(), counter.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                while Instant::now() < deadline {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    let Some(answer) = once(&load, target, i).await else {
                        out.exhausted = true;
                        break;
                    };
                    let latency = t0.elapsed();
                    if latency >= STALL {
                        out.stalls.push((t0 - started, latency));
                    }
                    out.record(latency, answer);
                }
                out
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        total.merge(task.await?);
    }
    total.elapsed = started.elapsed();
    total.stalls.sort();
    Ok(total)
}

/// Makes sure `n` keep-alive connections are open (n requests at once).
async fn open_connections(load: &Load, n: usize) -> Result<()> {
    let requests = (0..n).map(|_| async {
        let res = load
            .client
            .get(format!("{}/healthz", load.base))
            .send()
            .await?;
        res.bytes().await.map(|_| ())
    });
    for r in futures_util::future::join_all(requests).await {
        r?;
    }
    Ok(())
}

/// The racers POST `start` of `mentor` at the same moment: their
/// latencies and answers.
async fn race(
    load: Arc<Load>,
    racers: Arc<Vec<Learner>>,
    mentor: String,
    start: DateTime<Utc>,
) -> Result<Vec<(Duration, Answer)>> {
    open_connections(&load, racers.len()).await?;
    let barrier = Arc::new(tokio::sync::Barrier::new(racers.len()));
    let tasks: Vec<_> = (0..racers.len())
        .map(|n| {
            let (load, racers, mentor, barrier) = (
                load.clone(),
                racers.clone(),
                mentor.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let t0 = Instant::now();
                let answer = post_booking(
                    &load,
                    &racers[n],
                    &mentor,
                    start,
                    &[StatusCode::SEE_OTHER, StatusCode::CONFLICT],
                )
                .await;
                (t0.elapsed(), answer)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await?);
    }
    Ok(out)
}

/// From the server's own `/metrics`: how many requests of `method route`
/// it has answered so far and how many of them took over 1 s (measured
/// inside the server, so a client-side or network delay does not count).
async fn server_side_slow(load: &Load, method: &str, route: &str) -> Result<(u64, u64)> {
    let text = load
        .client
        .get(format!("{}/metrics", load.base))
        .send()
        .await?
        .text()
        .await?;
    let method = format!("method=\"{method}\"");
    let route = format!("route=\"{route}\"");
    let (mut total, mut within) = (0, 0);
    for line in text.lines() {
        if !(line.contains(&method) && line.contains(&route)) {
            continue;
        }
        let value = || -> u64 {
            line.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0, |v| v as u64)
        };
        if line.contains("http_request_duration_seconds_count{") {
            total += value();
        } else if line.contains("http_request_duration_seconds_bucket{")
            && line.contains("le=\"1\"")
        {
            within += value();
        }
    }
    Ok((total, total.saturating_sub(within)))
}

/// The CSRF token in a page's forms.
fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Signed-in learners with their CSRF tokens, read from `/me/sessions`.
async fn sign_in(client: &reqwest::Client, base: &str, tokens: &[String]) -> Result<Vec<Learner>> {
    let pages = futures_util::stream::iter(tokens.iter().map(|t| async move {
        let cookie = format!("oh_session={t}");
        let res = client
            .get(format!("{base}/me/sessions"))
            .header(COOKIE, &cookie)
            .send()
            .await?;
        let status = res.status();
        let html = res.text().await?;
        if status != StatusCode::OK {
            return Err(format!("GET /me/sessions with a seeded session answered {status}").into());
        }
        let csrf = csrf_in(&html).ok_or("no CSRF token on /me/sessions")?;
        Ok::<_, Error>(Learner { cookie, csrf })
    }))
    .buffered(32)
    .collect::<Vec<_>>()
    .await;
    pages.into_iter().collect()
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
    stalls: usize,
}

fn stats(latencies: &[Duration]) -> Stats {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    Stats {
        n: sorted.len(),
        p50: percentile(&sorted, 50.0),
        p99: percentile(&sorted, 99.0),
        max: sorted.last().copied().unwrap_or_default(),
        stalls: sorted.iter().filter(|d| **d >= STALL).count(),
    }
}

fn row(label: &str, rate: Option<f64>, s: &Stats, unexpected: usize) -> String {
    format!(
        "{label:<38} {:>8} {:>10} {:>10} {:>10} {:>10} {:>6} {:>10}",
        s.n,
        rate.map(|r| format!("{r:.0}"))
            .unwrap_or_else(|| "-".into()),
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        s.stalls,
        unexpected
    )
}

fn tally(statuses: &BTreeMap<u16, usize>, transport_errors: usize) -> String {
    let mut parts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    if transport_errors > 0 {
        parts.push(format!("transport errors×{transport_errors}"));
    }
    parts.join(", ")
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
    let mut scratch = create_scratch("booking_load", admin)?;
    eprintln!("scratch database {}", scratch.name);
    migrate(&bin, &scratch.url)?;

    heading(&format!(
        "seed: {MENTORS}+1 mentors, {LEARNERS}+{RACERS} learners with sessions, caps raised, \
         {} past bookings",
        MENTORS * 12 * cfg.history_days
    ));
    let seed = seed(&scratch.url, cfg.history_days)?;

    let log = tempfile::NamedTempFile::new()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    heading(&format!("{} serve on {base}", bin.display()));
    scratch.server = Some(start_server(&bin, &scratch.url, port, log.as_file())?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        tokio::select! {
            r = drive(&cfg, &mut scratch, &seed, &base) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        }
    });
    // Stop the server before reading its log; the database goes with
    // `scratch` at the end of this function.
    scratch.stop_server();
    print_server_log(log.path());
    let failures = result?;
    if failures > 0 {
        return Err(format!("{failures} correctness check(s) failed (see above)").into());
    }
    Ok(())
}

/// Phases 1-3 against the running server; returns the number of failed
/// correctness checks (the figures are printed either way).
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

    heading("CSRF tokens of every learner (GET /me/sessions)");
    let learners = sign_in(&client, base, &seed.learners).await?;
    let racers = Arc::new(sign_in(&client, base, &seed.racers).await?);
    let load = Arc::new(Load {
        client,
        base: base.to_owned(),
        mentors: seed.mentors.iter().map(Uuid::to_string).collect(),
        learners,
        first_day: seed.first_day,
        capacity: MENTORS * DAYS * SLOTS_PER_DAY,
    });
    let duration = Duration::from_secs(cfg.seconds);
    let c = cfg.concurrency;
    let server_pid = scratch.server.as_ref().ok_or("no server")?.id();
    let mut machine = Vec::new();

    heading(&format!(
        "phase 1: GET /readyz, {c} in flight, {}s",
        cfg.seconds
    ));
    machine.push(("phase 1", machine_note()));
    let counter = Arc::new(AtomicUsize::new(0));
    run_phase(load.clone(), Target::Readyz, counter.clone(), c, WARM_UP).await?;
    let mark = cpu_mark(server_pid, &mut conn);
    let ready = run_phase(load.clone(), Target::Readyz, counter, c, duration).await?;
    let ready_cpu = cpu_use(&mark, &cpu_mark(server_pid, &mut conn), &mut conn);
    let ready_server = server_side_slow(&load, "GET", "/readyz").await?;

    heading(&format!(
        "phase 2: POST /bookings on distinct free slots, {c} in flight, {}s",
        cfg.seconds
    ));
    machine.push(("phase 2", machine_note()));
    let counter = Arc::new(AtomicUsize::new(0));
    let warm = run_phase(load.clone(), Target::Book, counter.clone(), c, WARM_UP).await?;
    let writes_before = table_writes(&mut conn)?;
    let sampler = Sampler::start(&scratch.url)?;
    let mark = cpu_mark(server_pid, &mut conn);
    let book = run_phase(load.clone(), Target::Book, counter, c, duration).await?;
    let book_cpu = cpu_use(&mark, &cpu_mark(server_pid, &mut conn), &mut conn);
    let book_activity = sampler.finish()?;
    let made = warm.with(303) + book.with(303);
    let rows = count(
        &mut conn,
        "SELECT count(*) AS n FROM bookings WHERE status = 'confirmed'",
    )?;
    let overlaps = count(
        &mut conn,
        "SELECT count(*) AS n FROM bookings a JOIN bookings b
            ON a.mentor_id = b.mentor_id AND a.id < b.id AND a.occupied && b.occupied
         WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'",
    )?;

    let scans = seq_scans(&mut conn)?;
    let writes = writes_per(&writes_before, &table_writes(&mut conn)?, book.with(303));

    heading(&format!(
        "phase 3: {RACERS} POSTs at once on one free slot, {} rounds",
        cfg.race_rounds
    ));
    let race_mentor = seed.race_mentor.to_string();
    let mut refusals = Vec::new();
    let mut winners = Vec::new();
    let mut race_odd: Vec<String> = Vec::new();
    let mut race_statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut race_transport = 0;
    let mut bad_rounds = 0;
    let mut round_lines = Vec::new();
    machine.push(("phase 3", machine_note()));
    let sampler = Sampler::start(&scratch.url)?;
    for round in 0..cfg.race_rounds {
        // A fresh slot per round: day `round`, 10:00 Berlin.
        let start = slot_start(seed.first_day, round * SLOTS_PER_DAY + 4).ok_or("no race slot")?;
        let before = background(&mut conn)?;
        let answers = race(load.clone(), racers.clone(), race_mentor.clone(), start).await?;
        let (mut won, mut refused, mut other) = (0, 0, 0);
        let mut round_refusals = Vec::new();
        for (latency, a) in answers {
            match a.status {
                Some(303) => {
                    won += 1;
                    winners.push(latency);
                }
                Some(409) => {
                    refused += 1;
                    round_refusals.push(latency);
                }
                _ => other += 1,
            }
            match a.status {
                Some(s) => *race_statuses.entry(s).or_insert(0) += 1,
                None => race_transport += 1,
            }
            if let Some(why) = a.odd
                && race_odd.len() < 5
            {
                race_odd.push(why);
            }
        }
        if won != 1 || refused != RACERS - 1 || other != 0 {
            bad_rounds += 1;
        }
        let s = stats(&round_refusals);
        round_lines.push(format!(
            "  round {}: {won} booked, {refused} refused, {other} other; refusals p50 {} max {} (at its start: {before})",
            round + 1,
            ms(s.p50),
            ms(s.max)
        ));
        refusals.extend(round_refusals);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let race_activity = sampler.finish()?;
    machine.push(("end", machine_note()));
    let book_server = server_side_slow(&load, "POST", "/bookings").await?;
    let race_rows = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM bookings WHERE mentor_id = '{}' AND status <> 'cancelled'",
            seed.race_mentor
        ),
    )?;

    heading("phase 4: the writes of a booking alone, straight to PostgreSQL (server stopped)");
    scratch.stop_server();
    let floor = tokio::task::spawn_blocking({
        let url = scratch.url.clone();
        let seconds = cfg.seconds;
        move || floor(&url, Duration::from_secs(seconds))
    })
    .await??;

    // ------------------------------------------------------------------
    let pool = std::env::var("OFFICEHOURS_DB_POOL").unwrap_or_else(|_| {
        format!(
            "{} (default: twice the cores plus one)",
            officehours::config::default_pool_size()
        )
    });
    let schema = count(
        &mut conn,
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    )?;
    let ready_s = stats(&ready.latencies);
    let book_s = stats(&book.latencies);
    let refusal_s = stats(&refusals);
    let winner_s = stats(&winners);
    let ratio = book.rate(303) / ready.rate(200).max(f64::MIN_POSITIVE);
    let stalls = ready_s.stalls + book_s.stalls + winner_s.stalls + refusal_s.stalls;
    let mut failures = 0;

    println!();
    println!(
        "booking_load: {MENTORS} mentors, {LEARNERS} learners, {} past bookings, {c} in flight, \
         {}s per phase, server pool {pool}, {schema} migrations, release build, loopback",
        MENTORS * 12 * cfg.history_days,
        cfg.seconds
    );
    println!(
        "{:<38} {:>8} {:>10} {:>10} {:>10} {:>10} {:>6} {:>10}",
        "phase", "requests", "per s", "p50", "p99", "max", ">=1s", "unexpected"
    );
    println!(
        "{}",
        row(
            "GET /readyz (one SELECT 1)",
            Some(ready.rate(200)),
            &ready_s,
            ready.unexpected(200)
        )
    );
    println!(
        "{}",
        row(
            "POST /bookings, distinct free slots",
            Some(book.rate(303)),
            &book_s,
            book.unexpected(303)
        )
    );
    println!(
        "{}",
        row(
            &format!("race x{}: the 409 refusals", cfg.race_rounds),
            None,
            &refusal_s,
            0
        )
    );
    println!(
        "{}",
        row(
            &format!("race x{}: the 303 winners", cfg.race_rounds),
            None,
            &winner_s,
            0
        )
    );
    for l in &round_lines {
        println!("{l}");
    }
    println!(
        "answers: readyz {}; bookings {}; races {}",
        tally(&ready.statuses, ready.transport_errors),
        tally(&book.statuses, book.transport_errors),
        tally(&race_statuses, race_transport)
    );
    for why in ready.odd.iter().chain(&book.odd).chain(&race_odd) {
        println!("  unexpected: {why}");
    }
    if book.exhausted {
        println!("note: phase 2 ran out of free slots before the time was up");
    }
    for (label, phase) in [("readyz", &ready), ("bookings", &book)] {
        if !phase.stalls.is_empty() {
            let list: Vec<String> = phase
                .stalls
                .iter()
                .take(10)
                .map(|(at, took)| format!("+{:.2}s took {}", at.as_secs_f64(), ms(*took)))
                .collect();
            println!("stalls in {label}: {}", list.join("; "));
        }
    }
    println!(
        "server-side >= 1 s (its /metrics, whole run): readyz {} of {}, POST /bookings {} of {}",
        ready_server.1, ready_server.0, book_server.1, book_server.0
    );
    if let Some(u) = &ready_cpu {
        println!("cpu during readyz:   {}", u.summary(ready.latencies.len()));
    }
    if let Some(u) = &book_cpu {
        println!("cpu during bookings: {}", u.summary(book.latencies.len()));
    }
    println!("db during bookings: {}", book_activity.summary());
    println!("rows written per booking (phase 2, outbox worker included): {writes}");
    for line in &scans {
        println!("seq scans up to the end of phase 2: {line}");
    }
    println!("db during races:    {}", race_activity.summary());
    for (label, note) in &machine {
        println!("machine at {label}: {note}");
    }

    let ok = |b: bool| if b { "met" } else { "NOT met" };
    println!(
        "throughput: bookings/s ÷ readyz req/s = {:.1}% (target >= 20%: {})",
        ratio * 100.0,
        ok(ratio >= 0.20)
    );
    let of_ready = |x: f64| x / ready.rate(200).max(f64::MIN_POSITIVE) * 100.0;
    println!(
        "the writes alone ({} connections straight to PostgreSQL, server stopped; no HTTP, no \
         reads, no checks): {:.0} bookings/s = {:.1}% of phase 1's readyz as four INSERTs in a \
         transaction; {:.0}/s = {:.1}% as one statement; SELECT 1 the same way: {:.0}/s",
        floor.connections,
        floor.writes_per_s,
        of_ready(floor.writes_per_s),
        floor.one_statement_per_s,
        of_ready(floor.one_statement_per_s),
        floor.select1_per_s
    );
    println!(
        "refusals p99 = {} (target < 50 ms: {})",
        ms(refusal_s.p99),
        ok(refusal_s.p99 < Duration::from_millis(50))
    );
    println!(
        "stalls (requests >= 1 s): {stalls}, transport errors: {} ({})",
        ready.transport_errors + book.transport_errors + race_transport,
        ok(stalls == 0 && ready.transport_errors + book.transport_errors + race_transport == 0)
    );

    let non_303 = warm.unexpected(303) + book.unexpected(303);
    if non_303 > 0 {
        failures += 1;
        println!("FAIL: {non_303} booking POSTs on free slots were not answered 303");
    }
    if bad_rounds > 0 {
        failures += 1;
        println!("FAIL: {bad_rounds} race round(s) did not end with 1 booking and 63 refusals");
    }
    if ready.unexpected(200) > 0 {
        failures += 1;
        println!(
            "FAIL: {} /readyz answers were not 200",
            ready.unexpected(200)
        );
    }
    let consistent = usize::try_from(rows).ok() == Some(made) && overlaps == 0;
    if !consistent {
        failures += 1;
    }
    println!(
        "sanity: {made} bookings answered 303 (warm-up included), {rows} confirmed rows; \
         overlapping live bookings of one mentor: {overlaps}; race slots booked: {race_rows} of {} ({})",
        cfg.race_rounds,
        if consistent && race_rows == i64::try_from(cfg.race_rounds)? {
            "ok"
        } else {
            "WRONG"
        }
    );
    if race_rows != i64::try_from(cfg.race_rounds)? {
        failures += 1;
    }
    Ok(failures)
}

/// One transaction of phase 4 on a connection, for request number `i`.
type Work = dyn Fn(&mut PgConnection, usize) -> Result<()> + Send + Sync;

/// What phase 4 measured.
struct Floor {
    connections: usize,
    /// As the app sends them: four INSERTs in a transaction.
    writes_per_s: f64,
    /// The same rows in one statement.
    one_statement_per_s: f64,
    select1_per_s: f64,
}

/// Phase 4: what PostgreSQL alone can do of a booking's writes — the
/// booking row (constraints, indexes, deferred version bump), its two
/// manage tokens, two outbox rows as large as the real confirmations
/// (copied from phase 2) and the audit entry, one transaction each, from
/// as many connections as the server's pool, with nothing else running.
/// No request can book faster than this; `SELECT 1` from the same
/// connections is the matching trivial statement.
fn floor(url: &str, seconds: Duration) -> Result<Floor> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let mut conn = PgConnection::establish(url)?;
    let mails: Vec<Mail> = diesel::sql_query(
        "SELECT kind, recipient, subject, body_text, body_html, attachments::text AS attachments
           FROM email_outbox WHERE kind = 'booking_confirmed' ORDER BY created_at LIMIT 2",
    )
    .load(&mut conn)?;
    if mails.len() < 2 {
        return Err("phase 4 needs two confirmations from phase 2".into());
    }
    let ids = |sql: &str, conn: &mut PgConnection| -> Result<Vec<Uuid>> {
        Ok(diesel::sql_query(sql)
            .load::<Id>(conn)?
            .into_iter()
            .map(|r| r.id)
            .collect())
    };
    let mentors = ids(
        "SELECT user_id AS id FROM mentor_profiles ORDER BY user_id",
        &mut conn,
    )?;
    let learners = ids(
        "SELECT id FROM users WHERE role = 'learner' ORDER BY id",
        &mut conn,
    )?;
    let topic = ids(
        &format!("SELECT id FROM topics WHERE slug = '{TOPIC_SLUG}'"),
        &mut conn,
    )?
    .first()
    .copied()
    .ok_or("no topic")?;
    // Half-hour slots from 200 days ahead: no booking of phases 2-3 is there.
    let clock = Clock::system();
    let far = (clock.now() + chrono::Duration::days(200)).timestamp();
    let base = DateTime::from_timestamp(far - far % 1800, 0).ok_or("no base time")?;
    let connections = std::env::var("OFFICEHOURS_DB_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(officehours::config::default_pool_size);
    let next = Arc::new(AtomicUsize::new(0));
    let mails = Arc::new(mails);
    let shared = Arc::new((mentors, learners));

    let in_statements = move |conn: &mut PgConnection,
                              i: usize,
                              mails: &[Mail],
                              people: &(Vec<Uuid>, Vec<Uuid>)|
          -> Result<()> {
        let (mentor, learner, start, end) = floor_slot(i, people, base)?;
        let booking = Uuid::now_v7();
        let now = clock.now();
        conn.transaction(|conn| -> Result<()> {
            Fixed::<1> {
                sql: "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                        occupied, status, goals, idempotency_key, created_at, updated_at, timed_at)
                     VALUES ($1, $2, $3, $4, $5, $6, tstzrange($5, $6, '[)'), 'confirmed', $7, $8, $9, $9, $9)
                     ON CONFLICT DO NOTHING",
                values: booking_values(booking, (mentor, learner, start, end), topic, now),
            }
            .execute(conn)?;
            Fixed::<2> {
                sql: "INSERT INTO manage_tokens (id, booking_id, user_id, token_hash, created_at)
                     SELECT x.id, $1, x.u, sha256(convert_to(x.id::text, 'UTF8')), $2
                       FROM unnest($3::uuid[], $4::uuid[]) AS x(id, u)",
                values: vec![
                    Val::Uuid(booking),
                    Val::Time(now),
                    Val::Uuids(vec![Uuid::now_v7(), Uuid::now_v7()]),
                    Val::Uuids(vec![learner, mentor]),
                ],
            }
            .execute(conn)?;
            Fixed::<3> {
                sql: "INSERT INTO email_outbox (id, kind, recipient, recipient_user_id, subject, body_text,
                        body_html, attachments, message_id, carries_secret, state, not_before,
                        next_attempt_at, created_at, booking_id)
                     SELECT x.id, x.kind, x.recipient, x.u, x.subject, x.t, x.h, x.a::jsonb,
                            x.id::text || '@bench', true, 'pending', $1, $1, $1, $2
                       FROM (VALUES ($3::uuid, $4::text, $5::text, $6::uuid, $7::text, $8::text, $9::text, $10::text),
                                    ($11::uuid, $12::text, $13::text, $14::uuid, $15::text, $16::text, $17::text, $18::text))
                         AS x(id, kind, recipient, u, subject, t, h, a)",
                values: [Val::Time(now), Val::Uuid(booking)]
                    .into_iter()
                    .chain(mail_values(mails, [learner, mentor]))
                    .collect(),
            }
            .execute(conn)?;
            Fixed::<4> {
                sql: "INSERT INTO audit_log (id, at, actor_user_id, action, subject_type, subject_id, details)
                     VALUES ($1, $2, $3, 'booking.create', 'booking', $4,
                             jsonb_build_object('mentor_id', $5::uuid, 'topic', 'booking-load', 'start', $6::timestamptz))",
                values: vec![
                    Val::Uuid(Uuid::now_v7()),
                    Val::Time(now),
                    Val::Uuid(learner),
                    Val::Uuid(booking),
                    Val::Uuid(mentor),
                    Val::Time(start),
                ],
            }
            .execute(conn)?;
            Ok(())
        })
    };

    // Runs `work` from `connections` threads for `seconds`; per second.
    let run = |work: Arc<Work>| -> Result<(f64, usize)> {
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let threads: Vec<_> = (0..connections)
            .map(|_| {
                let (work, done, next, url) =
                    (work.clone(), done.clone(), next.clone(), url.to_owned());
                std::thread::spawn(move || -> Result<()> {
                    let mut conn = PgConnection::establish(&url)?;
                    while started.elapsed() < seconds {
                        work(&mut conn, next.fetch_add(1, Ordering::Relaxed))?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        for t in threads {
            t.join().map_err(|_| "a phase 4 thread panicked")??;
        }
        let done = done.load(Ordering::Relaxed);
        Ok((done as f64 / started.elapsed().as_secs_f64(), done))
    };
    // The same rows in ONE statement (CTEs, no BEGIN/COMMIT round trips):
    // the least any design with these writes could send.
    let clock = Clock::system();
    let in_one = move |conn: &mut PgConnection,
                       i: usize,
                       mails: &[Mail],
                       people: &(Vec<Uuid>, Vec<Uuid>)|
          -> Result<()> {
        let (mentor, learner, start, end) = floor_slot(i, people, base)?;
        let now = clock.now();
        Fixed::<5> {
            sql: "WITH b AS (INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at,
                    occupied, status, goals, idempotency_key, created_at, updated_at, timed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, tstzrange($5, $6, '[)'), 'confirmed', $7, $8, $9, $9, $9)
                 ON CONFLICT DO NOTHING RETURNING id),
             t AS (INSERT INTO manage_tokens (id, booking_id, user_id, token_hash, created_at)
                 SELECT x.id, b.id, x.u, sha256(convert_to(x.id::text, 'UTF8')), $9
                   FROM b CROSS JOIN (VALUES ($10::uuid, $2::uuid), ($11::uuid, $3::uuid)) AS x(id, u)),
             o AS (INSERT INTO email_outbox (id, kind, recipient, recipient_user_id, subject, body_text,
                    body_html, attachments, message_id, carries_secret, state, not_before,
                    next_attempt_at, created_at, booking_id)
                 SELECT x.id, x.kind, x.recipient, x.u, x.subject, x.t, x.h, x.a::jsonb,
                        x.id::text || '@bench', true, 'pending', $9, $9, $9, b.id
                   FROM b CROSS JOIN (VALUES
                     ($12::uuid, $13::text, $14::text, $15::uuid, $16::text, $17::text, $18::text, $19::text),
                     ($20::uuid, $21::text, $22::text, $23::uuid, $24::text, $25::text, $26::text, $27::text))
                     AS x(id, kind, recipient, u, subject, t, h, a)),
             a AS (INSERT INTO audit_log (id, at, actor_user_id, action, subject_type, subject_id, details)
                 SELECT $28, $9, $2, 'booking.create', 'booking', b.id,
                        jsonb_build_object('mentor_id', $3::uuid, 'topic', 'booking-load', 'start', $5::timestamptz)
                   FROM b)
             SELECT 1",
            values: booking_values(Uuid::now_v7(), (mentor, learner, start, end), topic, now)
                .into_iter()
                .chain([Val::Uuid(Uuid::now_v7()), Val::Uuid(Uuid::now_v7())])
            .chain(mail_values(mails, [learner, mentor]))
            .chain([Val::Uuid(Uuid::now_v7())])
            .collect(),
        }
        .execute(conn)?;
        Ok(())
    };

    // Every run must have written a booking per transaction (a conflict
    // would make DO NOTHING skip one silently and flatter the figure).
    let counted = |conn: &mut PgConnection, per_s: f64, done: usize| -> Result<f64> {
        let rows = usize::try_from(count(
            conn,
            &format!(
                "SELECT count(*) AS n FROM bookings WHERE start_at >= '{}'",
                base.to_rfc3339()
            ),
        )?)?;
        if rows != done {
            return Err(format!("phase 4 wrote {rows} bookings for {done} transactions").into());
        }
        Ok(per_s)
    };
    let (rate, _) = run(Arc::new({
        let (mails, shared) = (mails.clone(), shared.clone());
        move |conn, i| in_statements(conn, i, &mails, &shared)
    }))?;
    let writes_per_s = counted(&mut conn, rate, next.load(Ordering::Relaxed))?;
    let (rate, _) = run(Arc::new(move |conn, i| in_one(conn, i, &mails, &shared)))?;
    let one_statement_per_s = counted(&mut conn, rate, next.load(Ordering::Relaxed))?;
    let (select1_per_s, _) = run(Arc::new(|conn, _| {
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }))?;
    Ok(Floor {
        connections,
        writes_per_s,
        one_statement_per_s,
        select1_per_s,
    })
}

/// A confirmation from phase 2, copied by phase 4.
#[derive(QueryableByName, Clone)]
struct Mail {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    recipient: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    subject: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    body_text: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    body_html: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    attachments: String,
}

/// Phase 4's booking number `i`: mentor `i` mod the mentors, at half hour
/// `i` / the mentors from `base`, a learner no other booking of that half
/// hour has (7 is prime to the number of learners).
fn floor_slot(
    i: usize,
    (mentors, learners): &(Vec<Uuid>, Vec<Uuid>),
    base: DateTime<Utc>,
) -> Result<(Uuid, Uuid, DateTime<Utc>, DateTime<Utc>)> {
    let mentor = mentors[i % mentors.len()];
    let learner = learners[(i * 7 + i / mentors.len()) % learners.len()];
    let slot = i64::try_from(i / mentors.len())?;
    let start = base + chrono::Duration::minutes(30 * slot);
    Ok((
        mentor,
        learner,
        start,
        start + chrono::Duration::minutes(30),
    ))
}

/// Phase 4's booking row as `$1`–`$9` (id, learner, mentor, topic, start,
/// end, goals, idempotency key, now), the same in both of its forms.
fn booking_values(
    id: Uuid,
    (mentor, learner, start, end): (Uuid, Uuid, DateTime<Utc>, DateTime<Utc>),
    topic: Uuid,
    now: DateTime<Utc>,
) -> Vec<Val> {
    vec![
        Val::Uuid(id),
        Val::Uuid(learner),
        Val::Uuid(mentor),
        Val::Uuid(topic),
        Val::Time(start),
        Val::Time(end),
        Val::Text(Some(GOALS.to_owned())),
        Val::Uuid(Uuid::new_v4()),
        Val::Time(now),
    ]
}

/// The two copied confirmations, addressed to `to`, as eight values each
/// (id, kind, recipient, user, subject, text, html, attachments).
fn mail_values(mails: &[Mail], to: [Uuid; 2]) -> Vec<Val> {
    mails
        .iter()
        .zip(to)
        .flat_map(|(m, user)| {
            [
                Val::Uuid(Uuid::now_v7()),
                Val::Text(Some(m.kind.clone())),
                Val::Text(Some(m.recipient.clone())),
                Val::Uuid(user),
                Val::Text(Some(m.subject.clone())),
                Val::Text(m.body_text.clone()),
                Val::Text(m.body_html.clone()),
                Val::Text(Some(m.attachments.clone())),
            ]
        })
        .collect()
}

/// A value bound by a phase 4 statement.
enum Val {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    Time(DateTime<Utc>),
    Text(Option<String>),
}

/// A phase 4 statement with a fixed text, prepared once per connection as
/// the app prepares its writes (`officehours::prepared_statement!`; a
/// `sql_query` is parsed and planned on every call). Each `$n` of `sql`
/// is bound to `values[n - 1]`, a number used twice is bound twice. `K`
/// tells the statements apart in diesel's cache, which keys on the type:
/// each `K` must be used with ONE `sql` text only.
struct Fixed<const K: u8> {
    sql: &'static str,
    values: Vec<Val>,
}

impl<const K: u8> diesel::query_builder::QueryId for Fixed<K> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const K: u8> RunQueryDsl<PgConnection> for Fixed<K> {}

impl<const K: u8> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Fixed<K> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            let n: usize = rest[at + 1..at + 1 + digits]
                .parse()
                .map_err(|_| diesel::result::Error::QueryBuilderError("bad $n".into()))?;
            match self.values.get(n.wrapping_sub(1)) {
                Some(Val::Uuid(v)) => out.push_bind_param::<SqlUuid, _>(v)?,
                Some(Val::Uuids(v)) => out.push_bind_param::<Array<SqlUuid>, _>(v)?,
                Some(Val::Time(v)) => out.push_bind_param::<Timestamptz, _>(v)?,
                Some(Val::Text(v)) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                None => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "no value for $n".into(),
                    ));
                }
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}
