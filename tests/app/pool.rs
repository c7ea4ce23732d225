//! The app's connection pool against a real server: a connection given
//! back within `TRUSTED_FOR` goes out again without a health check, one
//! idle for longer is checked, and one that lost its server is never handed
//! out again.

use std::thread::sleep;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use officehours::db::{self, PgPool, QueryCounter, TRUSTED_FOR};

use crate::harness::{TestDb, backend_pid};

#[derive(QueryableByName)]
struct There {
    #[diesel(sql_type = Bool)]
    there: bool,
}

#[derive(QueryableByName)]
struct Activity {
    #[diesel(sql_type = Nullable<Text>)]
    query: Option<String>,
}

/// The statement the backend ran last (`None` once it is gone).
fn last_statement(side: &mut PgConnection, pid: i32) -> Option<String> {
    diesel::sql_query("SELECT query FROM pg_stat_activity WHERE pid = $1")
        .bind::<Integer, _>(pid)
        .get_result::<Activity>(side)
        .optional()
        .unwrap()
        .and_then(|a| a.query)
}

fn gone(side: &mut PgConnection, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1) AS there",
    )
    .bind::<Integer, _>(pid)
    .get_result::<There>(side)
    .unwrap()
    .there
    {
        assert!(Instant::now() < deadline, "backend {pid} still there");
        sleep(Duration::from_millis(10));
    }
}

fn one_connection(db: &TestDb, queries: QueryCounter) -> PgPool {
    db::connect(&db.url, "test", 1, queries).unwrap()
}

#[test]
fn a_connection_back_within_the_window_is_not_checked_and_later_it_is() {
    let db = TestDb::empty();
    let queries = QueryCounter::default();
    let pool = one_connection(&db, queries.clone());
    let mut side = db.conn();
    let pid = {
        let mut conn = pool.get().unwrap();
        diesel::sql_query("SELECT 'marker'")
            .execute(&mut **conn)
            .unwrap();
        backend_pid(&mut conn)
    };
    {
        let mut conn = pool.get().unwrap();
        assert_eq!(
            last_statement(&mut side, pid).as_deref(),
            Some("SELECT pg_backend_pid() AS pid"),
            "no check right after it came back"
        );
        assert_eq!(backend_pid(&mut conn), pid);
    }
    sleep(TRUSTED_FOR + Duration::from_millis(100));
    let _conn = pool.get().unwrap();
    assert_eq!(
        last_statement(&mut side, pid).as_deref(),
        Some("SELECT 1"),
        "checked after the window"
    );
    // The users' three statements; the check is not one of them.
    assert_eq!(queries.get(), 3);
}

#[test]
fn a_connection_that_lost_its_server_is_not_handed_out_again() {
    let db = TestDb::empty();
    let pool = one_connection(&db, QueryCounter::default());
    let mut side = db.conn();
    let mut conn = pool.get().unwrap();
    let pid = backend_pid(&mut conn);
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<Integer, _>(pid)
        .execute(&mut side)
        .unwrap();
    gone(&mut side, pid);
    assert!(diesel::sql_query("SELECT 1").execute(&mut **conn).is_err());
    drop(conn);
    // At once, inside the window: a new connection, not the dead one.
    let mut conn = pool.get().unwrap();
    assert_ne!(backend_pid(&mut conn), pid);
}

#[test]
fn a_connection_that_died_while_idle_is_replaced_after_the_window() {
    let db = TestDb::empty();
    let pool = one_connection(&db, QueryCounter::default());
    let mut side = db.conn();
    let pid = backend_pid(&mut pool.get().unwrap());
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<Integer, _>(pid)
        .execute(&mut side)
        .unwrap();
    gone(&mut side, pid);
    sleep(TRUSTED_FOR + Duration::from_millis(100));
    let mut conn = pool.get().unwrap();
    assert_ne!(backend_pid(&mut conn), pid);
}
