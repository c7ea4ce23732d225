//! Database access: the connection pool, the embedded migrations and the
//! generated schema. Query functions elsewhere take `&mut PgConnection` so a
//! service can run several of them in one transaction.

pub mod schema;

/// Declares a hand-written statement type (its SQL pushed by its
/// `QueryFragment`) as ONE fixed SQL text returning `$sql_type`: diesel
/// then prepares it once per connection and PostgreSQL can keep its plan,
/// where `diesel::sql_query` parses and plans the text on every call.
/// The type's SQL must not depend on its values. Without `$sql_type` the
/// statement returns no rows (`execute` only); a type borrowing its values
/// is written `Name<'a>`.
///
/// diesel itself never prepares an UPDATE, a multi-row INSERT or an INSERT
/// that leaves an `Option` field to its DEFAULT: hot writes are statements
/// of this kind (rows as one array per column, `unnest`ed, so the text does
/// not depend on how many there are).
#[macro_export]
macro_rules! prepared_statement {
    ($name:ident < $lt:lifetime >) => {
        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl diesel::RunQueryDsl<diesel::PgConnection> for $name<'_> {}
    };
    ($name:ident < $lt:lifetime >, $sql_type:ty) => {
        $crate::prepared_statement!($name<$lt>);
        impl diesel::query_builder::Query for $name<'_> {
            type SqlType = $sql_type;
        }
    };
    ($t:ty) => {
        impl diesel::query_builder::QueryId for $t {
            type QueryId = Self;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl diesel::RunQueryDsl<diesel::PgConnection> for $t {}
    };
    ($t:ty, $sql_type:ty) => {
        $crate::prepared_statement!($t);
        impl diesel::query_builder::Query for $t {
            type SqlType = $sql_type;
        }
    };
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::InstrumentationEvent;

use diesel::Connection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

diesel::define_sql_function! {
    /// SQL `lower(text)`, for the case-insensitive email index.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub type PgPool = Pool<Manager>;

/// How long anything waits for a connection, including the first one at
/// start-up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot apply migrations to the database at {url}: {message}")]
    Migrate { url: String, message: String },
}

/// One line from libpq's multi-line messages.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The URL with libpq's `connect_timeout`, unless the URL sets its own, so
/// an unreachable host fails within [`CONNECT_TIMEOUT`] too.
fn with_connect_timeout(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.query_pairs().any(|(k, _)| k == "connect_timeout") => {
            parsed
                .query_pairs_mut()
                .append_pair("connect_timeout", &CONNECT_TIMEOUT.as_secs().to_string());
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Counts the SQL statements the pool's connections run for their users
/// (not the pool's own health checks) and the checkouts: tests use it to
/// prove a page runs a bounded number of queries on a bounded number of
/// connections.
#[derive(Clone, Debug, Default)]
pub struct QueryCounter {
    statements: Arc<AtomicU64>,
    checkouts: Arc<AtomicU64>,
}

impl QueryCounter {
    /// Statements run so far.
    pub fn get(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Connections taken from the pool so far.
    pub fn checkouts(&self) -> u64 {
        self.checkouts.load(Ordering::Relaxed)
    }
}

/// diesel's connection manager, with statements and checkouts counted in a
/// [`QueryCounter`]. Every checkout is checked with a `SELECT 1`: a
/// connection the server dropped (a restart, a failover, a terminated
/// backend) is replaced before a request uses it. (Skipping the check for
/// a connection given back moments ago, HikariCP's "alive bypass", was
/// tried and measured at stop 17: it made `/readyz` faster but not
/// bookings, and turned a database restart into one failed request per
/// pooled connection.)
#[derive(Debug)]
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    queries: QueryCounter,
}

/// A pooled PostgreSQL connection; it dereferences to the `PgConnection`.
pub struct Conn {
    pg: PgConnection,
    /// The pool's health check is running: not one of the users'
    /// statements (shared with the connection's instrumentation).
    checking: Arc<AtomicBool>,
}

impl std::ops::Deref for Conn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.pg
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.pg
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut pg = self.inner.connect()?;
        let checking = Arc::new(AtomicBool::new(false));
        let (check, counter) = (checking.clone(), self.queries.statements.clone());
        pg.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. })
                && !check.load(Ordering::Relaxed)
            {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(Conn { pg, checking })
    }

    /// r2d2 calls this on every checkout (`test_on_check_out`).
    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        self.queries.checkouts.fetch_add(1, Ordering::Relaxed);
        conn.checking.store(true, Ordering::Relaxed);
        let checked = self.inner.is_valid(&mut conn.pg);
        conn.checking.store(false, Ordering::Relaxed);
        checked
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.inner.has_broken(&mut conn.pg)
    }
}

/// Connects once to prove the database is there (so a wrong URL or a
/// stopped server fails start-up within [`CONNECT_TIMEOUT`] with one clear
/// message), then builds the pool.
pub fn connect(
    url: &str,
    display: &str,
    size: u32,
    queries: QueryCounter,
) -> Result<PgPool, DbError> {
    let url = with_connect_timeout(url);
    PgConnection::establish(&url).map_err(|e| DbError::Connect {
        url: display.to_owned(),
        message: one_line(&e.to_string()),
    })?;
    let manager = Manager {
        inner: ConnectionManager::new(url),
        queries,
    };
    Ok(Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(CONNECT_TIMEOUT)
        .test_on_check_out(true)
        .build_unchecked(manager))
}

/// Applies pending migrations; returns how many ran (0 when up to date).
pub fn migrate(conn: &mut PgConnection, display: &str) -> Result<usize, DbError> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|applied| applied.len())
        .map_err(|e| DbError::Migrate {
            url: display.to_owned(),
            message: e.to_string(),
        })
}
