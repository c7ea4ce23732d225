//! Database access: the connection pool, the embedded migrations and the
//! generated schema. Query functions elsewhere take `&mut PgConnection` so a
//! service can run several of them in one transaction.

pub mod schema;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

diesel::define_sql_function! {
    /// SQL `lower(text)`, for the case-insensitive email index.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgConn = PooledConnection<ConnectionManager<PgConnection>>;

/// How long anything waits for a connection, including the first one at
/// start-up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: diesel::r2d2::PoolError,
    },
    #[error("cannot apply migrations to the database at {url}: {message}")]
    Migrate { url: String, message: String },
}

/// Builds the pool and checks that one connection can be made, so a wrong
/// URL or a stopped server fails start-up within [`CONNECT_TIMEOUT`].
pub fn connect(url: &str, display: &str, size: u32) -> Result<PgPool, DbError> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(CONNECT_TIMEOUT)
        .test_on_check_out(true)
        .build(manager)
        .map_err(|source| DbError::Connect {
            url: display.to_owned(),
            source,
        })
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
