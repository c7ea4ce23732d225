//! Builds everything `serve` runs — pool, signing key, metrics, HTTP server
//! and outbox worker — and returns the bound port, so tests start the very
//! same application on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use rand::RngCore;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;

use crate::clock::Clock;
use crate::config::{Secret, Settings};
use crate::db::{self, MIGRATIONS, PgPool};
use crate::email::transport::Transport;
use crate::email::worker::Worker;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::AppState;
use crate::web::middleware;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("the database at {0} needs migrating: run `officehours migrate`")]
    PendingMigrations(String),
    #[error("cannot read the database at {url}: {source}")]
    Query {
        url: String,
        #[source]
        source: diesel::result::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("SMTP_URL: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("start-up task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Knobs that are not settings: tests turn the worker off to drive it by
/// hand.
#[derive(Debug)]
pub struct Options {
    pub run_worker: bool,
    pub worker_idle_wait: Duration,
    pub http_workers: Option<usize>,
    /// A socket bound beforehand (tests bind port 0 first, so the base URL
    /// in emails can name the real port); otherwise `OFFICEHOURS_BIND`.
    pub listener: Option<TcpListener>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            run_worker: true,
            worker_idle_wait: Duration::from_secs(1),
            http_workers: None,
            listener: None,
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    worker: Option<Worker>,
}

/// Connects to the database within the pool's connection timeout.
pub async fn connect(settings: &Settings) -> Result<PgPool, StartupError> {
    connect_counting(settings, db::QueryCounter::default()).await
}

/// Connects with every statement counted in `queries`.
pub async fn connect_counting(
    settings: &Settings,
    queries: db::QueryCounter,
) -> Result<PgPool, StartupError> {
    let url = settings.database_url.expose().clone();
    let display = settings.database_display();
    let size = settings.db_pool_size;
    Ok(tokio::task::spawn_blocking(move || db::connect(&url, &display, size, queries)).await??)
}

impl Application {
    pub async fn build(
        settings: Settings,
        clock: Clock,
        mut options: Options,
    ) -> Result<Self, StartupError> {
        let queries = db::QueryCounter::default();
        let pool = connect_counting(&settings, queries.clone()).await?;
        let display = settings.database_display();
        let now = clock.now();
        let preset_key = settings.secret_key.clone();
        let check_pool = pool.clone();
        let secret_key = tokio::task::spawn_blocking(move || -> Result<_, StartupError> {
            let mut conn = check_pool.get().map_err(|e| db::DbError::Connect {
                url: display.clone(),
                message: e.to_string(),
            })?;
            let pending = conn
                .has_pending_migration(MIGRATIONS)
                .map_err(|_| StartupError::PendingMigrations(display.clone()))?;
            if pending {
                return Err(StartupError::PendingMigrations(display));
            }
            match preset_key {
                Some(key) => Ok(key),
                None => load_or_create_key(&mut conn, now)
                    .map(Secret::new)
                    .map_err(|source| StartupError::Query {
                        url: display,
                        source,
                    }),
            }
        })
        .await??;

        let transport = Transport::from_settings(&settings)?;
        let hash_concurrency = settings.hash_concurrency;
        let state = AppState {
            pool: pool.clone(),
            settings: Arc::new(settings),
            clock: clock.clone(),
            metrics: Metrics::new()?,
            secret_key,
            hasher: crate::accounts::hashing::Hasher::new(hash_concurrency),
            queries,
            mentor_pages: Arc::default(),
            admin_stats: Arc::default(),
        };
        let worker = options.run_worker.then(|| Worker {
            pool,
            clock,
            transport,
            from: state.settings.smtp_from.clone(),
            batch: 20,
            idle_wait: options.worker_idle_wait,
            before_round: Some(crate::bookings::reminders::hook(
                Arc::clone(&state.settings),
                state.secret_key.clone(),
            )),
        });

        let addr = state.settings.bind;
        let listener = match options.listener.take() {
            Some(listener) => listener,
            None => {
                TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?
            }
        };
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let data = web::Data::new(state.clone());
        let https = state.settings.is_https();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .configure(routes::configure)
                .default_service(web::to(crate::web::pages::not_found))
                // Innermost first: the refusals of unreadable addresses and
                // of cross-site forms (inside the error pages, so their
                // answers get one), error pages, then metrics, headers,
                // ids, and the request span around everything.
                .wrap(from_fn(middleware::refuse_unreadable_input))
                .wrap(from_fn(middleware::refuse_cross_site))
                .wrap(ErrorHandlers::new().default_handler(middleware::render_error_page))
                .wrap(from_fn(middleware::pre_session))
                .wrap(from_fn(middleware::track_metrics))
                .wrap(middleware::security_headers(https))
                .wrap(from_fn(middleware::request_id_header))
                .wrap(TracingLogger::<middleware::RedactingRootSpan>::new())
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr, source })?
        .shutdown_timeout(10);
        if let Some(n) = options.http_workers {
            server = server.workers(n);
        }
        Ok(Self {
            port,
            server: server.run(),
            state,
            worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM), then lets
    /// the worker finish the round it is in.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let sweeper = self.worker.is_some().then(|| {
            tokio::spawn(crate::maintenance::run(
                self.state.pool.clone(),
                self.state.clock.clone(),
                stopped.clone(),
            ))
        });
        let worker = self.worker.map(|w| tokio::spawn(w.run(stopped)));
        let result = self.server.await;
        let _ = stop.send(true);
        if let Some(handle) = worker {
            let _ = tokio::time::timeout(Duration::from_secs(20), handle).await;
        }
        if let Some(handle) = sweeper {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        result
    }
}

const COOKIE_KEY: &str = "cookie_signing_key";

/// The server key: `OFFICEHOURS_SECRET_KEY`, or the one stored in the
/// database (made on first use, shared by every instance). Signs
/// pre-session cookies and derives manage-link and calendar-feed tokens.
pub async fn server_key(
    pool: &db::PgPool,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Secret<Vec<u8>>, StartupError> {
    if let Some(key) = settings.secret_key.clone() {
        return Ok(key);
    }
    let pool = pool.clone();
    let display = settings.database_display();
    tokio::task::spawn_blocking(move || -> Result<_, StartupError> {
        let mut conn = pool.get().map_err(|e| db::DbError::Connect {
            url: display.clone(),
            message: e.to_string(),
        })?;
        load_or_create_key(&mut conn, now)
            .map(Secret::new)
            .map_err(|source| StartupError::Query {
                url: display,
                source,
            })
    })
    .await?
}

fn load_or_create_key(
    conn: &mut PgConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> QueryResult<Vec<u8>> {
    use crate::db::schema::server_secrets::dsl as s;
    let mut fresh = vec![0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    // Two instances starting at once: the first insert wins, both read it.
    diesel::insert_into(s::server_secrets)
        .values((
            s::name.eq(COOKIE_KEY),
            s::value.eq(&fresh),
            s::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    s::server_secrets
        .filter(s::name.eq(COOKIE_KEY))
        .select(s::value)
        .first(conn)
}

/// `officehours worker`: the outbox worker without the HTTP server, until
/// SIGINT/SIGTERM.
pub async fn run_worker_alone(settings: Settings, clock: Clock) -> Result<(), StartupError> {
    let pool = connect(&settings).await?;
    let key = server_key(&pool, &settings, clock.now()).await?;
    let transport = Transport::from_settings(&settings)?;
    let from = settings.smtp_from.clone();
    let worker = Worker {
        pool,
        clock,
        transport,
        from,
        batch: 20,
        idle_wait: Duration::from_secs(1),
        before_round: Some(crate::bookings::reminders::hook(Arc::new(settings), key)),
    };
    let (stop, stopped) = watch::channel(false);
    let sweeper = tokio::spawn(crate::maintenance::run(
        worker.pool.clone(),
        worker.clock.clone(),
        stopped.clone(),
    ));
    let handle = tokio::spawn(worker.run(stopped));
    shutdown_signal().await;
    let _ = stop.send(true);
    let _ = handle.await;
    let _ = sweeper.await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}
