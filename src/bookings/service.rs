//! The booking lifecycle: book, cancel, reschedule, reassign. Each is one
//! transaction that locks the rows of the people involved (in id order;
//! a booking shares the mentor's), re-checks the slot with the slot engine
//! against the current schedule, settings and fairness policy, writes the
//! change, its emails (outbox) and the audit entry. The exclusion
//! constraints on `bookings` remain the last word on overlaps: a violation
//! is answered as "taken", never as an error page. (`docs/ARCHITECTURE.md`,
//! "Booking without double bookings", walks through `book`.)

use chrono::{DateTime, Days, Duration, DurationRound, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Integer, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::facts;
use super::model::{Booking, Policy, Status, load_policy};
use super::notify::{self, Parties};
use super::policy::{self, Limit};
use crate::accounts::User;
use crate::accounts::model::UserRow;
use crate::audit;
use crate::config::Settings;
use crate::db::schema::{bookings, mentor_topics, topics, users};
use crate::email::outbox::OutboxError;
use crate::schedule::availability::{self, MentorRef};
use crate::schedule::public::cache::MentorPageCache;
use crate::schedule::public::load::{MentorInfo, TopicInfo};
use crate::schedule::queries::{self as schedule_queries, clear_of};
use crate::slots::{Interval, resolve_local};
use crate::topics::Topic;
use crate::web::forms::{check_characters, invisible, one_char_line_breaks};

/// Goals: at least this many characters…
pub const GOALS_MIN: usize = 10;
/// …and at most this many.
pub const GOALS_MAX: usize = 2000;
/// A cancel reason is at most this long.
pub const REASON_MAX: usize = 500;

/// What a service call needs besides the connection.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
    /// The server key manage links are derived from.
    pub key: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// No such mentor, topic or booking (or not visible to the asker).
    #[error("not found")]
    NotFound,
    #[error("the email address is not verified yet")]
    Unverified,
    #[error("nobody can book themselves")]
    SelfBooking,
    /// The start is not (or no longer) a free slot of this mentor and topic.
    #[error("the slot is not available")]
    SlotUnavailable,
    /// The learner has another session (or mentors one) at that time.
    #[error("the learner is busy then")]
    LearnerBusy,
    #[error("a fairness limit is reached")]
    Limit(Limit),
    /// Cancelled, started or finished: it cannot change any more.
    #[error("the booking cannot be changed any more")]
    NotChangeable,
    /// The mentor and admins must say why they cancel.
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the reason is longer than 500 characters")]
    ReasonTooLong,
    /// Control characters, or ones that reorder the text around them.
    #[error("invalid reason: {0}")]
    InvalidReason(&'static str),
    #[error("invalid goals: {0}")]
    InvalidGoals(&'static str),
    /// Rescheduling a booking to the start it already has.
    #[error("the booking already is at this time")]
    SameTime,
    /// Reassigning a booking to the mentor it already has.
    #[error("the booking already is with this mentor")]
    SameMentor,
    /// Reassigning to someone who does not take this booking at all: no
    /// mentor account, disabled, not accepting bookings, or not offering
    /// the (active) topic.
    #[error("the mentor does not take this booking")]
    MentorUnavailable,
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("unusable email address: {0}")]
    Address(#[from] lettre::address::AddressError),
    #[error("cannot render an email: {0}")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Db(#[from] DieselError),
}

/// A learner's request from the confirm form or the API.
#[derive(Debug, Clone)]
pub struct BookRequest {
    pub mentor_id: Uuid,
    /// The topic's slug (the slot links carry it).
    pub topic_slug: String,
    pub start: DateTime<Utc>,
    pub goals: String,
    /// The form's hidden key: a second submit finds the first booking.
    pub idempotency_key: Uuid,
}

/// How a user stands to a booking; `None` (not involved) means 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Learner,
    Mentor,
    Admin,
}

impl Party {
    pub fn of(booking: &Booking, user: &User) -> Option<Party> {
        if booking.learner_id == user.id {
            Some(Party::Learner)
        } else if booking.mentor_id == user.id {
            Some(Party::Mentor)
        } else if user.role.is_admin() {
            Some(Party::Admin)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Learner => "learner",
            Party::Mentor => "mentor",
            Party::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Party> {
        [Party::Learner, Party::Mentor, Party::Admin]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Who acts: a signed-in user, or the holder of a manage link (acting as
/// the recipient it was sent to).
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user_id: Uuid,
    pub party: Party,
    pub via_manage_link: bool,
}

/// The made (or, for a repeated key, found) booking.
#[derive(Debug, Clone)]
pub struct Booked {
    pub booking: Booking,
    /// The key had been used: nothing new was made.
    pub existing: bool,
}

/// Locks the slot-version rows of everybody in `bookings` (and of
/// `also`), in id order, for a transaction that changes several bookings.
/// It calls this after the last booking or outbox row it locks and before
/// anything of it bumps a version (an UPDATE of an account, a schedule row
/// deleted). The bookings' own bumps wait for the commit and go booking by
/// booking, so without it the commit would hold one person's row and want
/// another's that a concurrent commit between two of the people holds,
/// wanting the first ("deadlock detected"). Taken earlier, the rows would
/// be held while waiting for a row that a committing cancel or outcome
/// holds, wanting one of them. A missing row (a person never bumped) is
/// made in the same pass.
pub fn lock_slot_versions(
    conn: &mut PgConnection,
    bookings: &[Booking],
    also: Uuid,
) -> QueryResult<()> {
    let mut people: Vec<Uuid> = bookings
        .iter()
        .flat_map(|b| [b.mentor_id, b.learner_id])
        .chain([also])
        .collect();
    people.sort();
    people.dedup();
    // One pass in id order: a missing row is made, an existing one locked
    // (by an update that changes nothing).
    diesel::sql_query(
        "INSERT INTO slot_versions (mentor_id, version)
         SELECT p, 0 FROM unnest($1) AS p ORDER BY p
         ON CONFLICT (mentor_id) DO UPDATE SET version = slot_versions.version",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(people)
    .execute(conn)
    .map(|_| ())
}

fn lock_users(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<User>> {
    let rows: Vec<UserRow> = users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .for_no_key_update()
        .select(UserRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// Locks the learner's row `FOR NO KEY UPDATE` and the mentor's `FOR
/// SHARE`, in id order like every other lock on users rows, so no two
/// transactions deadlock.
fn lock_people(conn: &mut PgConnection, learner: Uuid, mentor: Uuid) -> QueryResult<Vec<User>> {
    if learner == mentor {
        return lock_users(conn, &[learner]);
    }
    let mut order = [(learner, true), (mentor, false)];
    order.sort_by_key(|(id, _)| *id);
    let mut locked = Vec::with_capacity(2);
    for (id, exclusive) in order {
        let query = users::table.find(id).select(UserRow::as_select());
        let row = if exclusive {
            query.for_no_key_update().first(conn).optional()?
        } else {
            query.for_share().first(conn).optional()?
        };
        locked.extend(row.map(User::from));
    }
    Ok(locked)
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Booking>> {
    bookings::table
        .find(id)
        .select(Booking::as_select())
        .first(conn)
        .optional()
}

fn find_for_update(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Booking>> {
    bookings::table
        .find(id)
        .for_update()
        .select(Booking::as_select())
        .first(conn)
        .optional()
}

/// An active topic the mentor offers.
fn offered_topic(conn: &mut PgConnection, mentor: Uuid, topic: Uuid) -> QueryResult<Option<Topic>> {
    topics::table
        .inner_join(mentor_topics::table.on(mentor_topics::topic_id.eq(topics::id)))
        .filter(mentor_topics::mentor_id.eq(mentor))
        .filter(topics::id.eq(topic))
        .filter(topics::active.eq(true))
        .select(Topic::as_select())
        .first(conn)
        .optional()
}

pub fn topic(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Topic>> {
    topics::table
        .find(id)
        .select(Topic::as_select())
        .first(conn)
        .optional()
}

/// Whether `mentor` takes bookings at all: a mentor (or admin) account,
/// not disabled, accepting bookings.
fn takes_bookings(conn: &mut PgConnection, mentor: &User, now: DateTime<Utc>) -> QueryResult<bool> {
    if !mentor.can_mentor() {
        return Ok(false);
    }
    Ok(schedule_queries::profile_or_default(conn, mentor.id, now)?.accepting_bookings)
}

/// Free starts of `mentor` for `topic` in `window`, from the engine over
/// the current schedule (without `except`, the booking being moved).
pub fn free_starts(
    conn: &mut PgConnection,
    mentor: &User,
    duration: Duration,
    window: Interval,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let mentor_ref = MentorRef {
        id: mentor.id,
        zone: mentor.time_zone,
    };
    let loaded = availability::load(conn, &[mentor_ref], window.start, window.end, now, except)?;
    Ok(loaded
        .slots(mentor.id, duration, now, window)
        .into_iter()
        .map(|s| s.start)
        .collect())
}

/// Whether the engine offers exactly `start`.
fn is_offered(
    conn: &mut PgConnection,
    mentor: &User,
    minutes: i32,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<bool> {
    let window = Interval::new(start, start + Duration::minutes(1));
    let duration = Duration::minutes(minutes.into());
    Ok(free_starts(conn, mentor, duration, window, now, except)?.contains(&start))
}

/// The times `booking` can move to in `window`: the mentor's free starts
/// (the booking's own time left free), less its current start and the
/// times its learner has another session.
pub fn move_choices(
    conn: &mut PgConnection,
    booking: &Booking,
    mentor: &User,
    duration: Duration,
    window: Interval,
    now: DateTime<Utc>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let busy = schedule_queries::busy_times(
        conn,
        booking.learner_id,
        window.start,
        window.end,
        Some(booking.id),
    )?;
    Ok(
        free_starts(conn, mentor, duration, window, now, Some(booking.id))?
            .into_iter()
            .filter(|s| *s != booking.start_at && clear_of(&busy, *s, duration))
            .collect(),
    )
}

/// What the move page shows: the free times of `days` days from a local
/// date, and where to go when there are none.
#[derive(Debug, Clone)]
pub struct MoveWeeks {
    /// The first day shown: the one asked for, kept between today and the
    /// horizon's last day; one past that day gives the first of the
    /// `days` that end with it.
    pub from: NaiveDate,
    /// The last day shown: `days - 1` after `from`, or the horizon's last.
    pub until: NaiveDate,
    /// The free starts of those days, in time order.
    pub starts: Vec<DateTime<Utc>>,
    /// When there are none: the first free start after those days…
    pub next: Option<DateTime<Utc>>,
    /// …or, with none after them either, the first one from now on.
    pub first: Option<DateTime<Utc>>,
    /// Days after these can still hold free times (before the horizon).
    pub more: bool,
    pub horizon_days: i32,
}

/// The free starts a booking can move to (as [`move_choices`]) on `days`
/// local days in `zone` from `from` (today when absent or past; fewer
/// days when they reach past the horizon's last one; when beyond it, the
/// days that end with that one). Only when
/// those days have none is the engine run again: after them, then (none
/// there either) from now.
#[allow(clippy::too_many_arguments)]
pub fn move_weeks(
    conn: &mut PgConnection,
    booking: &Booking,
    mentor: &User,
    duration: Duration,
    from: Option<NaiveDate>,
    days: u64,
    zone: Tz,
    now: DateTime<Utc>,
) -> QueryResult<MoveWeeks> {
    let horizon_days = schedule_queries::profile_or_default(conn, mentor.id, now)?.horizon_days;
    let horizon_end = now + Duration::days(horizon_days.into());
    let today = now.with_timezone(&zone).date_naive();
    // The horizon's last day. A first day up to it keeps its place, so
    // "later" pages follow one another and the last one is shorter; one
    // past it shows the days that end with it.
    let last_day = horizon_end.with_timezone(&zone).date_naive().max(today);
    let from = match from.unwrap_or(today) {
        asked if asked > last_day => last_day
            .checked_sub_days(Days::new(days.saturating_sub(1)))
            .unwrap_or(last_day)
            .max(today),
        asked => asked.max(today),
    };
    let midnight = |date: NaiveDate| resolve_local(zone, date, NaiveTime::MIN);
    let start = midnight(from).max(now);
    let end = from
        .checked_add_days(Days::new(days))
        .map_or(horizon_end, midnight);
    let until = from
        .checked_add_days(Days::new(days.saturating_sub(1)))
        .unwrap_or(last_day)
        .min(last_day);
    let mut free =
        |since: DateTime<Utc>, until: DateTime<Utc>| -> QueryResult<Vec<DateTime<Utc>>> {
            if since < until {
                move_choices(
                    conn,
                    booking,
                    mentor,
                    duration,
                    Interval::new(since, until),
                    now,
                )
            } else {
                Ok(Vec::new())
            }
        };
    let starts = free(start, end)?;
    let (mut next, mut first) = (None, None);
    if starts.is_empty() {
        next = free(end, horizon_end)?.first().copied();
        if next.is_none() && from > today {
            first = free(now, start)?.first().copied();
        }
    }
    Ok(MoveWeeks {
        from,
        until,
        starts,
        next,
        first,
        more: end < horizon_end,
        horizon_days,
    })
}

/// A mentor and topic as the mentor page's cache has them, with free
/// starts near a time.
#[derive(Debug, Clone)]
pub struct Nearby {
    pub mentor: MentorInfo,
    pub topic: TopicInfo,
    /// In time order; empty when the mentor does not accept bookings now.
    pub starts: Vec<DateTime<Utc>>,
    /// The nearest free start the learner's limits refuse, if any.
    pub refused: Option<DateTime<Utc>>,
    /// The learner has another session at the asked time.
    pub learner_busy: bool,
    /// The asked time is further ahead than the mentor takes bookings.
    pub beyond_horizon: bool,
}

/// How many free times the "taken" page offers.
pub const ALTERNATIVES: usize = 3;

/// How far either side of the time searched around [`nearest_free`] looks
/// (for free times, and for the learner's sessions that rule some out).
const REACH: Duration = Duration::days(14);

/// The starts [`nearest_free`] can look at for a time `asked` at `now`,
/// wherever it centres the search (the time, the current hour, the
/// mentor's horizon before it): what a [`facts::Standing`] read for the
/// search must cover.
pub fn search_span(asked: DateTime<Utc>, now: DateTime<Utc>) -> Interval {
    Interval::new(
        asked.min(now - Duration::hours(1)) - REACH,
        asked.max(now) + REACH,
    )
}

/// Who is searching for free times ([`nearest_free`]): the learner, and
/// their standing against the fairness caps when the times offered must
/// be ones those leave open (`None`: a mentor on their own page).
pub struct Seeker<'a> {
    pub id: Uuid,
    pub zone: Tz,
    pub standing: Option<&'a facts::Standing>,
}

impl Seeker<'_> {
    /// Whether the limits leave `start` of `topic` open to them.
    fn may_book(&self, topic: Uuid, start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.standing
            .is_none_or(|s| s.limit(topic, start, self.zone, now).is_ok())
    }

    /// Whether a limit that counts from now rather than from the start
    /// (upcoming sessions, of the topic, a no-show pause: all but the
    /// monthly cap) refuses them every start of `topic`.
    fn refuses_every_start(&self, topic: Uuid, now: DateTime<Utc>) -> bool {
        self.standing
            .is_some_and(|s| s.limit_at_any_time(topic, self.zone, now).is_some())
    }
}

/// The [`ALTERNATIVES`] free starts of the same mentor and topic nearest to `around`
/// (for the "taken" page), in time order, leaving out those at which
/// `learner` has another session (or hosts one, buffers included) and
/// those their fairness limits refuse (the asked time itself is kept, so
/// the caller can tell it is free and name the limit). `None`
/// when the mentor does not take bookings at all (no such mentor, or
/// disabled) or does not offer the active topic `topic_slug`. Read through
/// the mentor page's cache (`schedule::public::cache`: one version lookup
/// while nothing changed) and one indexed read of the learner's sessions,
/// so a burst of refusals for one slot costs little. A time already past,
/// or at or past the mentor's horizon, is searched around the current hour
/// or the horizon's hour instead (whole hours, so the cache's windows
/// repeat); past the horizon with nothing free before it, around now.
pub fn nearest_free(
    conn: &mut PgConnection,
    cache: &MentorPageCache,
    mentor_id: Uuid,
    topic_slug: &str,
    around: DateTime<Utc>,
    now: DateTime<Utc>,
    learner: &Seeker<'_>,
) -> QueryResult<Option<Nearby>> {
    let asked = around;
    let hour = |t: DateTime<Utc>| t.duration_trunc(Duration::hours(1)).unwrap_or(t);
    // A time in the past (a crafted or stale link) is refused like a taken
    // one; the times offered instead are the soonest from now.
    let around = if asked < now { hour(now) } else { asked };
    let found = nearest_around(
        conn, cache, mentor_id, topic_slug, around, asked, now, learner,
    )?;
    match found {
        // Past the horizon and nothing free in its last weeks (time off,
        // caps): the soonest free times, if any.
        Some(n) if n.beyond_horizon && n.starts.is_empty() => {
            let soonest = nearest_around(
                conn,
                cache,
                mentor_id,
                topic_slug,
                hour(now),
                asked,
                now,
                learner,
            )?;
            Ok(soonest.map(|s| Nearby {
                beyond_horizon: true,
                ..s
            }))
        }
        other => Ok(other),
    }
}

/// [`nearest_free`]'s search around one instant.
#[expect(
    clippy::too_many_arguments,
    reason = "nearest_free's arguments and the instant searched around"
)]
fn nearest_around(
    conn: &mut PgConnection,
    cache: &MentorPageCache,
    mentor_id: Uuid,
    topic_slug: &str,
    mut around: DateTime<Utc>,
    asked: DateTime<Utc>,
    now: DateTime<Utc>,
    learner: &Seeker<'_>,
) -> QueryResult<Option<Nearby>> {
    let n = ALTERNATIVES;
    let reach = REACH;
    let mut busy = None;
    // Two days either side usually hold them; else two weeks.
    let mut found = None;
    for days in [2, 14] {
        let span = Duration::days(days);
        let mut window = Interval::new(around - span, around + span);
        let mut snapshot = cache.mentor(conn, mentor_id, window.start, window.end, now)?;
        // The end of the mentor's horizon (exclusive, as for the engine),
        // on the hour so that the windows around it repeat.
        let horizon_end = snapshot.as_ref().and_then(|s| {
            let profile = s.loaded.profiles.get(&mentor_id)?;
            let end = now + Duration::days(profile.horizon_days.into());
            Some(end.duration_trunc(Duration::hours(1)).unwrap_or(end))
        });
        // At or past it (a crafted or very old link): the nearest free
        // times are the last ones before it.
        if let Some(h) = horizon_end
            && around >= h
        {
            around = h;
            window = Interval::new(around - span, around + span);
            snapshot = cache.mentor(conn, mentor_id, window.start, window.end, now)?;
        }
        let Some(snapshot) = snapshot else {
            return Ok(None);
        };
        let mentor = snapshot.mentors.iter().find(|m| m.id == mentor_id);
        let topic = snapshot
            .offered
            .get(&mentor_id)
            .and_then(|topics| topics.iter().find(|t| t.slug == topic_slug));
        let (Some(mentor), Some(topic)) = (mentor, topic) else {
            return Ok(None);
        };
        let accepting = snapshot
            .loaded
            .profiles
            .get(&mentor_id)
            .is_some_and(|p| p.accepting_bookings);
        let duration = Duration::minutes(topic.duration_minutes.into());
        let busy = match &busy {
            Some(b) => b,
            None => {
                // Read with the learner's standing when it covers the span
                // (it does for every search `search_span` bounds).
                let span = Interval::new(around.min(asked) - reach, around.max(asked) + reach);
                let read = match learner.standing.and_then(|s| s.busy_within(span)) {
                    Some(b) => b.to_vec(),
                    None => {
                        debug_assert!(learner.standing.is_none(), "search_span missed {span:?}");
                        schedule_queries::busy_times(conn, learner.id, span.start, span.end, None)?
                    }
                };
                busy.insert(read)
            }
        };
        let starts: Vec<DateTime<Utc>> = if accepting {
            snapshot
                .loaded
                .slots(mentor_id, duration, now, window)
                .into_iter()
                .map(|s| s.start)
                .filter(|s| clear_of(busy, *s, duration))
                .collect()
        } else {
            Vec::new()
        };
        // Nearest first, the limits counted only until enough are found
        // (each count is a tally of the learner's sessions); none counted
        // when a limit that does not depend on the start refuses them all.
        let mut starts = starts;
        starts.sort_by_key(|s| ((*s - around).num_seconds().abs(), *s));
        let refuses_all = learner.refuses_every_start(topic.id, now);
        let (mut open, mut refused) = (Vec::new(), None);
        for s in starts {
            if s == asked || (!refuses_all && learner.may_book(topic.id, s, now)) {
                open.push(s);
            } else {
                refused.get_or_insert(s);
            }
            if open.len() >= n {
                break;
            }
        }
        let enough = !accepting || open.len() >= n || refuses_all;
        found = Some(Nearby {
            mentor: mentor.clone(),
            topic: topic.clone(),
            starts: open,
            refused,
            learner_busy: !clear_of(busy, asked, duration),
            beyond_horizon: snapshot
                .loaded
                .profiles
                .get(&mentor_id)
                .is_some_and(|p| asked >= now + Duration::days(p.horizon_days.into())),
        });
        if enough {
            break;
        }
    }
    Ok(found.map(|mut nearby| {
        let starts = &mut nearby.starts;
        starts.sort_by_key(|s| ((*s - around).num_seconds().abs(), *s));
        starts.truncate(n);
        starts.sort();
        nearby
    }))
}

/// The learner's own booking (not cancelled) of `topic` with `mentor` at
/// `start`, if any: a confirm page opened again (Back after booking) shows
/// it instead of calling the time taken.
pub fn own_booking_at(
    conn: &mut PgConnection,
    learner: Uuid,
    mentor: Uuid,
    topic: Uuid,
    start: DateTime<Utc>,
) -> QueryResult<Option<Uuid>> {
    bookings::table
        .filter(bookings::learner_id.eq(learner))
        .filter(bookings::mentor_id.eq(mentor))
        .filter(bookings::topic_id.eq(topic))
        .filter(bookings::start_at.eq(start))
        .filter(bookings::status.ne(Status::Cancelled.as_str()))
        .select(bookings::id)
        .first(conn)
        .optional()
}

/// Whether `learner` has another live session overlapping `[start,
/// end)`, or mentors one whose occupied range does: the database refuses
/// the first kind; the second is ours to refuse, as the slot engine does
/// the other way round.
fn learner_busy(
    conn: &mut PgConnection,
    learner: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> QueryResult<bool> {
    let busy = schedule_queries::busy_times(conn, learner, start, end, except)?;
    Ok(!clear_of(&busy, start, end - start))
}

/// An overlap refused by the database, by constraint name.
fn overlap_error(err: DieselError) -> BookError {
    if let DieselError::DatabaseError(kind, info) = &err {
        let constraint = info.constraint_name().unwrap_or_default();
        // 23P01 (exclusion_violation): ExclusionViolation in diesel 2.3
        // (Unknown in older versions), named by its constraint.
        if matches!(
            kind,
            DatabaseErrorKind::ExclusionViolation | DatabaseErrorKind::Unknown
        ) {
            match constraint {
                "bookings_mentor_no_overlap" => return BookError::SlotUnavailable,
                "bookings_learner_no_overlap" => return BookError::LearnerBusy,
                _ => {}
            }
        }
    }
    BookError::Db(err)
}

/// A booking row to insert.
struct NewBooking<'a> {
    id: Uuid,
    learner: Uuid,
    mentor: Uuid,
    topic: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// The mentor's buffers before and after, copied onto the row…
    buffers: (i32, i32),
    /// …and the range they make with the session (CHECK
    /// `bookings_occupied_check`).
    occupied: Interval,
    goals: &'a str,
    key: Uuid,
}

/// Inserts the booking. `ON CONFLICT DO NOTHING` makes the exclusion
/// constraints arbiters: PostgreSQL then checks them by speculative
/// insertion, which waits for a conflicting transaction still in progress
/// before inserting instead of after. Two learners inserting one slot at
/// the same moment would otherwise each wait for the other's tuple, and
/// one of them would fail a second later with "deadlock detected" (a 500)
/// instead of hearing that the time is taken. No row back means a live
/// booking overlaps: the mentor's, or — only if something moved a session
/// of this learner without their row lock — the learner's.
fn insert(
    conn: &mut PgConnection,
    b: &NewBooking<'_>,
    now: DateTime<Utc>,
) -> Result<Booking, BookError> {
    let inserted: Option<Uuid> = InsertBooking { row: b, now }
        .get_result(conn)
        .optional()
        .map_err(overlap_error)?;
    match inserted {
        Some(id) => Ok(Booking {
            id,
            learner_id: b.learner,
            mentor_id: b.mentor,
            topic_id: b.topic,
            start_at: b.start,
            end_at: b.end,
            buffer_before_min: b.buffers.0,
            buffer_after_min: b.buffers.1,
            status: Status::Confirmed.as_str().to_owned(),
            goals: b.goals.to_owned(),
            cancelled_by: None,
            cancelled_as: None,
            cancel_reason: None,
            cancelled_at: None,
            late_cancel: false,
            sequence: 0,
            created_at: now,
            updated_at: now,
        }),
        None if mentor_time_taken(conn, b.mentor, b.occupied, None)? => {
            Err(BookError::SlotUnavailable)
        }
        None => Err(BookError::LearnerBusy),
    }
}

/// [`insert`]'s statement, prepared once per connection; the row is
/// exactly what it writes, so only the id comes back (none: a conflict).
struct InsertBooking<'a> {
    row: &'a NewBooking<'a>,
    now: DateTime<Utc>,
}

crate::prepared_statement!(InsertBooking<'a>, SqlUuid);

impl QueryFragment<Pg> for InsertBooking<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let b = self.row;
        out.push_sql(
            "INSERT INTO bookings (id, learner_id, mentor_id, topic_id, start_at, end_at, \
               buffer_before_min, buffer_after_min, occupied, status, goals, idempotency_key, \
               created_at, updated_at, timed_at) VALUES (",
        );
        out.push_bind_param::<SqlUuid, _>(&b.id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&b.learner)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&b.mentor)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&b.topic)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&b.start)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&b.end)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&b.buffers.0)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&b.buffers.1)?;
        out.push_sql(", tstzrange(");
        out.push_bind_param::<Timestamptz, _>(&b.occupied.start)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&b.occupied.end)?;
        out.push_sql(", '[)'), 'confirmed', ");
        out.push_bind_param::<Text, _>(&b.goals)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&b.key)?;
        for _ in 0..3 {
            out.push_sql(", ");
            out.push_bind_param::<Timestamptz, _>(&self.now)?;
        }
        out.push_sql(") ON CONFLICT DO NOTHING RETURNING id");
        Ok(())
    }
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    found: bool,
}

/// Whether a live booking of `mentor` (other than `except`) occupies any
/// of `occupied` — the exclusion constraint's own question, on its index.
fn mentor_time_taken(
    conn: &mut PgConnection,
    mentor: Uuid,
    occupied: Interval,
    except: Option<Uuid>,
) -> QueryResult<bool> {
    let row: Exists = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM bookings
                         WHERE mentor_id = $1 AND status <> 'cancelled' AND id <> $4
                           AND occupied && tstzrange($2, $3, '[)')) AS found",
    )
    .bind::<SqlUuid, _>(mentor)
    .bind::<Timestamptz, _>(occupied.start)
    .bind::<Timestamptz, _>(occupied.end)
    .bind::<SqlUuid, _>(except.unwrap_or(Uuid::nil()))
    .get_result(conn)?;
    Ok(row.found)
}

/// Whether a live booking of the mentor occupies the requested start
/// itself (any booking at that start would need it), other than the one
/// this form already made (a double submit shows that booking).
fn start_taken(conn: &mut PgConnection, req: &BookRequest, learner: Uuid) -> QueryResult<bool> {
    StartTaken {
        mentor: req.mentor_id,
        start: req.start,
        learner,
        key: req.idempotency_key,
    }
    .get_result(conn)
}

/// [`start_taken`]'s statement (prepared once per connection: it runs for
/// every booking request).
struct StartTaken {
    mentor: Uuid,
    start: DateTime<Utc>,
    learner: Uuid,
    key: Uuid,
}

crate::prepared_statement!(StartTaken, diesel::sql_types::Bool);

impl QueryFragment<Pg> for StartTaken {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT EXISTS (SELECT 1 FROM bookings WHERE mentor_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.mentor)?;
        out.push_sql(" AND status <> 'cancelled' AND occupied @> ");
        out.push_bind_param::<Timestamptz, _>(&self.start)?;
        out.push_sql(" AND NOT (learner_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.learner)?;
        out.push_sql(" AND idempotency_key IS NOT DISTINCT FROM ");
        out.push_bind_param::<SqlUuid, _>(&self.key)?;
        out.push_sql("))");
        Ok(())
    }
}

/// Trims the goals and checks their characters and length (visible
/// characters, not bytes).
pub fn check_goals(raw: &str) -> Result<String, &'static str> {
    let normalised = one_char_line_breaks(raw);
    let goals = normalised.trim_matches(|c: char| c.is_whitespace() || invisible(c));
    check_characters(goals)?;
    let visible = goals.chars().filter(|c| !invisible(*c)).count();
    if visible < GOALS_MIN {
        Err("Tell your mentor in at least 10 characters what you want to get out of the session.")
    } else if goals.chars().count() > GOALS_MAX {
        Err("Keep it to 2000 characters or fewer.")
    } else {
        Ok(goals.to_owned())
    }
}

/// Books a session for `learner` in one transaction: the two people's rows
/// locked (two statements), everything the check needs read in one
/// (`facts`), the check itself in memory (the same slot engine and policy
/// as everywhere), then the booking, its two manage links, its two
/// emails and the audit entry written (four statements).
pub fn book(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    learner_id: Uuid,
    req: &BookRequest,
) -> Result<Booked, BookError> {
    let goals = check_goals(&req.goals).map_err(BookError::InvalidGoals)?;
    // A time someone already holds is refused before any lock is taken
    // (the common refusal when many race for one slot). Not the check
    // itself: a free answer here only means the transaction goes on.
    if start_taken(conn, req, learner_id)? {
        return Err(BookError::SlotUnavailable);
    }
    conn.transaction(|conn| {
        // The learner's row exclusively: their bookings are counted one at
        // a time (fairness caps). The mentor's row is only shared: learners
        // racing for one mentor's slots do not queue behind each other
        // (the exclusion constraint picks the winner), while the mentor
        // booking as a learner, or editing their schedule, still waits.
        let locked = lock_people(conn, learner_id, req.mentor_id)?;
        let learner = locked
            .iter()
            .find(|u| u.id == learner_id)
            .cloned()
            .ok_or(BookError::NotFound)?;
        let ask = facts::Ask::new(
            req.mentor_id,
            learner_id,
            learner.time_zone,
            req.idempotency_key,
            req.start,
            ctx.now,
        );
        let mut facts = facts::read(conn, &ask)?;
        // After the lock: a concurrent double submit has committed by now.
        if let Some(id) = facts.learner.existing {
            let existing = find(conn, id)?.ok_or(BookError::NotFound)?;
            return Ok(Booked {
                booking: existing,
                existing: true,
            });
        }
        if learner.email_verified_at.is_none() {
            return Err(BookError::Unverified);
        }
        if learner_id == req.mentor_id {
            return Err(BookError::SelfBooking);
        }
        let mentor = locked
            .iter()
            .find(|u| u.id == req.mentor_id)
            .cloned()
            .ok_or(BookError::NotFound)?;
        // A mentor with day or week caps takes bookings one at a time (the
        // caps count every booking of theirs); what was read before that
        // lock is read again under it.
        let capped = facts
            .snapshot
            .as_ref()
            .and_then(|s| s.loaded.profiles.get(&mentor.id))
            .is_some_and(|p| p.max_per_day.is_some() || p.max_per_week.is_some());
        if capped {
            lock_mentor_bookings(conn, mentor.id)?;
            facts = facts::read(conn, &ask)?;
        }
        let Some(snapshot) = &facts.snapshot else {
            return Err(BookError::SlotUnavailable);
        };
        let topic = snapshot
            .offered
            .get(&mentor.id)
            .and_then(|topics| topics.iter().find(|t| t.slug == req.topic_slug))
            .cloned()
            .ok_or(BookError::SlotUnavailable)?;
        let profile = snapshot
            .loaded
            .profiles
            .get(&mentor.id)
            .cloned()
            .ok_or(BookError::SlotUnavailable)?;
        if !profile.accepting_bookings {
            return Err(BookError::SlotUnavailable);
        }
        let duration = Duration::minutes(topic.duration_minutes.into());
        let end = req.start + duration;
        // The engine over the snapshot: step, hours, notice, horizon, caps,
        // buffers, the mentor's other sessions (as mentor and as learner).
        let window = Interval::new(req.start, req.start + Duration::minutes(1));
        if !snapshot
            .loaded
            .slots(mentor.id, duration, ctx.now, window)
            .iter()
            .any(|s| s.start == req.start)
        {
            return Err(BookError::SlotUnavailable);
        }
        if facts.learner.busy_at(req.start, end) {
            return Err(BookError::LearnerBusy);
        }
        facts
            .learner
            .limit(topic.id, req.start, learner.time_zone, ctx.now)
            .map_err(BookError::Limit)?;
        let booking = insert(
            conn,
            &NewBooking {
                id: Uuid::now_v7(),
                learner: learner.id,
                mentor: mentor.id,
                topic: topic.id,
                start: req.start,
                end,
                buffers: (profile.buffer_before_min, profile.buffer_after_min),
                occupied: Interval::new(
                    req.start - Duration::minutes(profile.buffer_before_min.into()),
                    end + Duration::minutes(profile.buffer_after_min.into()),
                ),
                goals: &goals,
                key: req.idempotency_key,
            },
            ctx.now,
        )?;
        let id = booking.id;
        let parties = Parties {
            learner,
            mentor,
            topic,
            meeting_url: profile.meeting_url,
        };
        notify::confirmed(conn, ctx, &parties, &booking)?;
        audit::record(
            conn,
            ctx.now,
            Some(learner_id),
            "booking.create",
            Some(("booking", id)),
            serde_json::json!({
                "mentor_id": parties.mentor.id,
                "topic": parties.topic.slug,
                "start": booking.start_at,
            }),
        )?;
        Ok(Booked {
            booking,
            existing: false,
        })
    })
}

/// Serialises the bookings of one mentor until the transaction ends (a
/// transaction-scoped advisory lock keyed by the mentor's id, in a class
/// of its own), for mentors with day or week caps. Taken after the row
/// locks, and held by nothing that takes row locks later, so it cannot
/// close a wait cycle; a reschedule or reassignment involving the mentor
/// locks their row exclusively and so waits for the booking's share lock.
fn lock_mentor_bookings(conn: &mut PgConnection, mentor: Uuid) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind::<Integer, _>(MENTOR_BOOKINGS_LOCK)
        .bind::<SqlUuid, _>(mentor)
        .execute(conn)?;
    Ok(())
}

/// The advisory lock class of [`lock_mentor_bookings`].
const MENTOR_BOOKINGS_LOCK: i32 = 0x6f68_0001;

/// The people and topic of a booking, for its emails.
pub fn parties(
    conn: &mut PgConnection,
    booking: &Booking,
    now: DateTime<Utc>,
) -> Result<Parties, BookError> {
    let learner =
        crate::accounts::service::find(conn, booking.learner_id)?.ok_or(BookError::NotFound)?;
    let mentor =
        crate::accounts::service::find(conn, booking.mentor_id)?.ok_or(BookError::NotFound)?;
    let topic = topic(conn, booking.topic_id)?.ok_or(BookError::NotFound)?;
    let meeting_url = schedule_queries::profile_or_default(conn, mentor.id, now)?.meeting_url;
    Ok(Parties {
        learner,
        mentor,
        topic: topic.into(),
        meeting_url,
    })
}

/// Cancels an upcoming booking: the slot is free at once (the constraint
/// ignores cancelled rows), reminders are withdrawn, both people get the
/// cancellation (`METHOD:CANCEL`). A learner cancelling inside the
/// late-cancel window is recorded as late. Cancelling twice is a no-op,
/// which the outcome tells (nobody is emailed again, the reason given the
/// second time is not kept).
pub fn cancel(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    booking_id: Uuid,
    actor: Actor,
    reason: Option<&str>,
) -> Result<Cancelled, BookError> {
    cancel_as(conn, ctx, booking_id, actor, reason, None)
}

/// What a cancel did.
#[derive(Debug)]
pub struct Cancelled {
    pub booking: Booking,
    /// False when it was cancelled already (by anyone): nothing changed.
    pub changed: bool,
}

/// Why a cancel happens to a person leaving, beyond its reason.
#[derive(Debug, Clone, Copy)]
pub enum Departure<'a> {
    /// Deleting their account: the notices name them as `Leaving` says,
    /// carry no goals and no address of theirs.
    Leaving(Leaving<'a>),
    /// Disabled by an admin: that person reads their own reason, the
    /// other person the booking's.
    Disabled((Uuid, &'a str)),
}

/// [`cancel`] for a person leaving (deleting their account, or disabled):
/// the other person reads `reason`, stored on the booking.
pub fn cancel_departing(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    booking_id: Uuid,
    actor: Actor,
    reason: &str,
    departure: Departure<'_>,
) -> Result<Booking, BookError> {
    cancel_as(conn, ctx, booking_id, actor, Some(reason), Some(departure)).map(|c| c.booking)
}

/// How a person deleting their account appears in the notices of the
/// sessions it cancels: the other person learns which session is off, not
/// the leaver's address or goals.
#[derive(Debug, Clone, Copy)]
pub struct Leaving<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

fn cancel_as(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    booking_id: Uuid,
    actor: Actor,
    reason: Option<&str>,
    departure: Option<Departure<'_>>,
) -> Result<Cancelled, BookError> {
    let reason = reason.map(one_char_line_breaks);
    let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let reason: Option<String> = reason.map(str::to_owned);
    conn.transaction(|conn| {
        let booking = find_for_update(conn, booking_id)?.ok_or(BookError::NotFound)?;
        // Said first: a second cancel (a stale tab) hears that it was
        // cancelled already, whatever reason it gave.
        if booking.status() == Status::Cancelled {
            return Ok(Cancelled {
                booking,
                changed: false,
            });
        }
        if !booking.is_upcoming(ctx.now) {
            return Err(BookError::NotChangeable);
        }
        // The learner reads the mentor's or an admin's reason in the email.
        if actor.party != Party::Learner && reason.is_none() {
            return Err(BookError::ReasonRequired);
        }
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > REASON_MAX)
        {
            return Err(BookError::ReasonTooLong);
        }
        // Both people read it in their emails, as a mentor reads the goals.
        if let Some(r) = &reason {
            check_characters(r).map_err(BookError::InvalidReason)?;
        }
        let policy: Policy = load_policy(conn)?;
        let late = policy.cancel_is_late(actor.party == Party::Learner, booking.start_at, ctx.now);
        diesel::update(bookings::table.find(booking_id))
            .set((
                bookings::status.eq(Status::Cancelled.as_str()),
                bookings::cancelled_by.eq(Some(actor.user_id)),
                bookings::cancelled_as.eq(Some(actor.party.as_str())),
                bookings::cancel_reason.eq(reason.as_deref()),
                bookings::cancelled_at.eq(Some(ctx.now)),
                bookings::late_cancel.eq(late),
                bookings::sequence.eq(bookings::sequence + 1),
                bookings::updated_at.eq(ctx.now),
            ))
            .execute(conn)?;
        let booking = find(conn, booking_id)?.ok_or(BookError::NotFound)?;
        let mut parties = parties(conn, &booking, ctx.now)?;
        notify::withdraw_reminders(conn, booking_id)?;
        let mut told = booking.clone();
        let mut own_reason = None;
        let mut mentor_leaving = false;
        match departure {
            None => {}
            Some(Departure::Disabled(disabled)) => {
                own_reason = Some(disabled);
                mentor_leaving = disabled.0 == parties.mentor.id;
            }
            Some(Departure::Leaving(leaving)) => {
                mentor_leaving = parties.mentor.id == actor.user_id;
                let leaver = if parties.learner.id == actor.user_id {
                    &mut parties.learner
                } else {
                    &mut parties.mentor
                };
                leaver.display_name = leaving.name.to_owned();
                leaver.email = leaving.email.to_owned();
                told.goals = String::new();
            }
        }
        notify::cancelled(
            conn,
            ctx,
            &parties,
            &told,
            actor.party,
            own_reason,
            mentor_leaving,
        )?;
        audit::record(
            conn,
            ctx.now,
            Some(actor.user_id),
            "booking.cancel",
            Some(("booking", booking_id)),
            serde_json::json!({
                "as": actor.party.as_str(),
                "late": late,
                "reason": reason,
                "via_manage_link": actor.via_manage_link,
            }),
        )?;
        Ok(Cancelled {
            booking,
            changed: true,
        })
    })
}

/// Moves an upcoming booking to another free start of the same mentor and
/// topic. One UPDATE of the row: the database checks the new occupied range
/// against every other booking before the old time is given up, so a
/// conflict leaves the booking as it was. Keeps the id; SEQUENCE + 1.
pub fn reschedule(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    booking_id: Uuid,
    actor: Actor,
    new_start: DateTime<Utc>,
) -> Result<Booking, BookError> {
    conn.transaction(|conn| {
        let current = find(conn, booking_id)?.ok_or(BookError::NotFound)?;
        lock_users(conn, &[current.learner_id, current.mentor_id])?;
        let before = find_for_update(conn, booking_id)?.ok_or(BookError::NotFound)?;
        if !before.is_upcoming(ctx.now) {
            return Err(BookError::NotChangeable);
        }
        if new_start == before.start_at {
            return Err(BookError::SameTime);
        }
        let parties = parties(conn, &before, ctx.now)?;
        if !takes_bookings(conn, &parties.mentor, ctx.now)? {
            return Err(BookError::SlotUnavailable);
        }
        let policy = load_policy(conn)?;
        let counts = policy::counts(
            conn,
            &policy,
            before.learner_id,
            new_start,
            parties.learner.time_zone,
            ctx.now,
            Some(booking_id),
        )?;
        policy::check(
            &policy,
            &counts,
            before.topic_id,
            new_start,
            parties.learner.time_zone,
            ctx.now,
            false,
        )
        .map_err(BookError::Limit)?;
        if !is_offered(
            conn,
            &parties.mentor,
            parties.topic.duration_minutes,
            new_start,
            ctx.now,
            Some(booking_id),
        )? {
            return Err(BookError::SlotUnavailable);
        }
        let end = new_start + Duration::minutes(parties.topic.duration_minutes.into());
        if learner_busy(conn, before.learner_id, new_start, end, Some(booking_id))? {
            return Err(BookError::LearnerBusy);
        }
        let profile = schedule_queries::profile_or_default(conn, before.mentor_id, ctx.now)?;
        diesel::sql_query(
            "UPDATE bookings
                SET start_at = $2, end_at = $3, buffer_before_min = $4, buffer_after_min = $5,
                    occupied = tstzrange($2 - make_interval(mins => $4), $3 + make_interval(mins => $5), '[)'),
                    sequence = sequence + 1, updated_at = $6, timed_at = $6
              WHERE id = $1",
        )
        .bind::<SqlUuid, _>(booking_id)
        .bind::<Timestamptz, _>(new_start)
        .bind::<Timestamptz, _>(end)
        .bind::<Integer, _>(profile.buffer_before_min)
        .bind::<Integer, _>(profile.buffer_after_min)
        .bind::<Timestamptz, _>(ctx.now)
        .execute(conn)
        .map_err(overlap_error)?;
        let booking = find(conn, booking_id)?.ok_or(BookError::NotFound)?;
        notify::withdraw_reminders(conn, booking_id)?;
        notify::rescheduled(conn, ctx, &parties, &booking, &before, actor.party)?;
        audit::record(
            conn,
            ctx.now,
            Some(actor.user_id),
            "booking.reschedule",
            Some(("booking", booking_id)),
            serde_json::json!({
                "as": actor.party.as_str(),
                "from": before.start_at,
                "to": booking.start_at,
                "via_manage_link": actor.via_manage_link,
            }),
        )?;
        Ok(booking)
    })
}

/// A learner's sessions (newest start first for the past, soonest first
/// for upcoming), with mentor and topic, in two lists.
pub struct SessionRow {
    pub booking: Booking,
    pub mentor_name: String,
    pub learner_name: String,
    pub topic_title: String,
}

pub fn sessions_of_learner(conn: &mut PgConnection, learner: Uuid) -> QueryResult<Vec<SessionRow>> {
    let (mentors, learners) = diesel::alias!(users as mentors, users as learners);
    let rows: Vec<(Booking, String, String, String)> = bookings::table
        .inner_join(mentors.on(mentors.field(users::id).eq(bookings::mentor_id)))
        .inner_join(learners.on(learners.field(users::id).eq(bookings::learner_id)))
        .inner_join(topics::table.on(topics::id.eq(bookings::topic_id)))
        .filter(bookings::learner_id.eq(learner))
        .order((bookings::start_at.desc(), bookings::id))
        .limit(500)
        .select((
            Booking::as_select(),
            mentors.field(users::display_name),
            learners.field(users::display_name),
            topics::title,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(booking, mentor_name, learner_name, topic_title)| SessionRow {
                booking,
                mentor_name,
                learner_name,
                topic_title,
            },
        )
        .collect())
}

/// Gives an upcoming booking to another mentor (an admin's action): the
/// learner, the time, the goals and the id stay; the new mentor must take
/// bookings, offer the topic and — by the engine, with their own notice,
/// horizon, step, caps and buffers — be free at exactly this start. One
/// transaction, the people locked in id order as in `book`, so it queues
/// with a learner booking the new mentor's time; one UPDATE of the row,
/// the exclusion constraint the last word (a conflict leaves the booking
/// as it was). SEQUENCE + 1: the learner and the new mentor get the
/// invitation, the previous mentor a cancellation.
pub fn reassign(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    booking_id: Uuid,
    admin_id: Uuid,
    new_mentor_id: Uuid,
) -> Result<Booking, BookError> {
    conn.transaction(|conn| {
        let current = find(conn, booking_id)?.ok_or(BookError::NotFound)?;
        let locked = lock_users(
            conn,
            &[current.learner_id, current.mentor_id, new_mentor_id],
        )?;
        // Locked now; a reassignment that committed in between moved it
        // away from `current.mentor_id`, whose lock then only queued us.
        let before = find_for_update(conn, booking_id)?.ok_or(BookError::NotFound)?;
        if !before.is_upcoming(ctx.now) {
            return Err(BookError::NotChangeable);
        }
        if new_mentor_id == before.mentor_id {
            return Err(BookError::SameMentor);
        }
        if new_mentor_id == before.learner_id {
            return Err(BookError::SelfBooking);
        }
        let mentor = locked
            .iter()
            .find(|u| u.id == new_mentor_id)
            .cloned()
            .ok_or(BookError::MentorUnavailable)?;
        let topic =
            offered_topic(conn, mentor.id, before.topic_id)?.ok_or(BookError::MentorUnavailable)?;
        let profile = schedule_queries::profile_or_default(conn, mentor.id, ctx.now)?;
        if !mentor.can_mentor() || !profile.accepting_bookings {
            return Err(BookError::MentorUnavailable);
        }
        let occupied = Interval::new(
            before.start_at - Duration::minutes(profile.buffer_before_min.into()),
            before.end_at + Duration::minutes(profile.buffer_after_min.into()),
        );
        if mentor_time_taken(conn, mentor.id, occupied, None)? {
            return Err(BookError::SlotUnavailable);
        }
        if !is_offered(
            conn,
            &mentor,
            topic.duration_minutes,
            before.start_at,
            ctx.now,
            None,
        )? {
            return Err(BookError::SlotUnavailable);
        }
        let previous = parties(conn, &before, ctx.now)?;
        // Reminders still waiting were written for the previous mentor:
        // withdrawn, and the markers cleared so the next round makes them
        // for the new one (one already sent to the learner is deduplicated).
        diesel::sql_query(
            "UPDATE bookings
                SET mentor_id = $2, buffer_before_min = $3, buffer_after_min = $4,
                    occupied = tstzrange(start_at - make_interval(mins => $3),
                                         end_at + make_interval(mins => $4), '[)'),
                    reminded_24h_for = NULL, reminded_1h_for = NULL,
                    sequence = sequence + 1, updated_at = $5
              WHERE id = $1",
        )
        .bind::<SqlUuid, _>(booking_id)
        .bind::<SqlUuid, _>(mentor.id)
        .bind::<Integer, _>(profile.buffer_before_min)
        .bind::<Integer, _>(profile.buffer_after_min)
        .bind::<Timestamptz, _>(ctx.now)
        .execute(conn)
        .map_err(overlap_error)?;
        let booking = find(conn, booking_id)?.ok_or(BookError::NotFound)?;
        let parties = Parties {
            learner: previous.learner.clone(),
            mentor,
            topic: previous.topic.clone(),
            meeting_url: profile.meeting_url,
        };
        notify::withdraw_reminders(conn, booking_id)?;
        notify::reassigned(conn, ctx, &parties, &booking, &previous)?;
        audit::record(
            conn,
            ctx.now,
            Some(admin_id),
            "booking.reassign",
            Some(("booking", booking_id)),
            serde_json::json!({
                "from_mentor_id": before.mentor_id,
                "to_mentor_id": parties.mentor.id,
                "topic": parties.topic.slug,
                "start": booking.start_at,
            }),
        )?;
        Ok(booking)
    })
}

#[cfg(test)]
mod tests {
    use super::{check_characters, check_goals};

    #[test]
    fn goals_count_visible_characters_and_refuse_reordering_ones() {
        assert_eq!(
            check_goals("  Walk me through joins.\u{200B} ").as_deref(),
            Ok("Walk me through joins.")
        );
        // Twelve zero-width spaces look like nothing.
        assert!(check_goals(&"\u{200B}".repeat(12)).is_err());
        assert!(check_goals(&format!("abc{}", "\u{200B}".repeat(12))).is_err());
        // A right-to-left override makes the mentor read another text.
        assert!(check_goals("Explain \u{202E}sexedni ot woh").is_err());
        assert!(check_goals("Tab\tand new\nline are fine").is_ok());
        assert!(check_goals("A bell \u{7} is not").is_err());
        assert!(check_goals(&"x".repeat(2000)).is_ok());
        assert!(check_goals(&"x".repeat(2001)).is_err());
        // Invisible characters still count towards the upper bound.
        let padded = format!(
            "{}{}{}",
            "x".repeat(1000),
            "\u{200B}".repeat(10),
            "x".repeat(995)
        );
        assert!(check_goals(&padded).is_err());
    }

    #[test]
    fn text_for_another_person_holds_no_terminal_or_direction_tricks() {
        assert!(check_characters("Ill today.\n\tSorry!").is_ok());
        assert!(check_characters("Désolé, je suis malade 🤒").is_ok());
        for bad in [
            "\u{1b}[2J",
            "bell \u{7}",
            "nul \0",
            "csi \u{9b}",
            "del \u{7f}",
        ] {
            assert_eq!(
                check_characters(bad),
                Err("Remove the control characters."),
                "{bad:?}"
            );
        }
        for bad in ["\u{202e}evil\u{202c}", "\u{2066}isolate\u{2069}"] {
            assert_eq!(
                check_characters(bad),
                Err("Remove the characters that change the direction of the text."),
                "{bad:?}"
            );
        }
        // The goals say the same.
        assert_eq!(
            check_goals("Explain \u{1b}[31mjoins to me"),
            Err("Remove the control characters.")
        );
    }

    #[test]
    fn goals_line_breaks_count_once_and_are_stored_as_lf() {
        // What a browser sends for ten lines filling maxlength="2000".
        let line = "y".repeat(199);
        let sent = format!("y{}", [line.as_str(); 10].join("\r\n"));
        assert_eq!(sent.chars().count(), 2009);
        let kept = check_goals(&sent).unwrap();
        assert_eq!(kept.chars().count(), 2000);
        assert!(!kept.contains('\r'));
        assert_eq!(
            check_goals("Old Mac\rline breaks, too").as_deref(),
            Ok("Old Mac\nline breaks, too")
        );
    }
}
