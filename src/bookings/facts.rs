//! Everything the booking check reads, in ONE statement (after the rows
//! of the two people are locked): the mentor's snapshot exactly as the
//! public pages read it (`schedule::public::load`: the mentor if they
//! take bookings at all, their active topics, profile, rules, overrides,
//! time off and live bookings around the start, wider for day and week
//! caps), and the learner's side — a booking already made with this form's
//! key, their live sessions (as learner or as mentor) around the start,
//! their no-shows of the last year and their other live sessions from the
//! start's month or now on (for the fairness counts) and the policy.
//!
//! The learner's side is a `Standing`, which the pages that offer other
//! times also read alone (the same columns, busy times over a wider span).
//!
//! Why one statement: each statement is a round trip with a fixed cost for
//! the server and PostgreSQL, and the booking check used to make about
//! twenty (see the README, "Booking under load"). Prepared once per
//! connection; the status tests are literals so PostgreSQL can use the
//! partial indexes of live bookings in a generic plan.

use chrono::{DateTime, Duration, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, Int4, Nullable, Record, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::model::Policy;
use super::policy::{self, Counts, Session};
use crate::schedule::public::load::{self, Bounds, Snapshot};
use crate::schedule::queries::{MAX_BUFFER, MAX_SESSION, clear_of};
use crate::slots::Interval;

/// What the check asks about.
pub struct Ask {
    pub mentor: Uuid,
    pub learner: Uuid,
    pub key: Uuid,
    pub start: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// The first day of the month of `start` in the learner's zone (the
    /// monthly cap), in UTC.
    pub month_from: DateTime<Utc>,
}

impl Ask {
    /// The question for `learner` (living in `zone`) booking `mentor` at
    /// `start`, with the form's idempotency `key` (nil: none).
    pub fn new(
        mentor: Uuid,
        learner: Uuid,
        zone: chrono_tz::Tz,
        key: Uuid,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let (_, month_from, _) = policy::month_bounds(start, zone);
        Ask {
            mentor,
            learner,
            key,
            start,
            now,
            month_from,
        }
    }
}

/// What the statement found.
pub struct Facts {
    /// `None`: no mentor of that id who could take bookings (no such
    /// account, not a mentor, or disabled).
    pub snapshot: Option<Snapshot>,
    /// The learner's side, read around the start: the booking made with
    /// this key, what keeps them busy then, their sessions for the counts
    /// (no-shows from a year before `now`, the others from the start's
    /// month or `now`, whichever is earlier) and the policy.
    pub learner: Standing,
}

/// The learner's columns, after the snapshot's.
struct LearnerPart {
    learner: Uuid,
    key: Uuid,
    near_from: DateTime<Utc>,
    near_to: DateTime<Utc>,
    since: DateTime<Utc>,
    recent: DateTime<Utc>,
}

impl LearnerPart {
    /// The learner's columns for starts in `span`, their sessions counted
    /// from `since` (no-shows) and `recent` (the rest: what is upcoming,
    /// and the months of the starts asked about).
    fn new(
        learner: Uuid,
        key: Uuid,
        span: Interval,
        since: DateTime<Utc>,
        recent: DateTime<Utc>,
    ) -> Self {
        // Any session or occupied range that can clash with a start in
        // `span` starts less than a session and a buffer before it.
        let margin = MAX_SESSION + MAX_BUFFER;
        LearnerPart {
            learner,
            key,
            near_from: span.start - margin,
            near_to: span.end + margin,
            since,
            recent: recent.max(since),
        }
    }
}

type PolicyRow = Option<(i32, i32, i32, i32, i32, i32, i32)>;

type LearnerColumns = (
    Nullable<SqlUuid>,
    Array<Record<(Timestamptz, Timestamptz)>>,
    Array<Record<(Timestamptz, SqlUuid, Text)>>,
    Nullable<Record<(Int4, Int4, Int4, Int4, Int4, Int4, Int4)>>,
);

type LearnerRows = (
    Option<Uuid>,
    Vec<(DateTime<Utc>, DateTime<Utc>)>,
    Vec<(DateTime<Utc>, Uuid, String)>,
    PolicyRow,
);

/// Pushes the learner's live sessions as learner (start, topic, status;
/// in time order) and the policy's row, as two columns: what the fairness
/// counts need. No-shows from `since` on (the strike window), the others
/// from `recent` on (upcoming ones and those of the months asked about):
/// a year of completed sessions is not sent back for nothing (PostgreSQL
/// still reads their rows through the learner's index to filter them).
fn push_standing<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    learner: &'b Uuid,
    since: &'b DateTime<Utc>,
    recent: &'b DateTime<Utc>,
) -> QueryResult<()> {
    out.push_sql(
        "ARRAY(SELECT ROW(b.start_at, b.topic_id, b.status) FROM bookings b \
           WHERE b.status <> 'cancelled' AND b.learner_id = ",
    );
    out.push_bind_param::<SqlUuid, _>(learner)?;
    out.push_sql(" AND b.start_at >= ");
    out.push_bind_param::<Timestamptz, _>(since)?;
    out.push_sql(" AND (b.start_at >= ");
    out.push_bind_param::<Timestamptz, _>(recent)?;
    out.push_sql(" OR b.status = 'no_show')");
    out.push_sql(
        " ORDER BY b.start_at), \
         (SELECT ROW(p.max_upcoming, p.max_upcoming_per_topic, p.max_per_month, \
             p.late_cancel_hours, p.noshow_strikes, p.noshow_window_days, p.noshow_pause_days) \
           FROM booking_policy p)",
    );
    Ok(())
}

/// The policy's row as read by [`push_standing`] (the defaults without
/// one).
fn policy_of(row: PolicyRow) -> Policy {
    row.map_or_else(Policy::default, |p| Policy {
        max_upcoming: p.0,
        max_upcoming_per_topic: p.1,
        max_per_month: p.2,
        late_cancel_hours: p.3,
        noshow_strikes: p.4,
        noshow_window_days: p.5,
        noshow_pause_days: p.6,
    })
}

impl QueryFragment<Pg> for LearnerPart {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("(SELECT b.id FROM bookings b WHERE b.learner_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.learner)?;
        out.push_sql(" AND b.idempotency_key = ");
        out.push_bind_param::<SqlUuid, _>(&self.key)?;
        // Sessions the learner hosts count with their buffers: they are
        // occupied time of the learner's schedule (PRODUCT.md).
        out.push_sql("), ARRAY(SELECT CASE WHEN b.learner_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.learner)?;
        out.push_sql(
            " THEN ROW(b.start_at, b.end_at) \
               ELSE ROW(lower(b.occupied), upper(b.occupied)) END FROM bookings b \
               WHERE b.status <> 'cancelled' AND b.start_at > ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.near_from)?;
        out.push_sql(" AND b.start_at < ");
        out.push_bind_param::<Timestamptz, _>(&self.near_to)?;
        out.push_sql(" AND (b.learner_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.learner)?;
        out.push_sql(" OR b.mentor_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.learner)?;
        out.push_sql(")), ");
        push_standing(&mut out, &self.learner, &self.since, &self.recent)
    }
}

struct FactsStatement {
    mentor: Uuid,
    bounds: Bounds,
    learner: LearnerPart,
}

crate::prepared_statement!(FactsStatement, (load::Columns, LearnerColumns));

impl QueryFragment<Pg> for FactsStatement {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        load::push_mentor(out, &self.mentor, &self.bounds, Some(&self.learner))
    }
}

/// Reads the facts for `ask` in one statement.
pub fn read(conn: &mut PgConnection, ask: &Ask) -> QueryResult<Facts> {
    // The engine is asked about [start, start + 1 min).
    let span = Interval::new(ask.start, ask.start + Duration::minutes(1));
    let since = (ask.now - Duration::days(policy::MAX_NOSHOW_WINDOW_DAYS)).min(ask.month_from);
    let recent = ask.now.min(ask.month_from);
    let statement = FactsStatement {
        mentor: ask.mentor,
        bounds: Bounds::around(span.start, span.end),
        learner: LearnerPart::new(ask.learner, ask.key, span, since, recent),
    };
    let (rows, learner): (load::Rows, LearnerRows) = statement.get_result(conn)?;
    let snapshot = load::assemble(rows, ask.now);
    Ok(Facts {
        snapshot: (!snapshot.mentors.is_empty()).then_some(snapshot),
        learner: Standing::from_rows(learner, span),
    })
}

/// The learner's side of a booking: the policy and their live sessions
/// (which starts a cap refuses), what keeps them busy around the starts
/// read for, and the booking made with the form's key. The booking check
/// reads it with the mentor's snapshot, under its locks; the confirm and
/// taken pages read it alone, to offer only times the caps leave open
/// (not a guarantee: the booking counts again), and the public mentor and
/// topic pages, for a signed-in visitor's busy times and the times their
/// limits refuse.
pub struct Standing {
    sessions: Vec<Session>,
    policy: Policy,
    /// The booking the learner made with the form's key, if any (a nil key:
    /// none asked about).
    pub existing: Option<Uuid>,
    /// What keeps the learner busy (their live sessions, those they host
    /// with their buffers), as far as it can clash with a start in
    /// `busy_span`.
    busy: Vec<Interval>,
    busy_span: Interval,
}

/// The learner's columns on their own (what the booking check reads after
/// the mentor's snapshot, in the same shape).
struct StandingStatement {
    part: LearnerPart,
}

crate::prepared_statement!(StandingStatement, LearnerColumns);

impl QueryFragment<Pg> for StandingStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        self.part.walk_ast(out.reborrow())
    }
}

impl Standing {
    /// Reads `learner`'s standing for starts from `now` on, in one
    /// statement: their no-shows from a year before `now` on (the longest
    /// no-show window), their other sessions from the month before `now`
    /// or `span` on (what is upcoming, and the month of any start from
    /// there on, in any zone), what keeps them busy around starts in
    /// `span`, and the booking made with the form's `key` (nil: none).
    pub fn read(
        conn: &mut PgConnection,
        learner: Uuid,
        key: Uuid,
        span: Interval,
        now: DateTime<Utc>,
    ) -> QueryResult<Self> {
        let since = now - Duration::days(policy::MAX_NOSHOW_WINDOW_DAYS);
        // A local month begins at most 31 days and a zone's offset before
        // any of its instants.
        let recent = now.min(span.start) - Duration::days(33);
        let statement = StandingStatement {
            part: LearnerPart::new(learner, key, span, since, recent),
        };
        Ok(Self::from_rows(statement.get_result(conn)?, span))
    }

    /// From the learner's columns, read for starts in `span`.
    fn from_rows((existing, busy, sessions, policy): LearnerRows, span: Interval) -> Self {
        Standing {
            sessions: sessions.into_iter().map(Session::from_row).collect(),
            policy: policy_of(policy),
            existing,
            busy: busy.into_iter().map(|(s, e)| Interval::new(s, e)).collect(),
            busy_span: span,
        }
    }

    /// Whether the learner has a live session overlapping `[start, end)`,
    /// counting the buffers of those they host (`start` in the span read).
    pub fn busy_at(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        !clear_of(&self.busy, start, end - start)
    }

    /// What keeps the learner busy around starts in `span`, when this was
    /// read for (at least) that span.
    pub fn busy_within(&self, span: Interval) -> Option<&[Interval]> {
        (self.busy_span.start <= span.start && span.end <= self.busy_span.end)
            .then_some(self.busy.as_slice())
    }

    /// The limit that refuses the learner a new booking of `topic` at any
    /// time they could pick now (upcoming caps, a no-show pause): what the
    /// public pages say before a time is picked. Not a month's cap, which
    /// leaves other months open.
    pub fn limit_at_any_time(
        &self,
        topic: Uuid,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Option<policy::Limit> {
        self.limit(topic, now, zone, now)
            .err()
            .filter(|l| !matches!(l, policy::Limit::PerMonth { .. }))
    }

    /// The limit that would refuse a new booking of `topic` at `start`
    /// (not before `now`) for a learner in `zone`.
    pub fn limit(
        &self,
        topic: Uuid,
        start: DateTime<Utc>,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<(), policy::Limit> {
        let counts: Counts = policy::tally(&self.sessions, &self.policy, start, zone, now);
        policy::check(&self.policy, &counts, topic, start, zone, now, true)
    }
}
