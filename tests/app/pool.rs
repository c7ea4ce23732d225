//! The app's connection pool against a real server: every checkout is
//! checked (not counted as a page's statement), so a connection the server
//! dropped is never handed to a request.

use std::thread::sleep;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use officehours::db::{self, PgPool, QueryCounter};

use crate::harness::{TestDb, backend_pid, spawn_app};

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
fn every_checkout_is_checked_and_the_check_is_not_counted() {
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
    let _conn = pool.get().unwrap();
    assert_eq!(
        last_statement(&mut side, pid).as_deref(),
        Some("SELECT 1"),
        "checked on checkout, right after it came back"
    );
    // The users' two statements; the checks are not among them.
    assert_eq!(queries.get(), 2);
    assert_eq!(queries.checkouts(), 2);
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
fn a_connection_that_died_while_idle_is_replaced_at_once() {
    let db = TestDb::empty();
    let pool = one_connection(&db, QueryCounter::default());
    let mut side = db.conn();
    let pid = backend_pid(&mut pool.get().unwrap());
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<Integer, _>(pid)
        .execute(&mut side)
        .unwrap();
    gone(&mut side, pid);
    let mut conn = pool.get().unwrap();
    assert_ne!(backend_pid(&mut conn), pid);
}

/// The app's own connections all dropped by the server (a restart, a
/// failover): the next requests still succeed.
#[tokio::test]
async fn pages_work_right_after_the_server_drops_every_connection() {
    let app = spawn_app().await;
    for _ in 0..3 {
        assert_eq!(app.get("/").await.status(), reqwest::StatusCode::OK);
    }
    let mut side = app.db.conn();
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut side)
    .unwrap();
    for _ in 0..5 {
        assert_eq!(app.get("/").await.status(), reqwest::StatusCode::OK);
    }
}
