//! The mentor's workspace: the sessions of one mentor (upcoming and the
//! last 30 days) with their learner and topic in one query, this week's and
//! this month's counts in the mentor's zone by one SQL aggregation, marking
//! a started session completed or no-show (for 7 days, audited), and the
//! secret calendar feed (a 256-bit token, an HMAC of the mentor and a
//! random nonce under the server key, so the dashboard can show it on
//! every visit; the database keeps its hash and the nonce, so whoever
//! holds both a copy of the database and the server key — stored there
//! too unless `OFFICEHOURS_SECRET_KEY` is set — can make it again). Query
//! functions take a connection. Depends on `accounts`, `schedule::queries`,
//! `topics`, `audit`, `slots::resolve_local` and `notify` (the events).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::model::{Booking, Status};
use super::notify::{self, Parties};
use super::service::Ctx;
use crate::accounts::User;
use crate::accounts::model::UserRow;
use crate::accounts::tokens;
use crate::audit;
use crate::db::schema::{bookings, calendar_feeds, mentor_profiles, topics, users};
use crate::email::ics;
use crate::schedule::Profile;
use crate::schedule::queries as schedule_queries;
use crate::slots::resolve_local;
use crate::topics::Topic;

/// How far back the dashboard and the feed reach.
pub const PAST_DAYS: i64 = 30;
/// How long after its start a session's outcome can be set or changed.
pub const OUTCOME_DAYS: i64 = 7;
/// Rows of one mentor loaded at most (upcoming are bounded by the horizon).
const MAX_ROWS: i64 = 1000;

/// A session of the mentor with its learner and topic.
#[derive(Debug, Clone)]
pub struct MentorSession {
    pub booking: Booking,
    /// When its outcome was last marked.
    pub outcome_marked_at: Option<DateTime<Utc>>,
    pub learner: User,
    pub topic: Topic,
}

/// The mentor's sessions starting from `now - 30 days` on, soonest first,
/// in one query.
pub fn sessions(
    conn: &mut PgConnection,
    mentor: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<MentorSession>> {
    let rows: Vec<(Booking, Option<DateTime<Utc>>, UserRow, Topic)> = bookings::table
        .inner_join(users::table.on(users::id.eq(bookings::learner_id)))
        .inner_join(topics::table.on(topics::id.eq(bookings::topic_id)))
        .filter(bookings::mentor_id.eq(mentor))
        .filter(bookings::start_at.ge(now - Duration::days(PAST_DAYS)))
        .order((bookings::start_at, bookings::id))
        .limit(MAX_ROWS)
        .select((
            Booking::as_select(),
            bookings::outcome_marked_at,
            UserRow::as_select(),
            Topic::as_select(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(booking, outcome_marked_at, learner, topic)| MentorSession {
                booking,
                outcome_marked_at,
                learner: learner.into(),
                topic,
            },
        )
        .collect())
}

/// Sessions of one period, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodCounts {
    /// Marked completed.
    pub completed: i64,
    /// Confirmed (still to happen, or not marked yet).
    pub booked: i64,
    pub no_shows: i64,
    pub cancelled: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub week: PeriodCounts,
    pub month: PeriodCounts,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    week_completed: i64,
    #[diesel(sql_type = BigInt)]
    week_booked: i64,
    #[diesel(sql_type = BigInt)]
    week_no_shows: i64,
    #[diesel(sql_type = BigInt)]
    week_cancelled: i64,
    #[diesel(sql_type = BigInt)]
    month_completed: i64,
    #[diesel(sql_type = BigInt)]
    month_booked: i64,
    #[diesel(sql_type = BigInt)]
    month_no_shows: i64,
    #[diesel(sql_type = BigInt)]
    month_cancelled: i64,
}

/// A local period `[start, end)` as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub first_day: NaiveDate,
}

fn midnight(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    resolve_local(zone, date, NaiveTime::MIN)
}

/// The local week (Monday to Sunday) and calendar month around `now` in
/// `zone`.
pub fn periods(now: DateTime<Utc>, zone: Tz) -> (Period, Period) {
    let today = now.with_timezone(&zone).date_naive();
    let monday = today - Duration::days(today.weekday().num_days_from_monday().into());
    let week = Period {
        start: midnight(zone, monday),
        end: midnight(zone, monday + Duration::days(7)),
        first_day: monday,
    };
    let first = today.with_day(1).unwrap_or(today);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first + Duration::days(31));
    let month = Period {
        start: midnight(zone, first),
        end: midnight(zone, next),
        first_day: first,
    };
    (week, month)
}

/// This week's and this month's sessions of `mentor`, counted by the
/// database in one statement.
pub fn counts(
    conn: &mut PgConnection,
    mentor: Uuid,
    week: Period,
    month: Period,
) -> QueryResult<Counts> {
    let row: CountRow = diesel::sql_query(
        "SELECT
           count(*) FILTER (WHERE in_week AND status = 'completed') AS week_completed,
           count(*) FILTER (WHERE in_week AND status = 'confirmed') AS week_booked,
           count(*) FILTER (WHERE in_week AND status = 'no_show') AS week_no_shows,
           count(*) FILTER (WHERE in_week AND status = 'cancelled') AS week_cancelled,
           count(*) FILTER (WHERE in_month AND status = 'completed') AS month_completed,
           count(*) FILTER (WHERE in_month AND status = 'confirmed') AS month_booked,
           count(*) FILTER (WHERE in_month AND status = 'no_show') AS month_no_shows,
           count(*) FILTER (WHERE in_month AND status = 'cancelled') AS month_cancelled
         FROM (SELECT status,
                      start_at >= $2 AND start_at < $3 AS in_week,
                      start_at >= $4 AND start_at < $5 AS in_month
                 FROM bookings
                WHERE mentor_id = $1
                  AND start_at >= LEAST($2, $4) AND start_at < GREATEST($3, $5)) AS b",
    )
    .bind::<SqlUuid, _>(mentor)
    .bind::<Timestamptz, _>(week.start)
    .bind::<Timestamptz, _>(week.end)
    .bind::<Timestamptz, _>(month.start)
    .bind::<Timestamptz, _>(month.end)
    .get_result(conn)?;
    Ok(Counts {
        week: PeriodCounts {
            completed: row.week_completed,
            booked: row.week_booked,
            no_shows: row.week_no_shows,
            cancelled: row.week_cancelled,
        },
        month: PeriodCounts {
            completed: row.month_completed,
            booked: row.month_booked,
            no_shows: row.month_no_shows,
            cancelled: row.month_cancelled,
        },
    })
}

/// The mentor's current calendar feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub created_at: DateTime<Utc>,
    /// The URL's token, when it can be derived again: not for a feed made
    /// before tokens were derived, nor after the server key changed (the
    /// URL still works then; only a new one can be shown).
    pub token: Option<String>,
}

/// The token of `mentor`'s feed with `nonce` under `key` (43 URL-safe
/// characters).
pub fn feed_token_for(key: &[u8], mentor: Uuid, nonce: Uuid) -> String {
    tokens::derive(key, "calendar-feed", mentor, nonce)
}

/// The mentor's current feed, if there is one.
pub fn feed_of(conn: &mut PgConnection, key: &[u8], mentor: Uuid) -> QueryResult<Option<Feed>> {
    let row: Option<(DateTime<Utc>, Vec<u8>, Option<Uuid>)> = calendar_feeds::table
        .find(mentor)
        .select((
            calendar_feeds::created_at,
            calendar_feeds::token_hash,
            calendar_feeds::nonce,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(created_at, hash, nonce)| Feed {
        created_at,
        token: nonce
            .map(|n| feed_token_for(key, mentor, n))
            .filter(|t| tokens::hash(t) == hash),
    }))
}

/// Everything the dashboard shows, in a fixed number of queries.
pub struct Dashboard {
    pub sessions: Vec<MentorSession>,
    pub counts: Counts,
    pub week: Period,
    pub month: Period,
    pub profile: Profile,
    pub topics_offered: usize,
    pub weekly_windows: usize,
    pub feed: Option<Feed>,
}

/// `key`: the server key feed tokens are derived from.
pub fn dashboard(
    conn: &mut PgConnection,
    key: &[u8],
    mentor: &User,
    now: DateTime<Utc>,
) -> QueryResult<Dashboard> {
    let (week, month) = periods(now, mentor.time_zone);
    Ok(Dashboard {
        sessions: sessions(conn, mentor.id, now)?,
        counts: counts(conn, mentor.id, week, month)?,
        week,
        month,
        profile: schedule_queries::profile_or_default(conn, mentor.id, now)?,
        topics_offered: schedule_queries::offered_topic_ids(conn, mentor.id)?.len(),
        weekly_windows: schedule_queries::weekly_rules_of(conn, &[mentor.id])?.len(),
        feed: feed_of(conn, key, mentor.id)?,
    })
}

// ---------------------------------------------------------------- outcome

/// What a mentor records about a session that took place (or did not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    NoShow,
}

impl Outcome {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "completed" => Some(Outcome::Completed),
            "no_show" => Some(Outcome::NoShow),
            _ => None,
        }
    }

    pub fn status(self) -> Status {
        match self {
            Outcome::Completed => Status::Completed,
            Outcome::NoShow => Status::NoShow,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    /// No such booking, or not one of this mentor's.
    #[error("not found")]
    NotFound,
    #[error("the session has not started yet")]
    NotStarted,
    #[error("the session started more than 7 days ago")]
    TooLate,
    #[error("the session was cancelled")]
    Cancelled,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Whether the outcome of `b` can be set at `now`: started, at most 7 days
/// ago, not cancelled.
pub fn outcome_open(b: &Booking, now: DateTime<Utc>) -> Result<(), OutcomeError> {
    if b.status() == Status::Cancelled {
        Err(OutcomeError::Cancelled)
    } else if now < b.start_at {
        Err(OutcomeError::NotStarted)
    } else if now - b.start_at > Duration::days(OUTCOME_DAYS) {
        Err(OutcomeError::TooLate)
    } else {
        Ok(())
    }
}

/// Marks one of `mentor`'s sessions completed or no-show, in one
/// transaction with its audit entry (old and new status).
pub fn mark_outcome(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    mentor: Uuid,
    booking_id: Uuid,
    outcome: Outcome,
) -> Result<Booking, OutcomeError> {
    conn.transaction(|conn| {
        let before: Booking = bookings::table
            .find(booking_id)
            .for_update()
            .select(Booking::as_select())
            .first(conn)
            .optional()?
            .filter(|b| b.mentor_id == mentor)
            .ok_or(OutcomeError::NotFound)?;
        outcome_open(&before, now)?;
        let status = outcome.status();
        let after: Booking = diesel::update(bookings::table.find(booking_id))
            .set((
                bookings::status.eq(status.as_str()),
                bookings::outcome_marked_at.eq(Some(now)),
                bookings::outcome_marked_by.eq(Some(mentor)),
                bookings::updated_at.eq(now),
            ))
            .returning(Booking::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            now,
            Some(mentor),
            "booking.outcome",
            Some(("booking", booking_id)),
            serde_json::json!({
                "from": before.status,
                "to": status.as_str(),
            }),
        )?;
        Ok(after)
    })
}

// ---------------------------------------------------------------- feed

/// Makes a new feed token for `mentor` under `key`, replacing any earlier
/// one (whose URL stops working at once); only its hash is kept. Returns
/// whether there was an earlier one.
pub fn regenerate_feed(
    conn: &mut PgConnection,
    key: &[u8],
    now: DateTime<Utc>,
    mentor: Uuid,
) -> QueryResult<bool> {
    let nonce = Uuid::new_v4();
    let token = feed_token_for(key, mentor, nonce);
    let hash = tokens::hash(&token);
    conn.transaction(|conn| {
        let replaced = calendar_feeds::table
            .find(mentor)
            .select(calendar_feeds::mentor_id)
            .for_update()
            .first::<Uuid>(conn)
            .optional()?
            .is_some();
        diesel::insert_into(calendar_feeds::table)
            .values((
                calendar_feeds::mentor_id.eq(mentor),
                calendar_feeds::token_hash.eq(&hash),
                calendar_feeds::created_at.eq(now),
                calendar_feeds::nonce.eq(Some(nonce)),
            ))
            .on_conflict(calendar_feeds::mentor_id)
            .do_update()
            .set((
                calendar_feeds::token_hash.eq(&hash),
                calendar_feeds::created_at.eq(now),
                calendar_feeds::nonce.eq(Some(nonce)),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            now,
            Some(mentor),
            "calendar_feed.regenerate",
            Some(("user", mentor)),
            serde_json::json!({ "replaced": replaced }),
        )?;
        Ok(replaced)
    })
}

/// The mentor a feed token belongs to: a mentor (or admin) account that is
/// not disabled. Anything else names nothing.
pub fn feed_owner(conn: &mut PgConnection, token: &str) -> QueryResult<Option<User>> {
    if token.is_empty() || token.len() > tokens::MAX_LEN {
        return Ok(None);
    }
    let row: Option<UserRow> = calendar_feeds::table
        .inner_join(users::table.on(users::id.eq(calendar_feeds::mentor_id)))
        .filter(calendar_feeds::token_hash.eq(tokens::hash(token)))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(User::from).filter(User::can_mentor))
}

/// A session attended as a learner: the booking, its mentor, topic and
/// the mentor's meeting link.
type Attended = (Booking, UserRow, Topic, Option<String>);

/// Sessions `person` attends as a learner, upcoming and of the last 30
/// days (as far back as [`sessions`]), in one query.
fn attended(
    conn: &mut PgConnection,
    person: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Attended>> {
    bookings::table
        .inner_join(users::table.on(users::id.eq(bookings::mentor_id)))
        .inner_join(topics::table.on(topics::id.eq(bookings::topic_id)))
        .left_join(mentor_profiles::table.on(mentor_profiles::user_id.eq(bookings::mentor_id)))
        .filter(bookings::learner_id.eq(person))
        .filter(bookings::start_at.ge(now - Duration::days(PAST_DAYS)))
        .order((bookings::start_at, bookings::id))
        .limit(MAX_ROWS)
        .select((
            Booking::as_select(),
            UserRow::as_select(),
            Topic::as_select(),
            mentor_profiles::meeting_url.nullable(),
        ))
        .load(conn)
}

/// The feed of `mentor`: the sessions they host and those they attend as
/// a learner (their time is taken either way), upcoming and of the last 30
/// days, as VEVENTs with the UIDs and SEQUENCEs of the emails, cancelled
/// ones cancelled, in time order.
pub fn feed(conn: &mut PgConnection, ctx: Ctx<'_>, mentor: &User) -> QueryResult<String> {
    let hosted = sessions(conn, mentor.id, ctx.now)?;
    let meeting_url = schedule_queries::profile_or_default(conn, mentor.id, ctx.now)?.meeting_url;
    let mut events: Vec<ics::Event> = hosted
        .into_iter()
        .map(|s| {
            let parties = Parties {
                learner: s.learner,
                mentor: mentor.clone(),
                topic: s.topic.into(),
                meeting_url: meeting_url.clone(),
            };
            notify::event(ctx, &parties, &s.booking, None)
        })
        .collect();
    for (booking, host, topic, meeting_url) in attended(conn, mentor.id, ctx.now)? {
        let parties = Parties {
            learner: mentor.clone(),
            mentor: host.into(),
            topic: topic.into(),
            meeting_url,
        };
        events.push(notify::event(ctx, &parties, &booking, None));
    }
    events.sort_by_key(|e| e.start);
    let name = format!("Office Hours: {}", mentor.display_name);
    Ok(ics::calendar(None, Some(&name), &events))
}

/// Whether `raw` is a feed path segment: the token with `.ics`.
pub fn feed_token(raw: &str) -> Option<&str> {
    raw.strip_suffix(".ics").filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn week_and_month_follow_the_local_calendar() {
        // Sunday 23:30 UTC on 31 May is Monday 1 June 01:30 in Berlin.
        let now = Utc.with_ymd_and_hms(2026, 5, 31, 23, 30, 0).unwrap();
        let (week, month) = periods(now, chrono_tz::Europe::Berlin);
        assert_eq!(
            week.start,
            Utc.with_ymd_and_hms(2026, 5, 31, 22, 0, 0).unwrap()
        );
        assert_eq!(
            week.end,
            Utc.with_ymd_and_hms(2026, 6, 7, 22, 0, 0).unwrap()
        );
        assert_eq!(
            month.start,
            Utc.with_ymd_and_hms(2026, 5, 31, 22, 0, 0).unwrap()
        );
        assert_eq!(
            month.end,
            Utc.with_ymd_and_hms(2026, 6, 30, 22, 0, 0).unwrap()
        );
        // In UTC it is still Sunday 31 May: the week began on 25 May.
        let (week, month) = periods(now, chrono_tz::UTC);
        assert_eq!(
            week.first_day,
            NaiveDate::from_ymd_opt(2026, 5, 25).unwrap()
        );
        assert_eq!(
            month.first_day,
            NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
        );
    }

    #[test]
    fn a_month_across_a_dst_change_keeps_local_midnights() {
        let now = Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap();
        let (_, month) = periods(now, chrono_tz::Europe::Berlin);
        assert_eq!(
            month.start,
            Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).unwrap()
        );
        assert_eq!(
            month.end,
            Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap()
        );
    }

    #[test]
    fn outcomes_parse_strictly() {
        assert_eq!(Outcome::parse("completed"), Some(Outcome::Completed));
        assert_eq!(Outcome::parse("no_show"), Some(Outcome::NoShow));
        assert_eq!(Outcome::parse("cancelled"), None);
        assert_eq!(Outcome::parse(""), None);
    }

    #[test]
    fn feed_tokens_need_the_suffix() {
        assert_eq!(feed_token("abc.ics"), Some("abc"));
        assert_eq!(feed_token("abc"), None);
        assert_eq!(feed_token(".ics"), None);
    }
}
