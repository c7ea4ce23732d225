//! Reading schedules. Every function takes a set of mentors, so a page
//! showing many mentors runs the same few queries as a page showing one.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::slots::Interval;

use super::model::{
    DateOverrideFull, OverrideRow, OverrideWindowRow, Profile, TimeOffRow, WeeklyRuleRow,
};
use crate::db::schema::{
    bookings, date_overrides, mentor_profiles, mentor_topics, override_windows, time_off,
    weekly_rules,
};

pub fn profile(conn: &mut PgConnection, mentor_id: Uuid) -> QueryResult<Option<Profile>> {
    mentor_profiles::table
        .find(mentor_id)
        .select(Profile::as_select())
        .first(conn)
        .optional()
}

/// The saved profile, or the defaults for a mentor who never saved one.
pub fn profile_or_default(
    conn: &mut PgConnection,
    mentor_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Profile> {
    Ok(profile(conn, mentor_id)?.unwrap_or_else(|| Profile::new_default(mentor_id, now)))
}

pub fn profiles_of(conn: &mut PgConnection, mentors: &[Uuid]) -> QueryResult<Vec<Profile>> {
    mentor_profiles::table
        .filter(mentor_profiles::user_id.eq_any(mentors))
        .select(Profile::as_select())
        .load(conn)
}

/// Inserts or updates the whole profile row.
pub fn save_profile(conn: &mut PgConnection, profile: &Profile) -> QueryResult<()> {
    diesel::insert_into(mentor_profiles::table)
        .values(profile)
        .on_conflict(mentor_profiles::user_id)
        .do_update()
        .set((
            mentor_profiles::headline.eq(&profile.headline),
            mentor_profiles::bio.eq(&profile.bio),
            mentor_profiles::meeting_url.eq(&profile.meeting_url),
            mentor_profiles::accepting_bookings.eq(profile.accepting_bookings),
            mentor_profiles::buffer_before_min.eq(profile.buffer_before_min),
            mentor_profiles::buffer_after_min.eq(profile.buffer_after_min),
            mentor_profiles::min_notice_hours.eq(profile.min_notice_hours),
            mentor_profiles::horizon_days.eq(profile.horizon_days),
            mentor_profiles::step_min.eq(profile.step_min),
            mentor_profiles::max_per_day.eq(profile.max_per_day),
            mentor_profiles::max_per_week.eq(profile.max_per_week),
            mentor_profiles::updated_at.eq(profile.updated_at),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn offered_topic_ids(conn: &mut PgConnection, mentor_id: Uuid) -> QueryResult<Vec<Uuid>> {
    mentor_topics::table
        .filter(mentor_topics::mentor_id.eq(mentor_id))
        .select(mentor_topics::topic_id)
        .load(conn)
}

/// Replaces the set of topics a mentor offers.
pub fn set_offered_topics(
    conn: &mut PgConnection,
    mentor_id: Uuid,
    topics: &[Uuid],
) -> QueryResult<()> {
    diesel::delete(mentor_topics::table.filter(mentor_topics::mentor_id.eq(mentor_id)))
        .execute(conn)?;
    let rows: Vec<_> = topics
        .iter()
        .map(|t| {
            (
                mentor_topics::mentor_id.eq(mentor_id),
                mentor_topics::topic_id.eq(*t),
            )
        })
        .collect();
    diesel::insert_into(mentor_topics::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|_| ())
}

pub fn weekly_rules_of(
    conn: &mut PgConnection,
    mentors: &[Uuid],
) -> QueryResult<Vec<WeeklyRuleRow>> {
    weekly_rules::table
        .filter(weekly_rules::mentor_id.eq_any(mentors))
        .order((
            weekly_rules::mentor_id,
            weekly_rules::weekday,
            weekly_rules::start_time,
            weekly_rules::id,
        ))
        .select(WeeklyRuleRow::as_select())
        .load(conn)
}

/// Overrides on local dates in `[from, to]`, each with its windows: two
/// queries whatever the number of mentors.
pub fn overrides_of(
    conn: &mut PgConnection,
    mentors: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DateOverrideFull>> {
    let overrides: Vec<OverrideRow> = date_overrides::table
        .filter(date_overrides::mentor_id.eq_any(mentors))
        .filter(date_overrides::on_date.between(from, to))
        .order((date_overrides::mentor_id, date_overrides::on_date))
        .select(OverrideRow::as_select())
        .load(conn)?;
    let ids: Vec<Uuid> = overrides.iter().map(|o| o.id).collect();
    let windows: Vec<OverrideWindowRow> = override_windows::table
        .filter(override_windows::override_id.eq_any(&ids))
        .order((override_windows::override_id, override_windows::start_time))
        .select(OverrideWindowRow::as_select())
        .load(conn)?;
    Ok(overrides
        .into_iter()
        .map(|o| DateOverrideFull {
            windows: windows
                .iter()
                .filter(|w| w.override_id == o.id)
                .map(|w| (w.id, w.start_time, w.end_time))
                .collect(),
            id: o.id,
            mentor_id: o.mentor_id,
            on_date: o.on_date,
        })
        .collect())
}

/// Time off overlapping `[from, to)`.
pub fn time_off_of(
    conn: &mut PgConnection,
    mentors: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<TimeOffRow>> {
    time_off::table
        .filter(time_off::mentor_id.eq_any(mentors))
        .filter(time_off::ends_at.gt(from))
        .filter(time_off::starts_at.lt(to))
        .order((time_off::mentor_id, time_off::starts_at))
        .select(TimeOffRow::as_select())
        .load(conn)
}

/// A live booking as the slot engine sees it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bookings)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct BookingSpan {
    pub mentor_id: Uuid,
    pub learner_id: Uuid,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub buffer_before_min: i32,
    pub buffer_after_min: i32,
}

impl BookingSpan {
    /// The time this booking keeps `person` busy: its learner, the session
    /// itself; its mentor, the occupied range (buffers included), which
    /// stays occupied time of their schedule when they book as a learner.
    pub fn busy_for(&self, person: Uuid) -> Interval {
        if self.mentor_id == person {
            Interval::new(
                self.start_at - chrono::Duration::minutes(self.buffer_before_min.into()),
                self.end_at + chrono::Duration::minutes(self.buffer_after_min.into()),
            )
        } else {
            Interval::new(self.start_at, self.end_at)
        }
    }
}

/// What keeps `person` busy, as far as it can clash with a session
/// starting in `[from, to)` (of any length up to [`MAX_SESSION`]): their
/// live sessions as learner and, buffers included, as mentor (but
/// `except`). The reader of a person's own busy times for the move page
/// and a mentor's own "taken" page; the booking check, a learner's "taken"
/// page and the public pages' signed-in visitor read them with their
/// standing in `bookings::facts`, the same rule in SQL.
///
/// Its own statement rather than [`live_bookings_involving`] for one
/// person: that one's `= ANY($1)` made PostgreSQL plan the statement anew
/// on every call (a custom plan each time; 0.2–0.3 ms of planning against
/// 0.1 ms of running it, measured with `pg_stat_statements` during the
/// races of `benches/booking_load.rs`, where every refusal reads its
/// learner's sessions), while this one settles on a generic plan. The
/// same filters; `except` is bound even when absent so the text never
/// changes.
pub fn busy_times(
    conn: &mut PgConnection,
    person: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<Vec<Interval>> {
    let margin = MAX_BUFFER;
    let spans: Vec<BookingSpan> = bookings::table
        .filter(
            bookings::learner_id
                .eq(person)
                .or(bookings::mentor_id.eq(person)),
        )
        .filter(bookings::status.ne("cancelled"))
        .filter(bookings::id.ne(except.unwrap_or(Uuid::nil())))
        .filter(bookings::end_at.gt(from - margin))
        .filter(bookings::start_at.gt(from - margin - MAX_SESSION))
        // A session starting before `to` may end a day later.
        .filter(bookings::start_at.lt(to + MAX_SESSION + margin))
        .select(BookingSpan::as_select())
        .load(conn)?;
    Ok(spans.iter().map(|b| b.busy_for(person)).collect())
}

/// Whether a session of `duration` from `start` keeps clear of `busy`.
pub fn clear_of(busy: &[Interval], start: DateTime<Utc>, duration: chrono::Duration) -> bool {
    let asked = Interval::new(start, start + duration);
    !busy.iter().any(|b| b.overlaps(&asked))
}

/// The longest a booking can last (CHECK `bookings_length_check`): a
/// session ending after `t` starts after `t - MAX_SESSION`.
pub const MAX_SESSION: chrono::Duration = chrono::Duration::days(1);

/// The largest buffer before or after a session (CHECK
/// `bookings_buffers_check`).
pub const MAX_BUFFER: chrono::Duration = chrono::Duration::minutes(120);

/// Live (not cancelled) bookings in which any of `users` is the mentor or
/// the learner, overlapping `[from, to)` widened by the largest buffer;
/// without `except` (the booking being rescheduled).
pub fn live_bookings_involving(
    conn: &mut PgConnection,
    users: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<Vec<BookingSpan>> {
    let margin = MAX_BUFFER;
    let mut query = bookings::table.into_boxed();
    if let Some(id) = except {
        query = query.filter(bookings::id.ne(id));
    }
    query
        .filter(
            bookings::mentor_id
                .eq_any(users)
                .or(bookings::learner_id.eq_any(users)),
        )
        .filter(bookings::status.ne("cancelled"))
        .filter(bookings::end_at.gt(from - margin))
        // Implied by the one above (a session lasts at most a day: CHECK
        // bookings_length_check), and what lets the (…, start_at) indexes
        // skip a mentor's whole history.
        .filter(bookings::start_at.gt(from - margin - MAX_SESSION))
        .filter(bookings::start_at.lt(to + margin))
        .order(bookings::start_at)
        .select(BookingSpan::as_select())
        .load(conn)
}
