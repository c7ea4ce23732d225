//! What every handler can reach: the pool, the settings, the clock, the
//! metrics and the server's signing key. Passed as actix app data.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Secret, Settings};
use crate::db::PgPool;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub metrics: Metrics,
    /// Signs pre-session cookies: OFFICEHOURS_SECRET_KEY, or a key generated
    /// and stored in the database on first start.
    pub secret_key: Secret<Vec<u8>>,
    /// Password hashing with its concurrency cap.
    pub hasher: crate::accounts::hashing::Hasher,
    /// SQL statements run so far (tests count a page's queries with it).
    pub queries: crate::db::QueryCounter,
    /// The public mentor page's rows under their slot versions.
    pub mentor_pages: Arc<crate::schedule::public::cache::MentorPageCache>,
    /// `/admin`'s statistics, reused for `settings.stats_cache`.
    pub admin_stats: Arc<crate::admin::stats::StatsCache>,
}

impl AppState {
    /// Runs blocking database work off the async workers.
    pub async fn db<T, E>(
        &self,
        f: impl FnOnce(&mut diesel::PgConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, crate::error::AppError>
    where
        T: Send + 'static,
        E: Into<crate::error::AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(crate::error::AppError::from)?;
            f(&mut conn).map_err(Into::into)
        })
        .await?
    }
}
