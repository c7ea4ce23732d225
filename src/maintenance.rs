//! Housekeeping that keeps tables small: expired sessions, used or expired
//! email links, and sign-in failures older than any limit's window. Runs
//! beside the outbox worker; safe to run in several instances at once.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use tokio::sync::watch;

use crate::accounts::throttle;
use crate::clock::Clock;
use crate::db::PgPool;
use crate::db::schema::{account_tokens, sessions};

pub const EVERY: Duration = Duration::from_secs(600);

/// One pass; returns how many rows went.
pub fn sweep(conn: &mut PgConnection, now: chrono::DateTime<Utc>) -> QueryResult<usize> {
    let mut removed =
        diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?;
    removed += diesel::delete(
        account_tokens::table.filter(
            account_tokens::expires_at
                .le(now - chrono::Duration::days(1))
                .or(account_tokens::used_at.le(now - chrono::Duration::days(1))),
        ),
    )
    .execute(conn)?;
    removed += throttle::prune(conn, now)?;
    Ok(removed)
}

pub async fn run(pool: PgPool, clock: Clock, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (pool, now) = (pool.clone(), clock.now());
        let result = tokio::task::spawn_blocking(move || -> Result<usize, String> {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            sweep(&mut conn, now).map_err(|e| e.to_string())
        })
        .await;
        match result {
            Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "maintenance sweep"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "maintenance sweep failed"),
            Err(e) => tracing::warn!(error = %e, "maintenance task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
