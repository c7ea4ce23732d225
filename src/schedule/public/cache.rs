//! The mentor page's rows, cached in memory under the mentor's slot
//! version (`slot_versions`, bumped by database triggers on every table
//! the rows come from, and on topics). Each request still asks PostgreSQL
//! for the two version numbers — one index lookup — so a page is never
//! built from rows older than the database's, on any instance; only the
//! big statement and its decoding are skipped while nothing changed. The
//! slot engine runs on every request with the current time (notice moves
//! with the clock).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Nullable, Uuid as SqlUuid};
use uuid::Uuid;

use super::load::{self, Snapshot};

/// Entries kept at most; when full, the cache starts over (cheap, and a
/// page per mentor and week is far fewer in practice).
const CAPACITY: usize = 4096;

/// (mentor version, topics version); `None` before the first bump.
type Versions = (Option<i64>, Option<i64>);

type Key = (Uuid, DateTime<Utc>, DateTime<Utc>);

#[derive(Default)]
pub struct MentorPageCache {
    entries: Mutex<HashMap<Key, (Versions, Arc<Snapshot>)>>,
}

/// The mentor's and the topics' versions; prepared once per connection (it
/// runs for every page view and every refused booking).
struct VersionQuery {
    mentor: Uuid,
}

crate::prepared_statement!(VersionQuery, (Nullable<BigInt>, Nullable<BigInt>));

impl QueryFragment<Pg> for VersionQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT (SELECT version FROM slot_versions WHERE mentor_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.mentor)?;
        out.push_sql(
            "), (SELECT version FROM slot_versions \
               WHERE mentor_id = '00000000-0000-0000-0000-000000000000')",
        );
        Ok(())
    }
}

fn versions(conn: &mut PgConnection, id: Uuid) -> QueryResult<Versions> {
    VersionQuery { mentor: id }.get_result(conn)
}

impl MentorPageCache {
    /// `load::mentor`, from the cache when the versions still match. The
    /// versions are read BEFORE the rows: rows newer than their label only
    /// cause one extra reload, never a stale page.
    pub fn mentor(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Arc<Snapshot>>> {
        let current = versions(conn, id)?;
        let key = (id, from, to);
        if let Some((_, snapshot)) = self.lock().get(&key).filter(|(v, _)| *v == current) {
            return Ok(Some(Arc::clone(snapshot)));
        }
        let Some(snapshot) = load::mentor(conn, id, from, to, now)? else {
            return Ok(None);
        };
        let snapshot = Arc::new(snapshot);
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (current, Arc::clone(&snapshot)));
        Ok(Some(snapshot))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Versions, Arc<Snapshot>)>> {
        // A panic while holding the lock leaves a map that is still
        // consistent (inserts and clears are single calls).
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
