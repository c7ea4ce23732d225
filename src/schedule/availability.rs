//! Free slots of one or many mentors: loads what the pure engine needs in
//! a fixed number of queries (profiles, rules, overrides and their
//! windows, time off, live bookings) and runs `slots::free_slots` per
//! mentor. Used by the schedule preview, the mentor and topic pages, and
//! the booking re-check.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use diesel::prelude::*;
use uuid::Uuid;

use super::model::{DateOverrideFull, Profile, TimeOffRow, WeeklyRuleRow};
use super::queries::{self, BookingSpan};
use crate::slots::{
    self, BookingSettings, DateOverride, ExistingBooking, Interval, LocalWindow, Schedule, Slot,
    SlotQuery, WeeklyRule,
};

/// A mentor whose slots are wanted, with their account zone.
#[derive(Debug, Clone, Copy)]
pub struct MentorRef {
    pub id: Uuid,
    pub zone: Tz,
}

/// The engine's settings from a profile row.
pub fn booking_settings(p: &Profile) -> BookingSettings {
    BookingSettings {
        buffer_before: Duration::minutes(p.buffer_before_min.into()),
        buffer_after: Duration::minutes(p.buffer_after_min.into()),
        min_notice: Duration::hours(p.min_notice_hours.into()),
        horizon: Duration::days(p.horizon_days.into()),
        step: Duration::minutes(p.step_min.into()),
        max_per_day: p.max_per_day.and_then(|n| u32::try_from(n).ok()),
        max_per_week: p.max_per_week.and_then(|n| u32::try_from(n).ok()),
    }
}

pub fn weekday_of(iso: i16) -> Option<Weekday> {
    match iso {
        1 => Some(Weekday::Mon),
        2 => Some(Weekday::Tue),
        3 => Some(Weekday::Wed),
        4 => Some(Weekday::Thu),
        5 => Some(Weekday::Fri),
        6 => Some(Weekday::Sat),
        7 => Some(Weekday::Sun),
        _ => None,
    }
}

/// Everything the engine needs for a set of mentors over `[from, to)`.
pub struct Loaded {
    pub profiles: HashMap<Uuid, Profile>,
    pub schedules: HashMap<Uuid, Schedule>,
    /// Bookings in which the mentor is the mentor.
    pub bookings: HashMap<Uuid, Vec<ExistingBooking>>,
    /// The mentor's own sessions as a learner.
    pub own_sessions: HashMap<Uuid, Vec<Interval>>,
}

/// Loads in six queries whatever the number of mentors; `except` leaves
/// out one booking (the one being rescheduled frees its own time).
pub fn load(
    conn: &mut PgConnection,
    mentors: &[MentorRef],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<Loaded> {
    let ids: Vec<Uuid> = mentors.iter().map(|m| m.id).collect();
    let profiles = queries::profiles_of(conn, &ids)?;
    let rules = queries::weekly_rules_of(conn, &ids)?;
    // Local dates around the window in any zone (±14 h) and the day before,
    // for windows crossing midnight.
    let first_date: NaiveDate = (from - Duration::days(2)).date_naive();
    let last_date: NaiveDate = (to + Duration::days(2)).date_naive();
    let overrides = queries::overrides_of(conn, &ids, first_date, last_date)?;
    let time_off =
        queries::time_off_of(conn, &ids, from - Duration::days(1), to + Duration::days(1))?;
    // Whole local weeks around the window for the day and week caps;
    // without caps only bookings near the window can touch a slot (a day
    // covers the largest buffers and durations several times), as on the
    // public pages.
    let caps = profiles
        .iter()
        .any(|p| p.max_per_day.is_some() || p.max_per_week.is_some());
    let margin = if caps {
        Duration::days(8)
    } else {
        Duration::days(1)
    };
    let bookings =
        queries::live_bookings_involving(conn, &ids, from - margin, to + margin, except)?;

    Ok(assemble(
        mentors,
        Rows {
            profiles,
            rules,
            overrides,
            time_off,
            bookings,
        },
        now,
    ))
}

/// The schedule rows of a set of mentors, however they were read.
pub struct Rows {
    pub profiles: Vec<Profile>,
    pub rules: Vec<WeeklyRuleRow>,
    pub overrides: Vec<DateOverrideFull>,
    pub time_off: Vec<TimeOffRow>,
    /// Live bookings in which a mentor is the mentor or the learner.
    pub bookings: Vec<BookingSpan>,
}

/// Turns rows into the engine's inputs per mentor: the one place that
/// decides what blocks a mentor's time (their bookings as mentor with the
/// buffers copied onto them, their own sessions as a learner, time off).
pub fn assemble(mentors: &[MentorRef], rows: Rows, now: DateTime<Utc>) -> Loaded {
    let Rows {
        profiles,
        rules,
        overrides,
        time_off,
        bookings,
    } = rows;
    let mut loaded = Loaded {
        profiles: HashMap::new(),
        schedules: HashMap::new(),
        bookings: HashMap::new(),
        own_sessions: HashMap::new(),
    };
    for m in mentors {
        let profile = profiles
            .iter()
            .find(|p| p.user_id == m.id)
            .cloned()
            .unwrap_or_else(|| Profile::new_default(m.id, now));
        let weekly = rules
            .iter()
            .filter(|r| r.mentor_id == m.id)
            .filter_map(|r| {
                Some(WeeklyRule {
                    weekday: weekday_of(r.weekday)?,
                    window: LocalWindow {
                        start: r.start_time,
                        end: r.end_time,
                    },
                })
            })
            .collect();
        let date_overrides = overrides
            .iter()
            .filter(|o| o.mentor_id == m.id)
            .map(|o| DateOverride {
                date: o.on_date,
                windows: o
                    .windows
                    .iter()
                    .map(|(_, start, end)| LocalWindow {
                        start: *start,
                        end: *end,
                    })
                    .collect(),
            })
            .collect();
        let off = time_off
            .iter()
            .filter(|t| t.mentor_id == m.id)
            .map(|t| Interval {
                start: t.starts_at,
                end: t.ends_at,
            })
            .collect();
        loaded.schedules.insert(
            m.id,
            Schedule {
                zone: m.zone,
                weekly,
                overrides: date_overrides,
                time_off: off,
            },
        );
        loaded.bookings.insert(
            m.id,
            bookings
                .iter()
                .filter(|b| b.mentor_id == m.id)
                .map(|b| ExistingBooking {
                    session: Interval {
                        start: b.start_at,
                        end: b.end_at,
                    },
                    buffer_before: Duration::minutes(b.buffer_before_min.into()),
                    buffer_after: Duration::minutes(b.buffer_after_min.into()),
                })
                .collect(),
        );
        loaded.own_sessions.insert(
            m.id,
            bookings
                .iter()
                .filter(|b| b.learner_id == m.id)
                .map(|b| Interval {
                    start: b.start_at,
                    end: b.end_at,
                })
                .collect(),
        );
        loaded.profiles.insert(m.id, profile);
    }
    loaded
}

impl Loaded {
    /// Free slots of `mentor` for a session of `duration` starting in
    /// `window` (whatever its profile says about accepting bookings: the
    /// caller decides whether to show them).
    pub fn slots(
        &self,
        mentor: Uuid,
        duration: Duration,
        now: DateTime<Utc>,
        window: Interval,
    ) -> Vec<Slot> {
        let (Some(schedule), Some(profile)) =
            (self.schedules.get(&mentor), self.profiles.get(&mentor))
        else {
            return Vec::new();
        };
        let empty_b = Vec::new();
        let empty_s = Vec::new();
        slots::free_slots(
            schedule,
            &booking_settings(profile),
            self.bookings.get(&mentor).unwrap_or(&empty_b),
            self.own_sessions.get(&mentor).unwrap_or(&empty_s),
            &SlotQuery {
                duration,
                now,
                window,
            },
        )
    }
}
