//! The fairness policy: how many sessions a learner may hold. Counting and
//! checking are pure (`tally`, `check`); `counts` reads the learner's live
//! sessions in one query (the booking check gets the same rows from its
//! one statement, `facts`). The caller holds the learner's row lock, so
//! concurrent requests of one learner are counted one after another and
//! cannot exceed a cap.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use uuid::Uuid;

use super::model::{Policy, Status};
use crate::db::schema::bookings;
use crate::slots::resolve_local;
use crate::timefmt;

/// A cap the learner has reached, with what frees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// `max` upcoming sessions; the next one to start frees a place.
    Upcoming {
        max: i32,
        frees_at: Option<DateTime<Utc>>,
    },
    /// `max` upcoming sessions of this topic.
    UpcomingPerTopic {
        max: i32,
        frees_at: Option<DateTime<Utc>>,
    },
    /// `max` sessions in the calendar month (learner's zone) of the start.
    PerMonth {
        max: i32,
        month_start: NaiveDate,
        /// When the next month begins, in UTC.
        next_month_at: DateTime<Utc>,
    },
    /// Too many no-shows recently: booking is paused until then.
    NoShowPause { strikes: i32, until: DateTime<Utc> },
}

/// What the checks count, read by `counts`.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Upcoming (confirmed, not started) sessions: start and topic.
    pub upcoming: Vec<(DateTime<Utc>, Uuid)>,
    /// Live sessions (not cancelled) in the month of the new start.
    pub in_month: i64,
    /// Starts of no-shows inside the strike window, newest first.
    pub no_shows: Vec<DateTime<Utc>>,
}

/// The UTC bounds of the local calendar month holding `at` in `zone`.
pub fn month_bounds(at: DateTime<Utc>, zone: Tz) -> (NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let local = at.with_timezone(&zone).date_naive();
    let first = local.with_day(1).unwrap_or(local);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    (
        first,
        resolve_local(zone, first, NaiveTime::MIN),
        resolve_local(zone, next, NaiveTime::MIN),
    )
}

/// Whether a new booking of `topic` starting at `start` fits the policy.
/// `is_new` is false for a reschedule, which moves a session the learner
/// already holds (only the month can change).
pub fn check(
    policy: &Policy,
    counts: &Counts,
    topic: Uuid,
    start: DateTime<Utc>,
    zone: Tz,
    now: DateTime<Utc>,
    is_new: bool,
) -> Result<(), Limit> {
    if is_new {
        let strikes = usize::try_from(policy.noshow_strikes).unwrap_or(usize::MAX);
        if strikes > 0 && counts.no_shows.len() >= strikes {
            // The pause runs from the no-show that reached the count.
            if let Some(latest) = counts.no_shows.first() {
                let until = *latest + Duration::days(policy.noshow_pause_days.into());
                if until > now {
                    return Err(Limit::NoShowPause {
                        strikes: policy.noshow_strikes,
                        until,
                    });
                }
            }
        }
        let upcoming = counts.upcoming.len();
        if upcoming >= usize::try_from(policy.max_upcoming).unwrap_or(0) {
            return Err(Limit::Upcoming {
                max: policy.max_upcoming,
                frees_at: counts.upcoming.iter().map(|(s, _)| *s).min(),
            });
        }
        let same_topic: Vec<DateTime<Utc>> = counts
            .upcoming
            .iter()
            .filter(|(_, t)| *t == topic)
            .map(|(s, _)| *s)
            .collect();
        if same_topic.len() >= usize::try_from(policy.max_upcoming_per_topic).unwrap_or(0) {
            return Err(Limit::UpcomingPerTopic {
                max: policy.max_upcoming_per_topic,
                frees_at: same_topic.into_iter().min(),
            });
        }
    }
    if counts.in_month >= i64::from(policy.max_per_month) {
        let (month_start, _, next_month_at) = month_bounds(start, zone);
        return Err(Limit::PerMonth {
            max: policy.max_per_month,
            month_start,
            next_month_at,
        });
    }
    Ok(())
}

/// One live (not cancelled) session of the learner, as the counts need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub start: DateTime<Utc>,
    pub topic: Uuid,
    pub status: Status,
}

impl Session {
    /// From a row of (start, topic, status) as the counting reads read it.
    pub fn from_row((start, topic, status): (DateTime<Utc>, Uuid, String)) -> Self {
        Session {
            start,
            topic,
            status: Status::parse(&status).unwrap_or(Status::Confirmed),
        }
    }
}

/// The longest no-show window a policy may have (CHECK on
/// `booking_policy.noshow_window_days`).
pub const MAX_NOSHOW_WINDOW_DAYS: i64 = 365;

/// The earliest start `tally` looks at for a new start of `start`.
pub fn since(policy: &Policy, start: DateTime<Utc>, zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let (_, month_from, _) = month_bounds(start, zone);
    (now - Duration::days(policy.noshow_window_days.into())).min(month_from)
}

/// Counts the learner's live `sessions` (every one from `since` on) for a
/// new start of `start`: upcoming confirmed ones, those in the month of
/// `start` in `zone`, and no-shows inside the strike window.
pub fn tally(
    sessions: &[Session],
    policy: &Policy,
    start: DateTime<Utc>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Counts {
    let (_, month_from, month_to) = month_bounds(start, zone);
    let strike_from = now - Duration::days(policy.noshow_window_days.into());
    let mut upcoming: Vec<(DateTime<Utc>, Uuid)> = sessions
        .iter()
        .filter(|s| s.status == Status::Confirmed && s.start > now)
        .map(|s| (s.start, s.topic))
        .collect();
    upcoming.sort();
    let in_month = sessions
        .iter()
        .filter(|s| s.status != Status::Cancelled && s.start >= month_from && s.start < month_to)
        .count();
    let mut no_shows: Vec<DateTime<Utc>> = sessions
        .iter()
        .filter(|s| s.status == Status::NoShow && s.start >= strike_from)
        .map(|s| s.start)
        .collect();
    no_shows.sort_by(|a, b| b.cmp(a));
    Counts {
        upcoming,
        in_month: i64::try_from(in_month).unwrap_or(i64::MAX),
        no_shows,
    }
}

/// Reads the counts for `learner` (without `except`, the booking being
/// moved).
pub fn counts(
    conn: &mut PgConnection,
    policy: &Policy,
    learner: Uuid,
    start: DateTime<Utc>,
    zone: Tz,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<Counts> {
    let rows: Vec<(DateTime<Utc>, Uuid, String)> = bookings::table
        .filter(bookings::learner_id.eq(learner))
        .filter(bookings::status.ne(Status::Cancelled.as_str()))
        .filter(bookings::start_at.ge(since(policy, start, zone, now)))
        .filter(bookings::id.ne(except.unwrap_or(Uuid::nil())))
        .select((bookings::start_at, bookings::topic_id, bookings::status))
        .load(conn)?;
    let sessions: Vec<Session> = rows.into_iter().map(Session::from_row).collect();
    Ok(tally(&sessions, policy, start, zone, now))
}

/// The refusal of a fairness limit, naming it and when it frees up.
pub fn limit_text(limit: &Limit, zone: Tz) -> Vec<String> {
    match limit {
        Limit::Upcoming { max, frees_at } => {
            let mut v = vec![format!(
                "You already have {max} upcoming session{} booked, the most anyone can hold at once, so every learner gets a turn.",
                if *max == 1 { "" } else { "s" }
            )];
            if let Some(at) = frees_at {
                v.push(format!(
                    "A place frees up when your next session starts, on {}, or as soon as you cancel one you no longer need.",
                    timefmt::instant(*at, zone)
                ));
            }
            v
        }
        Limit::UpcomingPerTopic { max, frees_at } => {
            let mut v = vec![format!(
                "You already have {max} upcoming session{} of this topic, the most per topic at once.",
                if *max == 1 { "" } else { "s" }
            )];
            if let Some(at) = frees_at {
                v.push(format!(
                    "You can book this topic again once that session starts, on {}, or after cancelling it.",
                    timefmt::instant(*at, zone)
                ));
            }
            v
        }
        Limit::PerMonth {
            max,
            month_start,
            next_month_at,
        } => vec![
            format!(
                "You have {max} session{} in {}, the most per calendar month.",
                if *max == 1 { "" } else { "s" },
                month_start.format("%B %Y")
            ),
            // The next month may be full too: no promise about it.
            format!(
                "Cancel one in {} to make room, or pick a time in a month that is not full (the next begins {}).",
                month_start.format("%B"),
                timefmt::instant(*next_month_at, zone),
            ),
        ],
        Limit::NoShowPause { strikes, until } => vec![
            format!(
                "Booking is paused because {strikes} recent sessions were missed without cancelling."
            ),
            format!(
                "You can book again from {}.",
                timefmt::instant(*until, zone)
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn month_is_counted_in_the_learners_zone() {
        // 2026-06-30T23:30Z is already July in Berlin.
        let (first, from, to) = month_bounds(
            Utc.with_ymd_and_hms(2026, 6, 30, 23, 30, 0).unwrap(),
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(first, NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(from, at(2026, 6, 30, 22));
        assert_eq!(to, at(2026, 7, 31, 22));
        // December rolls over into the next year.
        let (first, _, to) = month_bounds(at(2026, 12, 15, 12), chrono_tz::UTC);
        assert_eq!(first, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(to, at(2027, 1, 1, 0));
    }

    #[test]
    fn caps_name_the_limit_and_when_it_frees() {
        let policy = Policy::default();
        let now = at(2026, 6, 15, 9);
        let topic_a = Uuid::from_u128(1);
        let topic_b = Uuid::from_u128(2);
        let zone = chrono_tz::UTC;
        let mut counts = Counts::default();
        assert_eq!(
            check(
                &policy,
                &counts,
                topic_a,
                at(2026, 6, 20, 9),
                zone,
                now,
                true
            ),
            Ok(())
        );
        counts.upcoming = vec![(at(2026, 6, 18, 9), topic_a)];
        assert_eq!(
            check(
                &policy,
                &counts,
                topic_a,
                at(2026, 6, 20, 9),
                zone,
                now,
                true
            ),
            Err(Limit::UpcomingPerTopic {
                max: 1,
                frees_at: Some(at(2026, 6, 18, 9))
            })
        );
        assert_eq!(
            check(
                &policy,
                &counts,
                topic_b,
                at(2026, 6, 20, 9),
                zone,
                now,
                true
            ),
            Ok(())
        );
        counts.upcoming.push((at(2026, 6, 17, 9), topic_b));
        assert_eq!(
            check(
                &policy,
                &counts,
                topic_b,
                at(2026, 6, 20, 9),
                zone,
                now,
                true
            ),
            Err(Limit::Upcoming {
                max: 2,
                frees_at: Some(at(2026, 6, 17, 9))
            })
        );
        // A reschedule moves a session it already holds.
        assert_eq!(
            check(
                &policy,
                &counts,
                topic_b,
                at(2026, 6, 20, 9),
                zone,
                now,
                false
            ),
            Ok(())
        );
        counts.in_month = 4;
        assert!(matches!(
            check(
                &policy,
                &counts,
                topic_b,
                at(2026, 6, 20, 9),
                zone,
                now,
                false
            ),
            Err(Limit::PerMonth { max: 4, .. })
        ));
    }

    #[test]
    fn two_recent_no_shows_pause_booking() {
        let policy = Policy::default();
        let now = at(2026, 6, 15, 9);
        let mut counts = Counts {
            no_shows: vec![at(2026, 6, 1, 9)],
            ..Counts::default()
        };
        let t = Uuid::from_u128(1);
        let start = at(2026, 6, 20, 9);
        assert_eq!(
            check(&policy, &counts, t, start, chrono_tz::UTC, now, true),
            Ok(())
        );
        counts.no_shows = vec![at(2026, 6, 1, 9), at(2026, 5, 1, 9)];
        assert_eq!(
            check(&policy, &counts, t, start, chrono_tz::UTC, now, true),
            Err(Limit::NoShowPause {
                strikes: 2,
                until: at(2026, 7, 1, 9)
            })
        );
        // Thirty days after the last no-show the pause is over.
        let later = at(2026, 7, 2, 9);
        assert_eq!(
            check(&policy, &counts, t, start, chrono_tz::UTC, later, true),
            Ok(())
        );
    }
}
