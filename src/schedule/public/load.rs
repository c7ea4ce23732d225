//! Everything a public slot page shows, in ONE SQL statement: the mentors
//! (one by id, or those offering a topic and taking bookings), their
//! offered topics, profiles, weekly rules, date overrides with their
//! windows, time off and live bookings, each set as one array of rows.
//!
//! Why not `availability::load` (six queries) plus the users and topics
//! queries: each statement is a round trip to PostgreSQL with its fixed
//! cost, and the load run (README, Benchmarks) spent most of the page's time
//! there. One statement, prepared once per connection, with the sets in
//! PostgreSQL's binary format (no JSON to build, escape and parse), made the
//! mentor page several times cheaper. The rows are the ones
//! `availability::load` reads, except bookings far from the window of a
//! mentor without day or week caps (they cannot change a slot; see
//! `Bounds`), and go through the same `availability::assemble` into the
//! engine's inputs, so the slot engine gives what the booking check gives; `tests/app/public.rs` compares the
//! pages with `availability::load`, with and without caps.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{
    Array, Bool, Date, Int2, Int4, Nullable, Record, Text, Time, Timestamptz, Uuid as SqlUuid,
};
use uuid::Uuid;

use crate::schedule::availability::{self, Loaded, MentorRef};
use crate::schedule::model::{
    DateOverrideFull, Profile, TimeOffRow as ModelTimeOff, WeeklyRuleRow,
};
use crate::schedule::queries::{BookingSpan, MAX_BUFFER, MAX_SESSION};

/// A topic as the public pages show it.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub duration_minutes: i32,
}

impl From<crate::topics::Topic> for TopicInfo {
    fn from(t: crate::topics::Topic) -> Self {
        TopicInfo {
            id: t.id,
            slug: t.slug,
            title: t.title,
            description: t.description,
            duration_minutes: t.duration_minutes,
        }
    }
}

impl From<TopicRow> for TopicInfo {
    fn from((id, slug, title, description, duration_minutes): TopicRow) -> Self {
        TopicInfo {
            id,
            slug,
            title,
            description,
            duration_minutes,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MentorInfo {
    pub id: Uuid,
    pub display_name: String,
    pub time_zone: String,
}

impl MentorInfo {
    /// The account zone; an unknown one (removed from a later tz database)
    /// reads as UTC, as `User` does.
    pub fn zone(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

type TopicRow = (Uuid, String, String, String, i32);
type MentorRow = (Uuid, String, String);
type OfferedRow = (Uuid, Uuid, String, String, String, i32);
/// user_id, headline, bio, accepting, buffers before/after, notice,
/// horizon, step, max per day/week, meeting link.
type ProfileRow = (
    Uuid,
    String,
    String,
    bool,
    i32,
    i32,
    i32,
    i32,
    i32,
    Option<i32>,
    Option<i32>,
    Option<String>,
);
type RuleRow = (Uuid, i16, NaiveTime, NaiveTime);
/// One row per window; a day off has one row without times.
type OverrideRow = (Uuid, NaiveDate, Option<NaiveTime>, Option<NaiveTime>);
type TimeOffRow = (Uuid, DateTime<Utc>, DateTime<Utc>);
/// mentor, learner, start, end, buffers before/after.
type BookingRow = (Uuid, Uuid, DateTime<Utc>, DateTime<Utc>, i32, i32);

/// The statement's columns, in order.
pub(crate) type Columns = (
    Nullable<Record<(SqlUuid, Text, Text, Text, Int4)>>,
    Nullable<Array<Record<(SqlUuid, Text, Text)>>>,
    Nullable<Array<Record<(SqlUuid, SqlUuid, Text, Text, Text, Int4)>>>,
    Nullable<
        Array<
            Record<(
                SqlUuid,
                Text,
                Text,
                Bool,
                Int4,
                Int4,
                Int4,
                Int4,
                Int4,
                Nullable<Int4>,
                Nullable<Int4>,
                Nullable<Text>,
            )>,
        >,
    >,
    Nullable<Array<Record<(SqlUuid, Int2, Time, Time)>>>,
    Nullable<Array<Record<(SqlUuid, Date, Nullable<Time>, Nullable<Time>)>>>,
    Nullable<Array<Record<(SqlUuid, Timestamptz, Timestamptz)>>>,
    // Bookings, one array per column (see `push_body`).
    Nullable<Array<SqlUuid>>,
    Nullable<Array<SqlUuid>>,
    Nullable<Array<Timestamptz>>,
    Nullable<Array<Timestamptz>>,
    Nullable<Array<Int4>>,
    Nullable<Array<Int4>>,
);

pub(crate) type Rows = (
    Option<TopicRow>,
    Option<Vec<MentorRow>>,
    Option<Vec<OfferedRow>>,
    Option<Vec<ProfileRow>>,
    Option<Vec<RuleRow>>,
    Option<Vec<OverrideRow>>,
    Option<Vec<TimeOffRow>>,
    Option<Vec<Uuid>>,
    Option<Vec<Uuid>>,
    Option<Vec<DateTime<Utc>>>,
    Option<Vec<DateTime<Utc>>>,
    Option<Vec<i32>>,
    Option<Vec<i32>>,
);

/// What one page needs.
pub struct Snapshot {
    /// The topic of a topic page (`None`: unknown or inactive slug).
    pub topic: Option<TopicInfo>,
    /// In name order.
    pub mentors: Vec<MentorInfo>,
    /// The active topics each mentor offers, in title order (mentor page).
    pub offered: HashMap<Uuid, Vec<TopicInfo>>,
    pub loaded: Loaded,
}

/// The rows' bounds around the searched window `[from, to)`: the margins
/// of `availability::load` (local dates in any zone and the day before for
/// windows crossing midnight; time off a day either side; bookings a week
/// either side, widened by the largest buffer, for the day and week caps).
/// Bookings far from the window matter only to the caps, so the wide range
/// is read only for mentors who have caps; the others' bookings (and every
/// mentor's own sessions as a learner) are read a day either side, which
/// covers the largest buffers and duration (two hours each) several times.
pub(crate) struct Bounds {
    first_date: NaiveDate,
    last_date: NaiveDate,
    near_from: DateTime<Utc>,
    /// `near_from` less the longest a session can last.
    near_start_from: DateTime<Utc>,
    near_to: DateTime<Utc>,
    booked_from: DateTime<Utc>,
    /// `booked_from` less the longest a session can last.
    booked_start_from: DateTime<Utc>,
    booked_to: DateTime<Utc>,
}

impl Bounds {
    pub(crate) fn around(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let buffer = MAX_BUFFER;
        Bounds {
            first_date: (from - Duration::days(2)).date_naive(),
            last_date: (to + Duration::days(2)).date_naive(),
            near_from: from - Duration::days(1),
            near_start_from: from - Duration::days(1) - MAX_SESSION,
            near_to: to + Duration::days(1),
            booked_from: from - Duration::days(8) - buffer,
            booked_start_from: from - Duration::days(8) - buffer - MAX_SESSION,
            booked_to: to + Duration::days(8) + buffer,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Mentor,
    Topic,
}

/// ` = ANY(<the mentors' ids>)`: an array computed once per statement,
/// so each lookup can use the tables' mentor indexes. (Comparing with the
/// mentor page's id parameter directly measured slower: PostgreSQL's
/// generic plan for it reads the bookings worse.)
fn push_ids(out: &mut AstPass<'_, '_, Pg>) {
    out.push_sql(" = ANY(ARRAY(SELECT id FROM m))");
}

/// The columns after the `m` (mentors) CTE, one array of rows per table
/// (NULL for none), then the columns of `extra` ("column, …").
fn push_body<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    b: &'b Bounds,
    page: Page,
    extra: Option<&'b dyn QueryFragment<Pg>>,
) -> QueryResult<()> {
    out.push_sql(match page {
        Page::Topic => {
            " SELECT (SELECT ROW(t.id, t.slug, t.title, t.description, t.duration_minutes) FROM topic t), "
        }
        Page::Mentor => " SELECT NULL::record, ",
    });
    out.push_sql(
        "(SELECT array_agg(ROW(m.id, m.display_name, m.time_zone) ORDER BY m.display_name, m.id) FROM m), ",
    );
    match page {
        Page::Mentor => {
            out.push_sql(
                "(SELECT array_agg(ROW(mt.mentor_id, t.id, t.slug, t.title, t.description, t.duration_minutes) \
                     ORDER BY t.title, t.id) \
                   FROM mentor_topics mt JOIN topics t ON t.id = mt.topic_id \
                   WHERE t.active AND mt.mentor_id",
            );
            push_ids(out);
            out.push_sql("), ");
        }
        Page::Topic => out.push_sql("NULL::record[], "),
    }
    out.push_sql(
        "(SELECT array_agg(ROW(p.user_id, p.headline, p.bio, p.accepting_bookings, p.buffer_before_min, \
             p.buffer_after_min, p.min_notice_hours, p.horizon_days, p.step_min, p.max_per_day, p.max_per_week, p.meeting_url)) \
           FROM mentor_profiles p WHERE p.user_id",
    );
    push_ids(out);
    out.push_sql(
        "), (SELECT array_agg(ROW(r.mentor_id, r.weekday, r.start_time, r.end_time) \
             ORDER BY r.mentor_id, r.weekday, r.start_time, r.id) \
           FROM weekly_rules r WHERE r.mentor_id",
    );
    push_ids(out);
    out.push_sql(
        "), (SELECT array_agg(ROW(o.mentor_id, o.on_date, w.start_time, w.end_time) \
             ORDER BY o.mentor_id, o.on_date, w.start_time) \
           FROM date_overrides o LEFT JOIN override_windows w ON w.override_id = o.id \
           WHERE o.on_date BETWEEN ",
    );
    out.push_bind_param::<Date, _>(&b.first_date)?;
    out.push_sql(" AND ");
    out.push_bind_param::<Date, _>(&b.last_date)?;
    out.push_sql(" AND o.mentor_id");
    push_ids(out);
    out.push_sql(
        "), (SELECT array_agg(ROW(x.mentor_id, x.starts_at, x.ends_at) ORDER BY x.mentor_id, x.starts_at) \
           FROM time_off x WHERE x.ends_at > ",
    );
    out.push_bind_param::<Timestamptz, _>(&b.near_from)?;
    out.push_sql(" AND x.starts_at < ");
    out.push_bind_param::<Timestamptz, _>(&b.near_to)?;
    out.push_sql(" AND x.mentor_id");
    push_ids(out);
    // Bookings are the one large set: one array per column (PostgreSQL
    // sends them much faster than an array of rows; the engine does not
    // care about their order, and the aggregates see the rows in one
    // order).
    out.push_sql("), k.mentor_ids, k.learner_ids, k.starts, k.ends, k.befores, k.afters");
    if let Some(extra) = extra {
        out.push_sql(", ");
        extra.walk_ast(out.reborrow())?;
    }
    out.push_sql(
        " FROM (SELECT array_agg(k.mentor_id) AS mentor_ids, array_agg(k.learner_id) AS learner_ids, \
             array_agg(k.start_at) AS starts, array_agg(k.end_at) AS ends, \
             array_agg(k.buffer_before_min) AS befores, array_agg(k.buffer_after_min) AS afters \
           FROM bookings k WHERE k.status <> 'cancelled' AND (((k.mentor_id",
    );
    // Two ranges, each bounded on `start_at` from below too (implied by
    // the `end_at` bound and CHECK bookings_length_check), so that each arm
    // is a range of the (mentor_id, start_at) or (learner_id, start_at)
    // index: the near one for everybody, the wide one only for mentors
    // with caps. (One wide index range filtered down to the near one read
    // three times the rows of a busy mentor, in as many heap blocks.)
    push_ids(out);
    out.push_sql(" OR k.learner_id");
    push_ids(out);
    out.push_sql(") AND k.end_at > ");
    out.push_bind_param::<Timestamptz, _>(&b.near_from)?;
    out.push_sql(" AND k.start_at > ");
    out.push_bind_param::<Timestamptz, _>(&b.near_start_from)?;
    out.push_sql(" AND k.start_at < ");
    out.push_bind_param::<Timestamptz, _>(&b.near_to)?;
    out.push_sql(
        ") OR (k.mentor_id = ANY(ARRAY(SELECT c.user_id FROM mentor_profiles c \
           WHERE (c.max_per_day IS NOT NULL OR c.max_per_week IS NOT NULL) AND c.user_id",
    );
    push_ids(out);
    out.push_sql(")) AND k.end_at > ");
    out.push_bind_param::<Timestamptz, _>(&b.booked_from)?;
    out.push_sql(" AND k.start_at > ");
    out.push_bind_param::<Timestamptz, _>(&b.booked_start_from)?;
    out.push_sql(" AND k.start_at < ");
    out.push_bind_param::<Timestamptz, _>(&b.booked_to)?;
    out.push_sql("))) k");
    Ok(())
}

/// The mentor page's statement: one mentor (or admin) by id, not disabled.
struct MentorStatement {
    id: Uuid,
    bounds: Bounds,
}

/// The topic page's statement: the active topic by slug and the mentors
/// offering it who take bookings.
struct TopicStatement {
    slug: String,
    bounds: Bounds,
}

// A fixed SQL text per type, so diesel prepares each once per connection.
crate::prepared_statement!(MentorStatement, Columns);
crate::prepared_statement!(TopicStatement, Columns);

impl QueryFragment<Pg> for MentorStatement {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_mentor(out, &self.id, &self.bounds, None)
    }
}

/// The mentor page's statement for mentor `id`, with `extra` columns
/// after the snapshot's (the booking check reads its other facts in the
/// same round trip: `bookings::facts`).
pub(crate) fn push_mentor<'b>(
    mut out: AstPass<'_, 'b, Pg>,
    id: &'b Uuid,
    bounds: &'b Bounds,
    extra: Option<&'b dyn QueryFragment<Pg>>,
) -> QueryResult<()> {
    out.push_sql("WITH m AS (SELECT u.id, u.display_name, u.time_zone FROM users u WHERE u.id = ");
    out.push_bind_param::<SqlUuid, _>(id)?;
    out.push_sql(" AND u.role IN ('mentor', 'admin') AND u.disabled_at IS NULL)");
    push_body(&mut out, bounds, Page::Mentor, extra)
}

impl QueryFragment<Pg> for TopicStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH topic AS (SELECT id, slug, title, description, duration_minutes FROM topics \
             WHERE slug = ",
        );
        out.push_bind_param::<Text, _>(&self.slug)?;
        out.push_sql(
            " AND active), \
             m AS (SELECT u.id, u.display_name, u.time_zone FROM topic \
               JOIN mentor_topics mt ON mt.topic_id = topic.id ",
        );
        out.push_sql(crate::topics::OFFERING_MENTORS);
        out.push_sql(")");
        push_body(&mut out, &self.bounds, Page::Topic, None)
    }
}

/// One mentor (or admin), with everything for slots in `[from, to)`.
/// `None` when there is no such mentor.
pub fn mentor(
    conn: &mut PgConnection,
    id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Snapshot>> {
    let rows: Rows = MentorStatement {
        id,
        bounds: Bounds::around(from, to),
    }
    .get_result(conn)?;
    let snapshot = assemble(rows, now);
    Ok((!snapshot.mentors.is_empty()).then_some(snapshot))
}

/// The active topic `slug` and the mentors offering it who take bookings,
/// with everything for slots in `[from, to)`. `None` when there is no such
/// active topic.
pub fn topic(
    conn: &mut PgConnection,
    slug: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Snapshot>> {
    let rows: Rows = TopicStatement {
        slug: slug.to_owned(),
        bounds: Bounds::around(from, to),
    }
    .get_result(conn)?;
    let snapshot = assemble(rows, now);
    Ok(snapshot.topic.is_some().then_some(snapshot))
}

/// The rows as the engine wants them: the same assembly as
/// `availability::load`.
pub(crate) fn assemble(rows: Rows, now: DateTime<Utc>) -> Snapshot {
    let (
        topic,
        mentors,
        offered,
        profiles,
        rules,
        overrides,
        time_off,
        booking_mentors,
        booking_learners,
        booking_starts,
        booking_ends,
        booking_befores,
        booking_afters,
    ) = rows;
    let mentors: Vec<MentorInfo> = mentors
        .unwrap_or_default()
        .into_iter()
        .map(|(id, display_name, time_zone)| MentorInfo {
            id,
            display_name,
            time_zone,
        })
        .collect();
    let profiles = profiles.unwrap_or_default();
    let rules = rules.unwrap_or_default();
    let overrides = overrides.unwrap_or_default();
    let time_off = time_off.unwrap_or_default();
    // Rows again from the columns (the arrays have one length).
    let bookings: Vec<BookingRow> = booking_mentors
        .unwrap_or_default()
        .into_iter()
        .zip(booking_learners.unwrap_or_default())
        .zip(booking_starts.unwrap_or_default())
        .zip(booking_ends.unwrap_or_default())
        .zip(booking_befores.unwrap_or_default())
        .zip(booking_afters.unwrap_or_default())
        .map(|(((((mentor, learner), start), end), before), after)| {
            (mentor, learner, start, end, before, after)
        })
        .collect();

    // Into the row types `availability::assemble` takes, so both loaders
    // feed the engine through one piece of code. Ids the engine does not
    // use are nil.
    let profiles = profiles
        .into_iter()
        .map(|p| Profile {
            headline: p.1,
            bio: p.2,
            accepting_bookings: p.3,
            buffer_before_min: p.4,
            buffer_after_min: p.5,
            min_notice_hours: p.6,
            horizon_days: p.7,
            step_min: p.8,
            max_per_day: p.9,
            max_per_week: p.10,
            meeting_url: p.11,
            ..Profile::new_default(p.0, now)
        })
        .collect();
    let rules = rules
        .into_iter()
        .map(|(mentor_id, weekday, start_time, end_time)| WeeklyRuleRow {
            id: Uuid::nil(),
            mentor_id,
            weekday,
            start_time,
            end_time,
        })
        .collect();
    // One row per window, ordered by mentor and date: one override per
    // date, with no windows for a day off.
    let mut date_overrides: Vec<DateOverrideFull> = Vec::new();
    for (mentor_id, on_date, start, end) in overrides {
        if date_overrides
            .last()
            .is_none_or(|o| o.mentor_id != mentor_id || o.on_date != on_date)
        {
            date_overrides.push(DateOverrideFull {
                id: Uuid::nil(),
                mentor_id,
                on_date,
                windows: Vec::new(),
            });
        }
        if let (Some(start), Some(end), Some(o)) = (start, end, date_overrides.last_mut()) {
            o.windows.push((Uuid::nil(), start, end));
        }
    }
    let time_off = time_off
        .into_iter()
        .map(|(mentor_id, starts_at, ends_at)| ModelTimeOff {
            id: Uuid::nil(),
            mentor_id,
            starts_at,
            ends_at,
            note: String::new(),
        })
        .collect();
    let bookings = bookings
        .into_iter()
        .map(
            |(mentor_id, learner_id, start_at, end_at, buffer_before_min, buffer_after_min)| {
                BookingSpan {
                    mentor_id,
                    learner_id,
                    start_at,
                    end_at,
                    buffer_before_min,
                    buffer_after_min,
                }
            },
        )
        .collect();
    let refs: Vec<MentorRef> = mentors
        .iter()
        .map(|m| MentorRef {
            id: m.id,
            zone: m.zone(),
        })
        .collect();
    let loaded = availability::assemble(
        &refs,
        availability::Rows {
            profiles,
            rules,
            overrides: date_overrides,
            time_off,
            bookings,
        },
        now,
    );
    let mut by_mentor: HashMap<Uuid, Vec<TopicInfo>> = HashMap::new();
    for (mentor, id, slug, title, description, duration_minutes) in offered.unwrap_or_default() {
        by_mentor.entry(mentor).or_default().push(TopicInfo::from((
            id,
            slug,
            title,
            description,
            duration_minutes,
        )));
    }
    Snapshot {
        topic: topic.map(TopicInfo::from),
        mentors,
        offered: by_mentor,
        loaded,
    }
}
