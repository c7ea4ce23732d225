//! The `officehours` binary: migrate, seed-demo, user add, outbox, and how
//! it fails on bad settings or an unreachable database.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use officehours::db::schema::{audit_log, bookings, email_outbox, topics, users};

use crate::harness::TestDb;

fn officehours(
    db: Option<&TestDb>,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_officehours"));
    cmd.args(args)
        .env_remove("OFFICEHOURS_PASSWORD")
        .env_remove("SMTP_URL")
        .env("OFFICEHOURS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(db) = db {
        cmd.env("DATABASE_URL", &db.url);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run officehours");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[test]
fn migrate_twice_is_a_no_op() {
    let db = TestDb::empty();
    let first = officehours(Some(&db), &["migrate"], &[], None);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).starts_with("Applied "), "{}", stdout(&first));
    let mut conn = db.conn();
    let count = || {
        diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
            .get_result::<Count>(&mut db.conn())
            .unwrap()
            .n
    };
    let applied = count();
    assert!(applied >= 1);
    let second = officehours(Some(&db), &["migrate"], &[], None);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second).trim(), "The database is up to date.");
    assert_eq!(count(), applied);
    // The schema is usable.
    let users: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(users, 0);
}

#[test]
fn the_topic_title_migration_keeps_repeated_titles_apart() {
    use diesel_migrations::MigrationHarness as _;
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // Back to before migration 000011 (and any after it), with one title
    // twice (case aside).
    loop {
        let reverted = conn
            .revert_last_migration(officehours::db::MIGRATIONS)
            .unwrap();
        if reverted.to_string().ends_with("000011") {
            break;
        }
    }
    diesel::sql_query(
        "INSERT INTO topics (id, slug, title, description, duration_minutes, active, created_at, updated_at)
         VALUES (gen_random_uuid(), 'sql-basics', 'SQL basics', '', 30, true, now() - interval '1 day', now()),
                (gen_random_uuid(), 'sql-101', 'SQL Basics', '', 30, false, now(), now()),
                (gen_random_uuid(), 'rust', 'Rust', '', 30, true, now(), now())",
    )
    .execute(&mut conn)
    .unwrap();
    conn.run_pending_migrations(officehours::db::MIGRATIONS)
        .unwrap();
    let mut titles: Vec<(String, String)> = topics::table
        .select((topics::slug, topics::title))
        .load(&mut conn)
        .unwrap();
    titles.sort();
    assert_eq!(
        titles,
        [
            ("rust".into(), "Rust".into()),
            ("sql-101".into(), "SQL Basics (sql-101)".into()),
            ("sql-basics".into(), "SQL basics".into()),
        ]
    );
}

#[test]
fn seed_demo_leaves_a_topic_with_a_demo_title_alone() {
    let db = TestDb::migrated();
    diesel::sql_query(
        "INSERT INTO topics (id, slug, title, description, duration_minutes, active, created_at, updated_at)
         VALUES (gen_random_uuid(), 'debugging-101', 'BACKEND debugging', '', 30, true, now(), now())",
    )
    .execute(&mut db.conn())
    .unwrap();
    let out = officehours(Some(&db), &["seed-demo"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let titles: Vec<String> = topics::table
        .filter(topics::title.ilike("backend debugging"))
        .select(topics::slug)
        .load(&mut db.conn())
        .unwrap();
    assert_eq!(titles, ["debugging-101"]);
}

#[test]
fn seed_demo_twice_creates_no_duplicates() {
    let db = TestDb::migrated();
    let first = officehours(Some(&db), &["seed-demo"], &[], None);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(
        out.contains("3 topic(s), 9 account(s), 3 mentor schedule(s) and "),
        "{out}"
    );
    assert!(out.contains(officehours::seed::DEMO_PASSWORD));
    assert!(out.contains("admin@officehours.test"));
    let schedule_rows = || -> Vec<i64> {
        let mut conn = db.conn();
        [
            "mentor_profiles",
            "mentor_topics",
            "weekly_rules",
            "date_overrides",
            "override_windows",
            "time_off",
        ]
        .iter()
        .map(|table| {
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result::<Count>(&mut conn)
                .unwrap()
                .n
        })
        .collect()
    };
    let seeded = schedule_rows();
    // Three profiles accepting bookings, two topics each, realistic weeks,
    // one override (one of them a whole day off) and one time off each.
    assert_eq!(seeded[0], 3);
    assert_eq!(seeded[1], 6);
    assert!(seeded[2] >= 12, "{seeded:?}");
    assert_eq!(seeded[3], 3);
    assert_eq!(seeded[5], 3);
    let second = officehours(Some(&db), &["seed-demo"], &[], None);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second)
            .contains("0 topic(s), 0 account(s), 0 mentor schedule(s) and 0 booking(s) added now"),
        "{}",
        stdout(&second)
    );
    assert_eq!(
        schedule_rows(),
        seeded,
        "a second run adds no schedule rows"
    );

    let mut conn = db.conn();
    // Bookings in every status: upcoming ones made through the booking
    // service (with their emails), twelve weeks of history.
    let by_status: Vec<(String, i64)> = bookings::table
        .group_by(bookings::status)
        .select((bookings::status, diesel::dsl::count_star()))
        .order(bookings::status)
        .load(&mut conn)
        .unwrap();
    let statuses: Vec<&str> = by_status.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        ["cancelled", "completed", "confirmed", "no_show"],
        "{by_status:?}"
    );
    assert!(by_status[2].1 >= 5, "upcoming: {by_status:?}");
    let past_weeks: i64 = diesel::sql_query(
        "SELECT count(DISTINCT date_trunc('week', start_at)) AS n FROM bookings WHERE start_at < now()",
    )
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n;
    assert!(past_weeks >= 12, "{past_weeks} weeks of history");
    let confirmations: i64 = email_outbox::table
        .filter(email_outbox::kind.eq("booking_confirmed"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(confirmations, 2 * by_status[2].1);
    let by_role: Vec<(String, i64)> = users::table
        .group_by(users::role)
        .select((users::role, diesel::dsl::count_star()))
        .order(users::role)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        by_role,
        vec![
            ("admin".into(), 1),
            ("learner".into(), 5),
            ("mentor".into(), 3)
        ]
    );
    let titles: Vec<String> = topics::table
        .select(topics::title)
        .order(topics::title)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        titles,
        vec![
            "Backend debugging",
            "Database fundamentals",
            "JavaScript fundamentals"
        ]
    );
    // Demo accounts are verified and the password hash is argon2id.
    let hashes: Vec<Option<String>> = users::table
        .select(users::password_hash)
        .load(&mut conn)
        .unwrap();
    assert!(hashes.iter().all(|h| {
        h.as_deref()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    }));
    let unverified: i64 = users::table
        .filter(users::email_verified_at.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(unverified, 0);
    // Mentors live in three zones, one in the southern hemisphere.
    let zones: Vec<String> = users::table
        .filter(users::role.eq("mentor"))
        .select(users::time_zone)
        .order(users::time_zone)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        zones,
        vec!["America/New_York", "Australia/Sydney", "Europe/Berlin"]
    );
    // Every demo mentor takes bookings, with an https meeting link, and one
    // of them has a window crossing local midnight.
    let accepting: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM mentor_profiles WHERE accepting_bookings AND meeting_url LIKE 'https://%'",
    )
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n;
    assert_eq!(accepting, 3);
    let overnight: i64 =
        diesel::sql_query("SELECT count(*) AS n FROM weekly_rules WHERE end_time <= start_time")
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n;
    assert!(overnight >= 1);
}

#[test]
fn an_unreachable_database_fails_fast_with_one_line_naming_it() {
    for command in ["serve", "migrate"] {
        let started = Instant::now();
        let out = officehours(
            None,
            &[command],
            &[
                ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/x"),
                ("OFFICEHOURS_BIND", "127.0.0.1:0"),
            ],
            None,
        );
        let took = started.elapsed();
        assert!(!out.status.success(), "{command} must fail");
        assert!(took < Duration::from_secs(10), "{command} took {took:?}");
        let err = stderr(&out);
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{command}: one line, got {err:?}"
        );
        assert!(
            err.contains("database") && err.contains("127.0.0.1:1"),
            "{err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
}

#[test]
fn a_malformed_setting_fails_with_one_line_naming_it() {
    let db = TestDb::migrated();
    for (name, value) in [
        ("OFFICEHOURS_BIND", "not-an-address"),
        ("OFFICEHOURS_SESSION_IDLE", "forever"),
        ("SMTP_URL", "http://mail.example.org"),
        ("OFFICEHOURS_DB_POOL", "zero"),
    ] {
        let started = Instant::now();
        let out = officehours(Some(&db), &["serve"], &[(name, value)], None);
        assert!(!out.status.success());
        assert!(started.elapsed() < Duration::from_secs(10));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn serve_refuses_an_unmigrated_database() {
    let db = TestDb::empty();
    let out = officehours(
        Some(&db),
        &["serve"],
        &[("OFFICEHOURS_BIND", "127.0.0.1:0")],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("officehours migrate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn user_add_creates_a_verified_account_with_audit_and_welcome_email() {
    let db = TestDb::migrated();
    let out = officehours(
        Some(&db),
        &[
            "user",
            "add",
            "--email",
            "Grace@Example.org",
            "--name",
            "Grace Hopper",
            "--role",
            "admin",
        ],
        &[("OFFICEHOURS_PASSWORD", "a long enough secret")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Created admin Grace@Example.org"));

    // From standard input, when the variable is unset.
    let out = officehours(
        Some(&db),
        &[
            "user",
            "add",
            "--email",
            "linus@example.org",
            "--name",
            "Linus",
            "--role",
            "mentor",
            "--time-zone",
            "Europe/Helsinki",
        ],
        &[],
        Some("another good secret\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let mut conn = db.conn();
    let rows: Vec<(String, String, String, bool, Option<String>)> = users::table
        .select((
            users::email,
            users::role,
            users::time_zone,
            users::email_verified_at.is_not_null(),
            users::password_hash,
        ))
        .order(users::email)
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3),
        ("Grace@Example.org", "admin", true)
    );
    assert_eq!(
        (rows[1].1.as_str(), rows[1].2.as_str()),
        ("mentor", "Europe/Helsinki")
    );
    assert!(officehours::accounts::password::verify(
        "another good secret",
        rows[1].4.as_deref().unwrap()
    ));

    let audits: i64 = audit_log::table
        .filter(audit_log::action.eq("user.created"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(audits, 2);
    let welcomes: Vec<String> = email_outbox::table
        .filter(email_outbox::kind.eq("welcome"))
        .select(email_outbox::recipient)
        .order(email_outbox::recipient)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        welcomes,
        vec![
            "Grace Hopper <Grace@Example.org>",
            "Linus <linus@example.org>"
        ]
    );

    // The same address in another case is a duplicate; nothing is written.
    let out = officehours(
        Some(&db),
        &[
            "user",
            "add",
            "--email",
            "grace@EXAMPLE.org",
            "--name",
            "Impostor",
        ],
        &[("OFFICEHOURS_PASSWORD", "a long enough secret")],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    // A common password is refused before anything is written.
    let out = officehours(
        Some(&db),
        &["user", "add", "--email", "new@example.org", "--name", "New"],
        &[("OFFICEHOURS_PASSWORD", "password123")],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("common"), "{}", stderr(&out));
    let out = officehours(
        Some(&db),
        &[
            "user",
            "add",
            "--email",
            "new@example.org",
            "--name",
            "New",
            "--role",
            "boss",
        ],
        &[],
        Some("x\n"),
    );
    assert!(!out.status.success());
    let total: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(total, 2);
    let emails: i64 = email_outbox::table.count().get_result(&mut conn).unwrap();
    assert_eq!(emails, 2);
}

#[test]
fn outbox_list_and_show_print_kept_messages() {
    let db = TestDb::migrated();
    let out = officehours(
        Some(&db),
        &["user", "add", "--email", "ada@example.org", "--name", "Ada"],
        &[
            ("OFFICEHOURS_PASSWORD", "a long enough secret"),
            ("OFFICEHOURS_BASE_URL", "https://hours.example.org"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list = officehours(Some(&db), &["outbox", "list"], &[], None);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(
        text.contains("pending") && text.contains("welcome") && text.contains("ada@example.org"),
        "{text}"
    );
    let id = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let show = officehours(Some(&db), &["outbox", "show", &id], &[], None);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(
        text.contains("Subject: Your Office Hours account is ready, Ada"),
        "{text}"
    );
    assert!(
        text.contains("Sign in: https://hours.example.org/login"),
        "{text}"
    );
    let empty = officehours(Some(&db), &["outbox", "list", "--state", "dead"], &[], None);
    assert_eq!(stdout(&empty).trim(), "The outbox is empty.");
    let bad = officehours(Some(&db), &["outbox", "show", "nope"], &[], None);
    assert!(!bad.status.success());
    assert_eq!(stderr(&bad).trim_end().lines().count(), 1);
}

/// What stored text holds is printed, never acted on by the terminal:
/// control characters come out escaped, line breaks and tabs as they are.
#[test]
fn outbox_show_and_list_print_control_characters_escaped() {
    use officehours::email::enqueue;
    use officehours::email::outbox::NewEmail;

    let db = TestDb::migrated();
    let tricks = "\u{1b}[2J\u{1b}[31mFAKE\u{1b}[0m \u{1b}]0;pwned\u{7} \u{9b}31m";
    let email = NewEmail {
        kind: "booking_cancelled".into(),
        to: lettre::message::Mailbox::new(
            Some("Ada \u{1b}[5m".into()),
            "ada@example.org".parse().unwrap(),
        ),
        recipient_user_id: None,
        subject: format!("Cancelled: {tricks}"),
        text: format!("Reason: {tricks}\nSecond line\tafter a tab"),
        html: Some(format!("<p>{tricks}</p>")),
        attachments: Vec::new(),
        carries_secret: false,
        not_before: None,
        dedupe_key: None,
        booking_id: None,
        expires_at: None,
    };
    let from = "Office Hours <hours@officehours.test>".parse().unwrap();
    let id = db
        .conn()
        .transaction(|c| enqueue(c, crate::harness::default_now(), &from, &email))
        .unwrap();
    let id = id.to_string();
    let list = officehours(Some(&db), &["outbox", "list"], &[], None);
    let show = officehours(Some(&db), &["outbox", "show", &id], &[], None);
    let html = officehours(Some(&db), &["outbox", "show", &id, "--html"], &[], None);
    for (what, out) in [("list", &list), ("show", &show), ("show --html", &html)] {
        assert!(out.status.success(), "{what}: {}", stderr(out));
        let text = stdout(out);
        let raw: Vec<char> = text
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
            .collect();
        assert!(raw.is_empty(), "{what} printed {raw:?}: {text}");
        assert!(
            text.contains("\\u{1b}[2J\\u{1b}[31mFAKE\\u{1b}[0m \\u{1b}]0;pwned\\u{7} \\u{9b}31m"),
            "{what}: {text}"
        );
    }
    let text = stdout(&show);
    assert!(text.contains("Second line\tafter a tab"), "{text}");
    assert_eq!(
        stdout(&list).lines().count(),
        2,
        "one row: {}",
        stdout(&list)
    );
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["worker", "--help"],
        vec!["user", "add", "--help"],
        vec!["seed-demo", "--help"],
        vec!["outbox", "list", "--help"],
        vec!["outbox", "show", "--help"],
    ] {
        let out = officehours(None, &args, &[], None);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage: officehours"), "{args:?}");
    }
}

#[test]
fn worker_keeps_due_messages_without_smtp_and_stops_on_sigterm() {
    let db = TestDb::migrated();
    let out = officehours(
        Some(&db),
        &["user", "add", "--email", "ada@example.org", "--name", "Ada"],
        &[("OFFICEHOURS_PASSWORD", "a long enough secret")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let child = Command::new(env!("CARGO_BIN_EXE_officehours"))
        .arg("worker")
        .env("DATABASE_URL", &db.url)
        .env_remove("SMTP_URL")
        .env("OFFICEHOURS_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state = || -> String {
        email_outbox::table
            .select(email_outbox::state)
            .first(&mut db.conn())
            .unwrap()
    };
    let started = Instant::now();
    while state() != "kept" {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the worker did not pick the message up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stops cleanly on SIGTERM");
    let log = stderr(&out);
    // The developer can follow the email from the terminal.
    assert!(log.contains("email kept"), "{log}");
    assert!(log.contains("ada@example.org"), "{log}");
    assert!(log.contains("/login"), "the links are logged: {log}");
}

#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    // `officehours seed-demo | head -1`: stdout closes after one line.
    let db = TestDb::migrated();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_officehours"))
        .arg("seed-demo")
        .env("DATABASE_URL", &db.url)
        .env("OFFICEHOURS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
