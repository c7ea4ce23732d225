//! The outbox worker: claims due rows, sends them, records the outcome.
//! Several workers (in one process or many) can run at once; the claim in
//! `outbox::claim_due` keeps them off each other's rows.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use lettre::message::Mailbox;
use regex::Regex;
use tokio::sync::watch;

use super::outbox::{self, OutboxRow, OutboxState};
use super::transport::{Transport, build_message};
use crate::clock::Clock;
use crate::db::PgPool;

/// Work done at the start of every round on one connection, e.g. making
/// the booking reminders that are due (`bookings::reminders::hook`).
pub type RoundHook = Arc<
    dyn Fn(
            &mut PgConnection,
            DateTime<Utc>,
        ) -> Result<usize, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub struct Worker {
    pub pool: PgPool,
    pub clock: Clock,
    pub transport: Transport,
    pub from: Mailbox,
    /// Rows claimed per round.
    pub batch: i64,
    /// Sleep between rounds that found nothing to do.
    pub idle_wait: Duration,
    pub before_round: Option<RoundHook>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("background task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What one round did, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub kept: usize,
    pub retried: usize,
    pub dead: usize,
    /// Claimed, then withdrawn or erased before their turn came, or held
    /// past the lease (left to the worker that takes them over).
    pub withdrawn: usize,
}

impl Round {
    pub fn handled(&self) -> usize {
        self.sent + self.kept + self.retried + self.dead + self.withdrawn
    }
}

impl Worker {
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut diesel::PgConnection) -> diesel::QueryResult<T> + Send + 'static,
    ) -> Result<T, WorkerError> {
        let pool = self.pool.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<T, WorkerError> {
            let mut conn = pool.get()?;
            Ok(f(&mut conn)?)
        })
        .await??;
        Ok(result)
    }

    /// Claims one batch and handles every row of it.
    pub async fn run_once(&self) -> Result<Round, WorkerError> {
        let now = self.clock.now();
        if let Some(hook) = self.before_round.clone() {
            let pool = self.pool.clone();
            let made = tokio::task::spawn_blocking(move || -> Result<usize, String> {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                hook(&mut conn, now).map_err(|e| e.to_string())
            })
            .await?;
            if let Err(error) = made {
                // The round's sending goes on; the hook runs again next round.
                tracing::error!(%error, "round hook failed");
            }
        }
        let batch = self.batch;
        let (token, rows) = self.db(move |c| outbox::claim_due(c, now, batch)).await?;
        self.handle_claimed(token, rows).await
    }

    /// Handles rows claimed under `token`, one after the other. Each is
    /// looked at again just before it is sent: while the ones before it
    /// went out, a cancel may have withdrawn it (a reminder) or a deletion
    /// erased it, or its lease may have run out; then it is not sent.
    pub async fn handle_claimed(
        &self,
        token: uuid::Uuid,
        rows: Vec<OutboxRow>,
    ) -> Result<Round, WorkerError> {
        let mut round = Round::default();
        if matches!(self.transport, Transport::Keep) {
            // Nothing leaves the machine: the batch is marked in one
            // statement, and only the rows still held are logged.
            let (ids, now) = (rows.iter().map(|r| r.id).collect(), self.clock.now());
            let kept = self
                .db(move |c| outbox::mark_kept(c, ids, token, now))
                .await?;
            for row in &rows {
                if kept.contains(&row.id) {
                    log_kept(row);
                    round.kept += 1;
                } else {
                    round.withdrawn += 1;
                }
            }
            return Ok(round);
        }
        for row in rows {
            let (id, now) = (row.id, self.clock.now());
            if self
                .db(move |c| outbox::still_held(c, id, token, now))
                .await?
            {
                self.handle(row, token, &mut round).await?;
            } else {
                tracing::info!(
                    outbox_id = %id,
                    kind = %row.kind,
                    "email no longer held (withdrawn, erased or its lease ran out); not sent"
                );
                round.withdrawn += 1;
            }
        }
        Ok(round)
    }

    async fn handle(
        &self,
        row: OutboxRow,
        token: uuid::Uuid,
        round: &mut Round,
    ) -> Result<(), WorkerError> {
        let (id, now) = (row.id, self.clock.now());
        let outcome = match build_message(&row, &self.from, now) {
            Ok(message) => self.transport.send(message).await,
            Err(e) => Err(e),
        };
        let now = self.clock.now();
        match outcome {
            Ok(()) => {
                tracing::info!(outbox_id = %id, kind = %row.kind, "email sent");
                if self
                    .db(move |c| outbox::mark_done(c, id, token, now, OutboxState::Sent))
                    .await?
                {
                    round.sent += 1;
                }
            }
            Err(err) => {
                let permanent = err.is_permanent();
                let message = err.to_string();
                let attempts = row.attempts;
                let state = self
                    .db(move |c| outbox::mark_failed(c, &row, token, now, &message, permanent))
                    .await?;
                match state {
                    Some(OutboxState::Dead) => {
                        tracing::warn!(outbox_id = %id, attempts, error = %err, "email dead");
                        round.dead += 1;
                    }
                    Some(_) => {
                        tracing::warn!(outbox_id = %id, attempts, error = %err, "email failed, will retry");
                        round.retried += 1;
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Runs rounds until `shutdown` turns true; finishes the round under way.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            mode = if matches!(self.transport, Transport::Keep) {
                "keep (no SMTP_URL)"
            } else {
                "smtp"
            },
            "email worker started"
        );
        loop {
            if *shutdown.borrow() {
                break;
            }
            let wait = match self.run_once().await {
                Ok(round) if round.handled() > 0 => Duration::ZERO,
                Ok(_) => self.idle_wait,
                Err(err) => {
                    tracing::error!(error = %err, "email worker round failed");
                    self.idle_wait.max(Duration::from_secs(2))
                }
            };
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!("email worker stopped");
    }
}

/// Links in a message body, for the terminal log of kept messages.
pub fn links(text: &str) -> Vec<String> {
    static LINK: OnceLock<Option<Regex>> = OnceLock::new();
    LINK.get_or_init(|| Regex::new(r#"https?://[^\s<>"']+"#).ok())
        .as_ref()
        .map(|re| {
            re.find_iter(text)
                .map(|m| {
                    m.as_str()
                        .trim_end_matches(['.', ',', ';', ':', ')'])
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// With no SMTP server, a developer follows emails from the terminal.
fn log_kept(row: &OutboxRow) {
    let links = row.body_text.as_deref().map(links).unwrap_or_default();
    tracing::info!(
        outbox_id = %row.id,
        to = %row.recipient,
        subject = %row.subject,
        links = %links.join(" "),
        "email kept (no SMTP_URL): read it with `officehours outbox show {}`",
        row.id
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_links() {
        let text = "Open https://x.test/verify?token=ab_c. Or <http://127.0.0.1:8080/>";
        assert_eq!(
            super::links(text),
            vec!["https://x.test/verify?token=ab_c", "http://127.0.0.1:8080/"]
        );
    }
}
