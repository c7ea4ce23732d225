//! Changing a mentor's schedule and booking settings: the time zone, weekly
//! windows, date overrides, time off, and the profile with its offered
//! topics. Each change is one transaction that first locks the mentor's
//! `users` row (so two concurrent edits cannot both pass the overlap check)
//! and records an audit entry. Rules are checked here, once, for the HTML
//! editor and the JSON API alike; failures are `EditError`s in domain words.
//! Also builds the preview of free slots the editor shows. Depends on `db`,
//! `audit`, `topics`, `slots` and the schedule queries.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use diesel::prelude::*;
use uuid::Uuid;

use super::availability::{self, MentorRef, weekday_of};
use super::model::{OverrideRow, OverrideWindowRow, Profile, TimeOffRow, WeeklyRuleRow};
use super::queries;
use crate::audit;
use crate::db::schema::{
    date_overrides, mentor_topics, override_windows, time_off, topics, users, weekly_rules,
};
use crate::slots::{Interval, Slot, resolve_local};
use crate::topics::Topic;
use crate::web::forms::{check_characters, is_plain_line, one_char_line_breaks};

/// Which end of a window a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

/// Why a schedule change was refused (or failed).
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("Choose a day of the week.")]
    NoSuchWeekday,
    #[error("Times go in steps of 5 minutes, e.g. 09:00, 09:05, 09:10.")]
    OffGrid(Bound),
    #[error("This window overlaps {other}. Remove that one first or choose other times.")]
    Overlaps { other: String },
    #[error("Choose today or a later date.")]
    DateInPast,
    #[error("Choose a date within the next two years.")]
    DateTooFar,
    #[error("The end must be after the start.")]
    EndNotAfterStart,
    #[error("This time off is already over. Choose an end in the future.")]
    AlreadyOver,
    #[error("A time off lasts at most a year. Add another one for the rest.")]
    TooLong,
    #[error("A note has at most 200 characters.")]
    NoteTooLong,
    #[error("Use letters, digits, spaces and punctuation only.")]
    NoteControlChars,
    /// No such rule, override or time off of this mentor.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// 5-minute grid, whole minutes.
pub const GRID_MIN: u32 = 5;
/// How far ahead a date override may lie.
const MAX_DAYS_AHEAD: i64 = 730;
const NOTE_MAX: usize = 200;

const DAY: i32 = 24 * 60;
const WEEK: i32 = 7 * DAY;

fn minute_of_day(t: NaiveTime) -> i32 {
    // Both are small: hour < 24, minute < 60.
    (t.hour() * 60 + t.minute()) as i32
}

/// `[start, end)` in minutes from the start of its day; an end at or before
/// the start lies on the next day (so it may reach past 1440, and an end
/// equal to the start is 24 hours later).
fn span(start: NaiveTime, end: NaiveTime) -> (i32, i32) {
    let s = minute_of_day(start);
    let e = minute_of_day(end);
    (s, if e > s { e } else { e + DAY })
}

/// Half-open overlap of two minute ranges, with `b` also tried shifted by
/// ±`period` (0: no wrap-around).
fn overlaps(a: (i32, i32), b: (i32, i32), period: i32) -> bool {
    let shifts: &[i32] = if period == 0 {
        &[0]
    } else {
        &[-period, 0, period]
    };
    shifts.iter().any(|k| a.0 < b.1 + k && b.0 + k < a.1)
}

/// "09:00 – 12:00", or "22:00 – 02:00 (next day)" for a window that ends
/// on the day after it starts.
pub fn window_label(start: NaiveTime, end: NaiveTime) -> String {
    let next = if end <= start { " (next day)" } else { "" };
    format!("{} – {}{next}", start.format("%H:%M"), end.format("%H:%M"))
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// The grid rule every window follows. Any two times make a window: an end
/// at or before the start ends the next day, so an end equal to the start
/// makes it 24 hours long.
fn check_window(start: NaiveTime, end: NaiveTime) -> Result<(), EditError> {
    for (t, bound) in [(start, Bound::Start), (end, Bound::End)] {
        if t.second() != 0 || t.nanosecond() != 0 || t.minute() % GRID_MIN != 0 {
            return Err(EditError::OffGrid(bound));
        }
    }
    Ok(())
}

/// Locks the mentor's row for the rest of the transaction and returns
/// their zone (a zone that does not parse reads as UTC); `NotFound` once
/// the account is disabled or deleted.
fn lock_mentor(conn: &mut PgConnection, mentor: Uuid) -> Result<Tz, EditError> {
    // An account disabled or deleted meanwhile is no longer edited (its
    // deletion erased the schedule).
    let zone: String = users::table
        .find(mentor)
        .filter(users::disabled_at.is_null())
        .select(users::time_zone)
        .for_no_key_update()
        .first(conn)
        .optional()?
        .ok_or(EditError::NotFound)?;
    Ok(zone.parse().unwrap_or(Tz::UTC))
}

fn record(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    mentor: Uuid,
    action: &str,
    subject: (&str, Uuid),
    details: serde_json::Value,
) -> Result<(), EditError> {
    audit::record(conn, now, Some(mentor), action, Some(subject), details)?;
    Ok(())
}

// ---------------------------------------------------------------- zone

/// Changes the mentor's account zone. Weekly windows and overrides keep
/// their wall-clock times, now read in the new zone; time off keeps its
/// instants.
pub fn set_zone(
    conn: &mut PgConnection,
    mentor: Uuid,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<(), EditError> {
    conn.transaction(|conn| {
        let old = lock_mentor(conn, mentor)?;
        diesel::update(users::table.find(mentor))
            .set((users::time_zone.eq(zone.name()), users::updated_at.eq(now)))
            .execute(conn)?;
        record(
            conn,
            now,
            mentor,
            "schedule.zone_changed",
            ("user", mentor),
            serde_json::json!({ "from": old.name(), "to": zone.name() }),
        )
    })
}

// ---------------------------------------------------------------- weekly

/// Adds a weekly window on ISO `weekday` (1 = Monday). Refused when it is
/// off the 5-minute grid or overlaps another weekly window, counting
/// windows that run past midnight into the next day (Sunday's into
/// Monday's; one whose end equals its start lasts 24 hours), or overlaps
/// the part past midnight of a date override's window on a coming date
/// before that weekday (when that weekday's date has no override of its
/// own, which the override's window would stop at).
pub fn add_weekly_window(
    conn: &mut PgConnection,
    mentor: Uuid,
    weekday: i16,
    start: NaiveTime,
    end: NaiveTime,
    now: DateTime<Utc>,
) -> Result<WeeklyRuleRow, EditError> {
    let day = weekday_of(weekday).ok_or(EditError::NoSuchWeekday)?;
    check_window(start, end)?;
    conn.transaction(|conn| {
        let zone = lock_mentor(conn, mentor)?;
        let existing = queries::weekly_rules_of(conn, &[mentor])?;
        let offset = |wd: i16| i32::from(wd - 1) * DAY;
        let (s, e) = span(start, end);
        let today = now.with_timezone(&zone).date_naive();
        let overrides = queries::overrides_of(
            conn,
            &[mentor],
            today.pred_opt().unwrap_or(today),
            today + Duration::days(MAX_DAYS_AHEAD),
        )?;
        for o in &overrides {
            let Some(next) = o.on_date.succ_opt() else {
                continue;
            };
            if next.weekday() != day || overrides.iter().any(|p| p.on_date == next) {
                continue;
            }
            // The part of the override's window on `next`, in minutes of
            // that day: [0, end) for one running past midnight.
            if let Some((_, os, oe)) = o.windows.iter().find(|(_, os, oe)| {
                let (_, b) = span(*os, *oe);
                b > DAY && overlaps((s, e), (0, b - DAY), 0)
            }) {
                return Err(EditError::Overlaps {
                    other: format!(
                        "{} on {}",
                        window_label(*os, *oe),
                        o.on_date.format("%a %-d %b %Y")
                    ),
                });
            }
        }
        let new = (s + offset(weekday), e + offset(weekday));
        if let Some(other) = existing.iter().find(|r| {
            let (s, e) = span(r.start_time, r.end_time);
            overlaps(new, (s + offset(r.weekday), e + offset(r.weekday)), WEEK)
        }) {
            let other_day = weekday_of(other.weekday).map_or("", weekday_name);
            return Err(EditError::Overlaps {
                other: format!(
                    "{other_day} {}",
                    window_label(other.start_time, other.end_time)
                ),
            });
        }
        let row = WeeklyRuleRow {
            id: Uuid::now_v7(),
            mentor_id: mentor,
            weekday,
            start_time: start,
            end_time: end,
        };
        diesel::insert_into(weekly_rules::table)
            .values(&row)
            .execute(conn)?;
        record(
            conn,
            now,
            mentor,
            "schedule.weekly_window_added",
            ("weekly_rule", row.id),
            serde_json::json!({
                "weekday": weekday_name(day),
                "window": window_label(start, end),
            }),
        )?;
        Ok(row)
    })
}

/// Deletes one of the mentor's weekly windows; another mentor's is
/// `NotFound`.
pub fn delete_weekly_window(
    conn: &mut PgConnection,
    mentor: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), EditError> {
    conn.transaction(|conn| {
        lock_mentor(conn, mentor)?;
        let deleted = diesel::delete(
            weekly_rules::table
                .filter(weekly_rules::id.eq(id))
                .filter(weekly_rules::mentor_id.eq(mentor)),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(EditError::NotFound);
        }
        record(
            conn,
            now,
            mentor,
            "schedule.weekly_window_deleted",
            ("weekly_rule", id),
            serde_json::json!({}),
        )
    })
}

// ---------------------------------------------------------------- overrides

fn check_date(date: NaiveDate, today: NaiveDate) -> Result<(), EditError> {
    if date < today {
        return Err(EditError::DateInPast);
    }
    if date > today + Duration::days(MAX_DAYS_AHEAD) {
        return Err(EditError::DateTooFar);
    }
    Ok(())
}

/// A local window: start and end wall-clock time.
type Window = (NaiveTime, NaiveTime);

/// The windows in force on each of `dates`: the override's when the date
/// has one (then `true`), else the weekly rules of its weekday.
fn windows_in_force(
    conn: &mut PgConnection,
    mentor: Uuid,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<(NaiveDate, Vec<Window>, bool)>, EditError> {
    let overrides = queries::overrides_of(conn, &[mentor], first, last)?;
    let weekly = queries::weekly_rules_of(conn, &[mentor])?;
    Ok(first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| match overrides.iter().find(|o| o.on_date == d) {
            Some(o) => (
                d,
                o.windows.iter().map(|(_, s, e)| (*s, *e)).collect(),
                true,
            ),
            None => (
                d,
                weekly
                    .iter()
                    .filter(|r| weekday_of(r.weekday) == Some(d.weekday()))
                    .map(|r| (r.start_time, r.end_time))
                    .collect(),
                false,
            ),
        })
        .collect())
}

/// Gives local `date` its own window (creating the date's override, or
/// adding to it; a date that was unavailable all day becomes available in
/// this window). Refused when the window overlaps another of that date, or,
/// running past midnight, one of the day after (unless that day has an
/// override too, which the window then stops at). A window of the day
/// before running past midnight stops at this date's start
/// (`slots` module doc), so it is no obstacle. Tells whether the date was
/// unavailable all day until now: these hours replace that (the mentor is
/// told so).
pub fn add_override_window(
    conn: &mut PgConnection,
    mentor: Uuid,
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    now: DateTime<Utc>,
) -> Result<bool, EditError> {
    check_window(start, end)?;
    conn.transaction(|conn| {
        let zone = lock_mentor(conn, mentor)?;
        check_date(date, now.with_timezone(&zone).date_naive())?;
        let Some(after) = date.succ_opt() else {
            return Err(EditError::DateTooFar);
        };
        let (s, e) = span(start, end);
        for (d, windows, overridden) in windows_in_force(conn, mentor, date, after)? {
            if d == after && overridden {
                continue;
            }
            let shift = i32::try_from((d - date).num_days()).unwrap_or(0) * DAY;
            if let Some((os, oe)) = windows.iter().find(|(os, oe)| {
                let (a, b) = span(*os, *oe);
                overlaps((s, e), (a + shift, b + shift), 0)
            }) {
                return Err(EditError::Overlaps {
                    other: format!("{} on {}", window_label(*os, *oe), d.format("%a %-d %b %Y")),
                });
            }
        }
        let existing = date_overrides::table
            .filter(date_overrides::mentor_id.eq(mentor))
            .filter(date_overrides::on_date.eq(date))
            .select(date_overrides::id)
            .first::<Uuid>(conn)
            .optional()?;
        let was_blocked = match existing {
            Some(id) => {
                override_windows::table
                    .filter(override_windows::override_id.eq(id))
                    .count()
                    .get_result::<i64>(conn)?
                    == 0
            }
            None => false,
        };
        let override_id = match existing {
            Some(id) => id,
            None => {
                let row = OverrideRow {
                    id: Uuid::now_v7(),
                    mentor_id: mentor,
                    on_date: date,
                };
                diesel::insert_into(date_overrides::table)
                    .values(&row)
                    .execute(conn)?;
                row.id
            }
        };
        let window = OverrideWindowRow {
            id: Uuid::now_v7(),
            override_id,
            start_time: start,
            end_time: end,
        };
        diesel::insert_into(override_windows::table)
            .values(&window)
            .execute(conn)?;
        record(
            conn,
            now,
            mentor,
            "schedule.override_window_added",
            ("date_override", override_id),
            serde_json::json!({
                "date": date.to_string(),
                "window": window_label(start, end),
            }),
        )?;
        Ok(was_blocked)
    })
}

/// Makes local `date` unavailable all day, replacing any windows it had.
pub fn block_date(
    conn: &mut PgConnection,
    mentor: Uuid,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Uuid, EditError> {
    conn.transaction(|conn| {
        let zone = lock_mentor(conn, mentor)?;
        check_date(date, now.with_timezone(&zone).date_naive())?;
        let existing = date_overrides::table
            .filter(date_overrides::mentor_id.eq(mentor))
            .filter(date_overrides::on_date.eq(date))
            .select(date_overrides::id)
            .first::<Uuid>(conn)
            .optional()?;
        let id = match existing {
            Some(id) => {
                diesel::delete(
                    override_windows::table.filter(override_windows::override_id.eq(id)),
                )
                .execute(conn)?;
                id
            }
            None => {
                let row = OverrideRow {
                    id: Uuid::now_v7(),
                    mentor_id: mentor,
                    on_date: date,
                };
                diesel::insert_into(date_overrides::table)
                    .values(&row)
                    .execute(conn)?;
                row.id
            }
        };
        record(
            conn,
            now,
            mentor,
            "schedule.date_blocked",
            ("date_override", id),
            serde_json::json!({ "date": date.to_string() }),
        )?;
        Ok(id)
    })
}

/// Deletes a date override with its windows: the date follows the weekly
/// windows again.
pub fn delete_override(
    conn: &mut PgConnection,
    mentor: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), EditError> {
    conn.transaction(|conn| {
        lock_mentor(conn, mentor)?;
        let date: NaiveDate = diesel::delete(
            date_overrides::table
                .filter(date_overrides::id.eq(id))
                .filter(date_overrides::mentor_id.eq(mentor)),
        )
        .returning(date_overrides::on_date)
        .get_result(conn)
        .optional()?
        .ok_or(EditError::NotFound)?;
        still_apart_without(conn, mentor, date)?;
        record(
            conn,
            now,
            mentor,
            "schedule.override_deleted",
            ("date_override", id),
            serde_json::json!({ "date": date.to_string() }),
        )
    })
}

/// With `date`'s override gone, its weekly windows are back; a window of
/// the day before running past midnight, which stopped at `date`'s start
/// while it had an override, runs into them again. Refused (the caller's
/// transaction rolls the removal back) when the two would overlap. Weekly
/// windows among themselves were checked when they were added.
fn still_apart_without(
    conn: &mut PgConnection,
    mentor: Uuid,
    date: NaiveDate,
) -> Result<(), EditError> {
    let Some(before) = date.pred_opt() else {
        return Ok(());
    };
    let days = windows_in_force(conn, mentor, before, date)?;
    let [(_, evening, true), (_, own, false)] = days.as_slice() else {
        return Ok(());
    };
    for (es, ee) in evening {
        let (a, b) = span(*es, *ee);
        if b <= DAY {
            continue;
        }
        if let Some((os, oe)) = own.iter().find(|(os, oe)| {
            let (c, d) = span(*os, *oe);
            overlaps((a, b), (c + DAY, d + DAY), 0)
        }) {
            return Err(EditError::Overlaps {
                other: format!(
                    "{} on {}, which {} on {} would overlap again",
                    window_label(*es, *ee),
                    before.format("%a %-d %b %Y"),
                    window_label(*os, *oe),
                    date.format("%a %-d %b %Y"),
                ),
            });
        }
    }
    Ok(())
}

/// What deleting one window of an override did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowDeleted {
    /// The date keeps its other windows.
    Window,
    /// It was the date's last window: the whole override went, and the
    /// date follows the weekly windows again (rather than silently
    /// becoming unavailable all day).
    Override,
}

pub fn delete_override_window(
    conn: &mut PgConnection,
    mentor: Uuid,
    window_id: Uuid,
    now: DateTime<Utc>,
) -> Result<WindowDeleted, EditError> {
    conn.transaction(|conn| {
        lock_mentor(conn, mentor)?;
        let override_id: Uuid = override_windows::table
            .inner_join(date_overrides::table)
            .filter(override_windows::id.eq(window_id))
            .filter(date_overrides::mentor_id.eq(mentor))
            .select(override_windows::override_id)
            .first(conn)
            .optional()?
            .ok_or(EditError::NotFound)?;
        diesel::delete(override_windows::table.find(window_id)).execute(conn)?;
        let left: i64 = override_windows::table
            .filter(override_windows::override_id.eq(override_id))
            .count()
            .get_result(conn)?;
        let outcome = if left == 0 {
            let date: NaiveDate = diesel::delete(date_overrides::table.find(override_id))
                .returning(date_overrides::on_date)
                .get_result(conn)?;
            still_apart_without(conn, mentor, date)?;
            WindowDeleted::Override
        } else {
            WindowDeleted::Window
        };
        record(
            conn,
            now,
            mentor,
            "schedule.override_window_deleted",
            ("date_override", override_id),
            serde_json::json!({
                "window_id": window_id,
                "override_deleted": outcome == WindowDeleted::Override,
            }),
        )?;
        Ok(outcome)
    })
}

// ---------------------------------------------------------------- time off

/// Adds time off from local `from` to local `to` in the mentor's zone,
/// each converted with the gap/fold rule (`slots::resolve_local`).
pub fn add_time_off(
    conn: &mut PgConnection,
    mentor: Uuid,
    from: NaiveDateTime,
    to: NaiveDateTime,
    note: &str,
    now: DateTime<Utc>,
) -> Result<TimeOffRow, EditError> {
    let note = note.trim();
    if note.chars().count() > NOTE_MAX {
        return Err(EditError::NoteTooLong);
    }
    if !is_plain_line(note) {
        return Err(EditError::NoteControlChars);
    }
    conn.transaction(|conn| {
        let zone = lock_mentor(conn, mentor)?;
        let starts_at = resolve_local(zone, from.date(), from.time());
        let ends_at = resolve_local(zone, to.date(), to.time());
        if ends_at <= starts_at {
            return Err(EditError::EndNotAfterStart);
        }
        if ends_at <= now {
            return Err(EditError::AlreadyOver);
        }
        if ends_at - starts_at > Duration::days(366) {
            return Err(EditError::TooLong);
        }
        let row = TimeOffRow {
            id: Uuid::now_v7(),
            mentor_id: mentor,
            starts_at,
            ends_at,
            note: note.to_owned(),
        };
        diesel::insert_into(time_off::table)
            .values(&row)
            .execute(conn)?;
        record(
            conn,
            now,
            mentor,
            "schedule.time_off_added",
            ("time_off", row.id),
            serde_json::json!({
                "starts_at": starts_at.to_rfc3339(),
                "ends_at": ends_at.to_rfc3339(),
            }),
        )?;
        Ok(row)
    })
}

pub fn delete_time_off(
    conn: &mut PgConnection,
    mentor: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), EditError> {
    conn.transaction(|conn| {
        lock_mentor(conn, mentor)?;
        let deleted: Option<(DateTime<Utc>, DateTime<Utc>)> = diesel::delete(
            time_off::table
                .filter(time_off::id.eq(id))
                .filter(time_off::mentor_id.eq(mentor)),
        )
        .returning((time_off::starts_at, time_off::ends_at))
        .get_result(conn)
        .optional()?;
        let Some((starts_at, ends_at)) = deleted else {
            return Err(EditError::NotFound);
        };
        record(
            conn,
            now,
            mentor,
            "schedule.time_off_deleted",
            ("time_off", id),
            serde_json::json!({
                "starts_at": starts_at.to_rfc3339(),
                "ends_at": ends_at.to_rfc3339(),
            }),
        )
    })
}

// ---------------------------------------------------------------- settings

/// The profile and booking settings as typed into a form, every field a
/// string (an unticked checkbox is absent: `false`).
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub headline: String,
    pub bio: String,
    pub meeting_url: String,
    pub accepting_bookings: bool,
    pub buffer_before_min: String,
    pub buffer_after_min: String,
    pub min_notice_hours: String,
    pub horizon_days: String,
    pub step_min: String,
    pub max_per_day: String,
    pub max_per_week: String,
    /// Topic ids as submitted.
    pub topics: Vec<String>,
}

impl SettingsInput {
    /// The form as a saved (or default) profile fills it.
    pub fn of(profile: &Profile, topics: &[Uuid]) -> Self {
        let cap = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
        SettingsInput {
            headline: profile.headline.clone(),
            bio: profile.bio.clone(),
            meeting_url: profile.meeting_url.clone().unwrap_or_default(),
            accepting_bookings: profile.accepting_bookings,
            buffer_before_min: profile.buffer_before_min.to_string(),
            buffer_after_min: profile.buffer_after_min.to_string(),
            min_notice_hours: profile.min_notice_hours.to_string(),
            horizon_days: profile.horizon_days.to_string(),
            step_min: profile.step_min.to_string(),
            max_per_day: cap(profile.max_per_day),
            max_per_week: cap(profile.max_per_week),
            topics: topics.iter().map(Uuid::to_string).collect(),
        }
    }
}

/// Why one settings field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsProblem {
    #[error("Use at most {max} characters.")]
    TooLong { max: usize },
    #[error("Use letters, digits, spaces and punctuation only.")]
    ControlChars,
    #[error("Enter a whole number from {min} to {max}.")]
    OutOfRange { min: i32, max: i32 },
    #[error("Enter a multiple of 5 from 5 to 60.")]
    NotMultipleOf5,
    #[error("Leave it blank for no limit, or enter a whole number of at least 1.")]
    BadCap,
    #[error("Enter the full link of your video room, starting with https://.")]
    NotAUrl,
    #[error("Only secure links are accepted: the link must start with https://.")]
    NotHttps,
    #[error("A link has no spaces.")]
    Spaces,
    #[error("Choose from the topics listed.")]
    UnknownTopic,
    #[error("Leave out the name and password before the @: every learner would see them.")]
    Credentials,
    /// A day cap above the week cap could never be reached.
    #[error(
        "A day cannot hold more than the week ({week}). Lower this, or raise the week's limit."
    )]
    DayAboveWeek { week: i32 },
}

/// Field name (the profile column, or `topics`) and its problem.
pub type SettingsErrors = Vec<(&'static str, SettingsProblem)>;

/// Checked settings, ready to save.
#[derive(Debug, Clone)]
pub struct CheckedSettings {
    pub headline: String,
    pub bio: String,
    pub meeting_url: Option<String>,
    pub accepting_bookings: bool,
    pub buffer_before_min: i32,
    pub buffer_after_min: i32,
    pub min_notice_hours: i32,
    pub horizon_days: i32,
    pub step_min: i32,
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub topics: Vec<Uuid>,
}

fn ranged(errors: &mut SettingsErrors, field: &'static str, raw: &str, min: i32, max: i32) -> i32 {
    match raw.trim().parse::<i32>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            errors.push((field, SettingsProblem::OutOfRange { min, max }));
            min
        }
    }
}

fn cap(errors: &mut SettingsErrors, field: &'static str, raw: &str) -> Option<i32> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i32>() {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            errors.push((field, SettingsProblem::BadCap));
            None
        }
    }
}

fn text(
    errors: &mut SettingsErrors,
    field: &'static str,
    raw: &str,
    max: usize,
    multiline: bool,
) -> String {
    let value = one_char_line_breaks(raw).trim().to_owned();
    let clean = if multiline {
        check_characters(&value).is_ok()
    } else {
        is_plain_line(&value)
    };
    if value.chars().count() > max {
        errors.push((field, SettingsProblem::TooLong { max }));
    } else if !clean {
        errors.push((field, SettingsProblem::ControlChars));
    }
    value
}

fn meeting_url(errors: &mut SettingsErrors, raw: &str) -> Option<String> {
    const FIELD: &str = "meeting_url";
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push((FIELD, SettingsProblem::Spaces));
        return None;
    }
    let Ok(url) = url::Url::parse(raw) else {
        errors.push((FIELD, SettingsProblem::NotAUrl));
        return None;
    };
    if url.scheme() != "https" {
        errors.push((FIELD, SettingsProblem::NotHttps));
        return None;
    }
    if url.host_str().is_none_or(str::is_empty) {
        errors.push((FIELD, SettingsProblem::NotAUrl));
        return None;
    }
    // `https://user:pass@host/` puts a password in every learner's email
    // (and `https://real.example@evil.example/` is a known disguise).
    if !url.username().is_empty() || url.password().is_some() {
        errors.push((FIELD, SettingsProblem::Credentials));
        return None;
    }
    // Kept as typed unless the scheme was written in capitals; the
    // database insists on a literal "https://".
    let value = if raw.starts_with("https://") {
        raw.to_owned()
    } else {
        url.to_string()
    };
    if value.chars().count() > 500 {
        errors.push((FIELD, SettingsProblem::TooLong { max: 500 }));
        return None;
    }
    Some(value)
}

/// Checks every field against its range; `active_topics` are the topics a
/// mentor may choose.
pub fn check_settings(
    input: &SettingsInput,
    active_topics: &[Uuid],
) -> Result<CheckedSettings, SettingsErrors> {
    let mut errors = SettingsErrors::new();
    let headline = text(&mut errors, "headline", &input.headline, 120, false);
    let bio = text(&mut errors, "bio", &input.bio, 4000, true);
    let meeting_url = meeting_url(&mut errors, &input.meeting_url);
    let buffer_before_min = ranged(
        &mut errors,
        "buffer_before_min",
        &input.buffer_before_min,
        0,
        120,
    );
    let buffer_after_min = ranged(
        &mut errors,
        "buffer_after_min",
        &input.buffer_after_min,
        0,
        120,
    );
    let min_notice_hours = ranged(
        &mut errors,
        "min_notice_hours",
        &input.min_notice_hours,
        0,
        336,
    );
    let horizon_days = ranged(&mut errors, "horizon_days", &input.horizon_days, 1, 180);
    let step_min = match input.step_min.trim().parse::<i32>() {
        Ok(n) if (5..=60).contains(&n) && n % 5 == 0 => n,
        _ => {
            errors.push(("step_min", SettingsProblem::NotMultipleOf5));
            15
        }
    };
    let max_per_day = cap(&mut errors, "max_per_day", &input.max_per_day);
    let max_per_week = cap(&mut errors, "max_per_week", &input.max_per_week);
    if let (Some(day), Some(week)) = (max_per_day, max_per_week)
        && day > week
    {
        errors.push(("max_per_day", SettingsProblem::DayAboveWeek { week }));
    }
    let mut topics = Vec::new();
    for raw in &input.topics {
        match raw.parse::<Uuid>() {
            Ok(id) if active_topics.contains(&id) => {
                if !topics.contains(&id) {
                    topics.push(id);
                }
            }
            _ => {
                errors.push(("topics", SettingsProblem::UnknownTopic));
                break;
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CheckedSettings {
        headline,
        bio,
        meeting_url,
        accepting_bookings: input.accepting_bookings,
        buffer_before_min,
        buffer_after_min,
        min_notice_hours,
        horizon_days,
        step_min,
        max_per_day,
        max_per_week,
        topics,
    })
}

/// Why saving settings failed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings")]
    Invalid(SettingsErrors),
    /// The account was disabled or deleted while the request ran.
    #[error("no such active account")]
    Gone,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Checks and saves the profile and the offered topics in one
/// transaction. The topics are checked against the active ones inside it,
/// so a topic retired meanwhile is refused. Topics the mentor offered that
/// are no longer active are not on the form and stay as they were.
pub fn save_settings(
    conn: &mut PgConnection,
    mentor: Uuid,
    input: &SettingsInput,
    now: DateTime<Utc>,
) -> Result<(), SettingsError> {
    conn.transaction(|conn| {
        if !crate::accounts::service::lock_active(conn, mentor)? {
            return Err(SettingsError::Gone);
        }
        let active: Vec<Uuid> = topics::table
            .filter(topics::active.eq(true))
            .select(topics::id)
            .load(conn)?;
        let settings = check_settings(input, &active).map_err(SettingsError::Invalid)?;
        let before = queries::profile(conn, mentor)?;
        let old = before
            .clone()
            .unwrap_or_else(|| Profile::new_default(mentor, now));
        let profile = Profile {
            user_id: mentor,
            headline: settings.headline,
            bio: settings.bio,
            meeting_url: settings.meeting_url,
            accepting_bookings: settings.accepting_bookings,
            buffer_before_min: settings.buffer_before_min,
            buffer_after_min: settings.buffer_after_min,
            min_notice_hours: settings.min_notice_hours,
            horizon_days: settings.horizon_days,
            step_min: settings.step_min,
            max_per_day: settings.max_per_day,
            max_per_week: settings.max_per_week,
            created_at: before.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        queries::save_profile(conn, &profile)?;
        let offered = queries::offered_topic_ids(conn, mentor)?;
        let mut topics = settings.topics;
        topics.extend(offered.iter().filter(|t| !active.contains(t)));
        queries::set_offered_topics(conn, mentor, &topics)?;

        let mut changed: Vec<&str> = Vec::new();
        let mut diff = |name, differs: bool| {
            if differs {
                changed.push(name);
            }
        };
        diff("headline", old.headline != profile.headline);
        diff("bio", old.bio != profile.bio);
        diff("meeting_url", old.meeting_url != profile.meeting_url);
        diff(
            "accepting_bookings",
            old.accepting_bookings != profile.accepting_bookings,
        );
        diff(
            "buffer_before_min",
            old.buffer_before_min != profile.buffer_before_min,
        );
        diff(
            "buffer_after_min",
            old.buffer_after_min != profile.buffer_after_min,
        );
        diff(
            "min_notice_hours",
            old.min_notice_hours != profile.min_notice_hours,
        );
        diff("horizon_days", old.horizon_days != profile.horizon_days);
        diff("step_min", old.step_min != profile.step_min);
        diff("max_per_day", old.max_per_day != profile.max_per_day);
        diff("max_per_week", old.max_per_week != profile.max_per_week);
        let mut sorted_old = offered.clone();
        sorted_old.sort_unstable();
        let mut sorted_new = topics.clone();
        sorted_new.sort_unstable();
        diff("topics", sorted_old != sorted_new);
        audit::record(
            conn,
            now,
            Some(mentor),
            "mentor.settings_changed",
            Some(("user", mentor)),
            serde_json::json!({
                "changed": changed,
                "accepting_bookings": profile.accepting_bookings,
                "topics": topics.len(),
            }),
        )?;
        Ok(())
    })
}

// ---------------------------------------------------------------- reading

/// Active topics, and which of them the mentor offers.
pub fn topic_choices(
    conn: &mut PgConnection,
    mentor: Uuid,
) -> QueryResult<(Vec<Topic>, Vec<Uuid>)> {
    Ok((
        crate::topics::list_active(conn)?,
        queries::offered_topic_ids(conn, mentor)?,
    ))
}

/// The mentor's schedule as the editor lists it: weekly windows, overrides
/// from `today` on, and time off not yet over.
pub struct Listing {
    pub weekly: Vec<WeeklyRuleRow>,
    pub overrides: Vec<super::model::DateOverrideFull>,
    pub time_off: Vec<TimeOffRow>,
}

pub fn listing(
    conn: &mut PgConnection,
    mentor: Uuid,
    zone: Tz,
    now: DateTime<Utc>,
) -> QueryResult<Listing> {
    let today = now.with_timezone(&zone).date_naive();
    Ok(Listing {
        weekly: queries::weekly_rules_of(conn, &[mentor])?,
        overrides: queries::overrides_of(
            conn,
            &[mentor],
            today,
            today + Duration::days(MAX_DAYS_AHEAD + 1),
        )?,
        time_off: time_off::table
            .filter(time_off::mentor_id.eq(mentor))
            .filter(time_off::ends_at.gt(now))
            .order((time_off::starts_at, time_off::id))
            .select(TimeOffRow::as_select())
            .load(conn)?,
    })
}

/// How many days the editor's preview covers.
pub const PREVIEW_DAYS: u32 = 14;

/// The free slots a learner would see over the next `PREVIEW_DAYS` local
/// dates of the mentor's zone (today first).
pub struct Preview {
    pub zone: Tz,
    /// The session length the slots are for.
    pub duration_min: i32,
    /// The topic that length comes from: the first offered active topic by
    /// title, or none (30 minutes).
    pub topic: Option<String>,
    pub profile: Profile,
    pub offers_topics: bool,
    /// Each local date with its slots.
    pub days: Vec<(NaiveDate, Vec<Slot>)>,
}

/// Session length for a mentor without topics.
const DEFAULT_PREVIEW_MIN: i32 = 30;

pub fn preview(
    conn: &mut PgConnection,
    mentor: Uuid,
    zone: Tz,
    now: DateTime<Utc>,
) -> QueryResult<Preview> {
    let first: Option<(String, i32)> = mentor_topics::table
        .inner_join(topics::table)
        .filter(mentor_topics::mentor_id.eq(mentor))
        .filter(topics::active.eq(true))
        .order((topics::title.asc(), topics::id.asc()))
        .select((topics::title, topics::duration_minutes))
        .first(conn)
        .optional()?;
    let duration_min = first.as_ref().map_or(DEFAULT_PREVIEW_MIN, |(_, d)| *d);
    let today = now.with_timezone(&zone).date_naive();
    let dates: Vec<NaiveDate> = today.iter_days().take(PREVIEW_DAYS as usize + 1).collect();
    let bounds: Vec<DateTime<Utc>> = dates
        .iter()
        .map(|d| resolve_local(zone, *d, NaiveTime::MIN))
        .collect();
    let (Some(from), Some(to)) = (bounds.first().copied(), bounds.last().copied()) else {
        return Err(diesel::result::Error::NotFound);
    };
    let loaded = availability::load(conn, &[MentorRef { id: mentor, zone }], from, to, now, None)?;
    let slots = loaded.slots(
        mentor,
        Duration::minutes(duration_min.into()),
        now,
        Interval {
            start: from,
            end: to,
        },
    );
    let days = dates
        .iter()
        .take(PREVIEW_DAYS as usize)
        .map(|d| {
            (
                *d,
                slots
                    .iter()
                    .filter(|s| s.start.with_timezone(&zone).date_naive() == *d)
                    .copied()
                    .collect(),
            )
        })
        .collect();
    let profile = loaded
        .profiles
        .get(&mentor)
        .cloned()
        .unwrap_or_else(|| Profile::new_default(mentor, now));
    let offers_topics = first.is_some();
    Ok(Preview {
        zone,
        duration_min,
        topic: first.map(|(title, _)| title),
        profile,
        offers_topics,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn weekly(day: i32, s: NaiveTime, e: NaiveTime) -> (i32, i32) {
        let (a, b) = span(s, e);
        (a + (day - 1) * DAY, b + (day - 1) * DAY)
    }

    #[test]
    fn windows_crossing_midnight_spill_into_the_next_day() {
        let mon_late = weekly(1, t(22, 0), t(2, 0));
        assert!(overlaps(weekly(2, t(1, 0), t(3, 0)), mon_late, WEEK));
        assert!(!overlaps(weekly(2, t(2, 0), t(3, 0)), mon_late, WEEK));
        assert!(!overlaps(weekly(1, t(9, 0), t(22, 0)), mon_late, WEEK));
        // Sunday night runs into Monday morning.
        let sun_late = weekly(7, t(23, 0), t(1, 0));
        assert!(overlaps(weekly(1, t(0, 30), t(4, 0)), sun_late, WEEK));
        assert!(overlaps(sun_late, weekly(1, t(0, 30), t(4, 0)), WEEK));
        assert!(!overlaps(weekly(1, t(1, 0), t(4, 0)), sun_late, WEEK));
    }

    #[test]
    fn touching_windows_do_not_overlap() {
        assert!(!overlaps(
            span(t(9, 0), t(10, 0)),
            span(t(10, 0), t(11, 0)),
            0
        ));
        assert!(overlaps(
            span(t(9, 0), t(10, 5)),
            span(t(10, 0), t(11, 0)),
            0
        ));
    }

    #[test]
    fn grid_rules() {
        assert!(matches!(
            check_window(t(9, 3), t(10, 0)),
            Err(EditError::OffGrid(Bound::Start))
        ));
        assert!(matches!(
            check_window(t(9, 0), t(10, 1)),
            Err(EditError::OffGrid(Bound::End))
        ));
        assert!(check_window(t(22, 0), t(2, 0)).is_ok());
    }

    #[test]
    fn a_window_ending_at_its_start_lasts_24_hours() {
        assert!(check_window(t(10, 0), t(10, 0)).is_ok());
        assert!(check_window(t(0, 0), t(0, 0)).is_ok());
        assert_eq!(span(t(10, 0), t(10, 0)), (600, 600 + DAY));
        // Wednesday 10:00 to Thursday 10:00.
        let wed = weekly(3, t(10, 0), t(10, 0));
        assert!(overlaps(weekly(4, t(9, 0), t(11, 0)), wed, WEEK));
        assert!(!overlaps(weekly(4, t(10, 0), t(12, 0)), wed, WEEK));
        assert!(!overlaps(weekly(3, t(8, 0), t(10, 0)), wed, WEEK));
        assert!(overlaps(weekly(3, t(8, 0), t(10, 5)), wed, WEEK));
        assert!(overlaps(weekly(3, t(10, 0), t(10, 0)), wed, WEEK));
        // Sunday's runs into Monday morning.
        let sun = weekly(7, t(6, 0), t(6, 0));
        assert!(overlaps(weekly(1, t(5, 0), t(7, 0)), sun, WEEK));
        assert!(!overlaps(weekly(1, t(6, 0), t(7, 0)), sun, WEEK));
        assert!(!overlaps(weekly(1, t(6, 0), t(6, 0)), sun, WEEK));
        assert_eq!(window_label(t(10, 0), t(10, 0)), "10:00 – 10:00 (next day)");
    }

    #[test]
    fn labels_say_next_day() {
        assert_eq!(window_label(t(22, 0), t(2, 0)), "22:00 – 02:00 (next day)");
        assert_eq!(window_label(t(9, 0), t(12, 30)), "09:00 – 12:30");
    }

    fn input() -> SettingsInput {
        SettingsInput {
            buffer_before_min: "0".into(),
            buffer_after_min: "10".into(),
            min_notice_hours: "12".into(),
            horizon_days: "28".into(),
            step_min: "15".into(),
            ..SettingsInput::default()
        }
    }

    #[test]
    fn settings_ranges() {
        assert!(check_settings(&input(), &[]).is_ok());
        for (field, value, ok) in [
            ("buffer_before_min", "121", false),
            ("buffer_before_min", "-1", false),
            ("buffer_before_min", "120", true),
            ("min_notice_hours", "336", true),
            ("min_notice_hours", "337", false),
            ("horizon_days", "0", false),
            ("horizon_days", "180", true),
            ("step_min", "7", false),
            ("step_min", "65", false),
            ("step_min", "60", true),
            ("max_per_day", "", true),
            ("max_per_day", "0", false),
            ("max_per_week", "x", false),
            ("meeting_url", "http://meet.example.org/x", false),
            ("meeting_url", "https://meet.example.org/x", true),
            ("meeting_url", "HTTPS://meet.example.org/x", true),
            ("meeting_url", "https://", false),
            ("meeting_url", "javascript:alert(1)", false),
            (
                "meeting_url",
                "https://user:secret@meet.example.org/x",
                false,
            ),
            (
                "meeting_url",
                "https://meet.example.org@evil.example/x",
                false,
            ),
        ] {
            let mut i = input();
            match field {
                "buffer_before_min" => i.buffer_before_min = value.into(),
                "min_notice_hours" => i.min_notice_hours = value.into(),
                "horizon_days" => i.horizon_days = value.into(),
                "step_min" => i.step_min = value.into(),
                "max_per_day" => i.max_per_day = value.into(),
                "max_per_week" => i.max_per_week = value.into(),
                _ => i.meeting_url = value.into(),
            }
            let got = check_settings(&i, &[]);
            assert_eq!(got.is_ok(), ok, "{field}={value}: {got:?}");
            if let Err(errors) = got {
                assert_eq!(errors[0].0, field);
            }
        }
        let upper = check_settings(
            &SettingsInput {
                meeting_url: "HTTPS://Meet.Example.org/x".into(),
                ..input()
            },
            &[],
        )
        .unwrap();
        assert_eq!(
            upper.meeting_url.as_deref(),
            Some("https://meet.example.org/x")
        );
        // A day cap above the week's could never be reached.
        let caps = |day: &str, week: &str| {
            check_settings(
                &SettingsInput {
                    max_per_day: day.into(),
                    max_per_week: week.into(),
                    ..input()
                },
                &[],
            )
        };
        let errors = caps("5", "2").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "max_per_day");
        assert!(errors[0].1.to_string().contains("(2)"));
        assert!(caps("2", "2").is_ok());
        assert!(caps("5", "").is_ok());
    }
}
