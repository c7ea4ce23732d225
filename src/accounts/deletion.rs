//! A user's own data: the export (`export`, everything we hold about the
//! account as one JSON document, never a token or password hash) and the
//! deletion of the account (`delete`: one transaction that cancels the
//! upcoming sessions with notices to the other people, erases the personal
//! data and keeps the past sessions, anonymised, for the statistics).
//! Service functions on a connection; the account page calls them.
//! Depends on `accounts`, `bookings::service` (cancel), `schedule`, `audit`,
//! `db`.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::{Role, User, api_tokens, service, session, throttle};
use crate::audit;
use crate::bookings::model::{Booking, Status};
use crate::bookings::service::{self as booking_service, Actor, BookError, Ctx, Departure, Party};
use crate::db::schema::{
    account_tokens, api_tokens as api_tokens_table, audit_log, bookings, calendar_feeds,
    date_overrides, login_failures, login_known_ips, mail_requests, manage_tokens, mentor_profiles,
    mentor_topics, override_windows, time_off, topics, users, weekly_rules,
};
use crate::email::outbox;
use crate::schedule::queries as schedule_queries;

/// The name an erased account is shown with.
pub const DELETED_NAME: &str = "Deleted user";
/// The domain of erased accounts' addresses (`.invalid` never resolves).
pub const DELETED_DOMAIN: &str = "deleted.invalid";
/// The reason the learner reads when a deleted mentor's session is
/// cancelled.
pub const MENTOR_LEFT: &str = "Your mentor is no longer available.";
/// The reason the mentor reads when a deleted learner's session is
/// cancelled.
pub const LEARNER_LEFT: &str = "The learner is no longer available.";

/// What the audit log keeps of a cancel reason a deleted person wrote.
pub const REASON_ERASED: &str = "(erased with the account)";

/// The address an erased account gets: unique, and not anybody's.
pub fn erased_email(user: Uuid) -> String {
    format!("deleted-{}@{DELETED_DOMAIN}", user.simple())
}

/// Whether `user`'s account was deleted (erased): its row stays, disabled,
/// for the statistics, and nothing may bring it back.
pub fn is_erased(user: &User) -> bool {
    user.email == erased_email(user.id)
}

/// Whether a booking's goals are missing because its learner deleted
/// their account (the goals went with it), for pages to say so.
pub fn goals_erased(goals: &str, learner: &User) -> bool {
    goals.is_empty() && is_erased(learner)
}

// ================================================================ export

#[derive(Debug, Serialize)]
pub struct Export {
    pub generated_at: DateTime<Utc>,
    pub account: AccountData,
    pub sessions: Vec<SessionData>,
    pub api_tokens: Vec<ApiTokenData>,
    pub bookings_as_learner: Vec<BookingData>,
    pub bookings_as_mentor: Vec<BookingData>,
    pub mentor_profile: Option<MentorProfileData>,
    pub schedule: Option<ScheduleData>,
    /// What the account did, as the audit log recorded it.
    pub audit: Vec<AuditData>,
}

#[derive(Debug, Serialize)]
pub struct AccountData {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub time_zone: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct SessionData {
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ApiTokenData {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct BookingData {
    pub id: Uuid,
    pub topic: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub status: &'static str,
    /// The mentor's name in bookings as learner, the learner's in
    /// bookings as mentor.
    pub other_party: String,
    pub goals: String,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by_you: bool,
    pub cancel_reason: Option<String>,
    pub late_cancel: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct MentorProfileData {
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
    pub topics: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ScheduleData {
    /// The zone the wall-clock times below are in.
    pub time_zone: String,
    pub weekly_rules: Vec<WeeklyRuleData>,
    pub date_overrides: Vec<DateOverrideData>,
    pub time_off: Vec<TimeOffData>,
}

#[derive(Debug, Serialize)]
pub struct WeeklyRuleData {
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

#[derive(Debug, Serialize)]
pub struct DateOverrideData {
    pub date: NaiveDate,
    /// None: unavailable all day.
    pub windows: Vec<WindowData>,
}

#[derive(Debug, Serialize)]
pub struct WindowData {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

#[derive(Debug, Serialize)]
pub struct TimeOffData {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct AuditData {
    pub at: DateTime<Utc>,
    pub action: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<Uuid>,
    pub details: serde_json::Value,
}

/// The user's bookings on one side, with the topic and the other person's
/// name.
fn bookings_of(
    conn: &mut PgConnection,
    user: Uuid,
    as_mentor: bool,
) -> QueryResult<Vec<BookingData>> {
    let rows: Vec<(Booking, String, String)> = if as_mentor {
        bookings::table
            .inner_join(users::table.on(users::id.eq(bookings::learner_id)))
            .inner_join(topics::table.on(topics::id.eq(bookings::topic_id)))
            .filter(bookings::mentor_id.eq(user))
            .order((bookings::start_at, bookings::id))
            .select((Booking::as_select(), users::display_name, topics::title))
            .load(conn)?
    } else {
        bookings::table
            .inner_join(users::table.on(users::id.eq(bookings::mentor_id)))
            .inner_join(topics::table.on(topics::id.eq(bookings::topic_id)))
            .filter(bookings::learner_id.eq(user))
            .order((bookings::start_at, bookings::id))
            .select((Booking::as_select(), users::display_name, topics::title))
            .load(conn)?
    };
    Ok(rows
        .into_iter()
        .map(|(b, other_party, topic)| BookingData {
            id: b.id,
            topic,
            start_at: b.start_at,
            end_at: b.end_at,
            status: b.status().as_str(),
            other_party,
            cancelled_by_you: b.cancelled_by == Some(user),
            goals: b.goals,
            cancelled_at: b.cancelled_at,
            cancel_reason: b.cancel_reason,
            late_cancel: b.late_cancel,
            created_at: b.created_at,
        })
        .collect())
}

fn schedule_of(
    conn: &mut PgConnection,
    user: &User,
    has_profile: bool,
) -> QueryResult<Option<ScheduleData>> {
    let weekly_rules = schedule_queries::weekly_rules_of(conn, &[user.id])?
        .into_iter()
        .map(|r| WeeklyRuleData {
            weekday: r.weekday,
            start: r.start_time,
            end: r.end_time,
        })
        .collect::<Vec<_>>();
    let overrides: Vec<(Uuid, NaiveDate)> = date_overrides::table
        .filter(date_overrides::mentor_id.eq(user.id))
        .order(date_overrides::on_date)
        .select((date_overrides::id, date_overrides::on_date))
        .load(conn)?;
    let ids: Vec<Uuid> = overrides.iter().map(|(id, _)| *id).collect();
    let windows: Vec<(Uuid, NaiveTime, NaiveTime)> = override_windows::table
        .filter(override_windows::override_id.eq_any(&ids))
        .order((override_windows::override_id, override_windows::start_time))
        .select((
            override_windows::override_id,
            override_windows::start_time,
            override_windows::end_time,
        ))
        .load(conn)?;
    let date_overrides = overrides
        .into_iter()
        .map(|(id, date)| DateOverrideData {
            date,
            windows: windows
                .iter()
                .filter(|(of, _, _)| *of == id)
                .map(|(_, start, end)| WindowData {
                    start: *start,
                    end: *end,
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    let time_off = time_off::table
        .filter(time_off::mentor_id.eq(user.id))
        .order(time_off::starts_at)
        .select((time_off::starts_at, time_off::ends_at, time_off::note))
        .load::<(DateTime<Utc>, DateTime<Utc>, String)>(conn)?
        .into_iter()
        .map(|(starts_at, ends_at, note)| TimeOffData {
            starts_at,
            ends_at,
            note,
        })
        .collect::<Vec<_>>();
    if !has_profile && weekly_rules.is_empty() && date_overrides.is_empty() && time_off.is_empty() {
        return Ok(None);
    }
    Ok(Some(ScheduleData {
        time_zone: user.time_zone.name().to_owned(),
        weekly_rules,
        date_overrides,
        time_off,
    }))
}

/// Everything held about `user`, as they may download it. Run it in a
/// read-only repeatable-read transaction so the parts agree.
pub fn export(conn: &mut PgConnection, user: &User, now: DateTime<Utc>) -> QueryResult<Export> {
    let account = AccountData {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        time_zone: user.time_zone.name().to_owned(),
        email_verified_at: user.email_verified_at,
        created_at: user.created_at,
    };
    let sessions = session::list_for_user(conn, user.id, now)?
        .into_iter()
        .map(|s| SessionData {
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    let api_tokens = api_tokens::list_for_user(conn, user.id)?
        .into_iter()
        .map(|t| ApiTokenData {
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        })
        .collect();
    let profile = schedule_queries::profile(conn, user.id)?;
    let mentor_profile = match &profile {
        None => None,
        Some(p) => {
            let topics: Vec<String> = topics::table
                .inner_join(mentor_topics::table.on(mentor_topics::topic_id.eq(topics::id)))
                .filter(mentor_topics::mentor_id.eq(user.id))
                .order(topics::title)
                .select(topics::title)
                .load(conn)?;
            Some(MentorProfileData {
                headline: p.headline.clone(),
                bio: p.bio.clone(),
                meeting_url: p.meeting_url.clone(),
                accepting_bookings: p.accepting_bookings,
                buffer_before_min: p.buffer_before_min,
                buffer_after_min: p.buffer_after_min,
                min_notice_hours: p.min_notice_hours,
                horizon_days: p.horizon_days,
                step_min: p.step_min,
                max_per_day: p.max_per_day,
                max_per_week: p.max_per_week,
                topics,
            })
        }
    };
    let schedule = schedule_of(conn, user, profile.is_some())?;
    let audit = audit_log::table
        .filter(audit_log::actor_user_id.eq(user.id))
        .order((audit_log::at, audit_log::id))
        .select((
            audit_log::at,
            audit_log::action,
            audit_log::subject_type,
            audit_log::subject_id,
            audit_log::details,
        ))
        .load::<(
            DateTime<Utc>,
            String,
            Option<String>,
            Option<Uuid>,
            serde_json::Value,
        )>(conn)?
        .into_iter()
        .map(
            |(at, action, subject_type, subject_id, details)| AuditData {
                at,
                action,
                subject_type,
                subject_id,
                details,
            },
        )
        .collect();
    Ok(Export {
        generated_at: now,
        account,
        sessions,
        api_tokens,
        bookings_as_learner: bookings_of(conn, user.id, false)?,
        bookings_as_mentor: bookings_of(conn, user.id, true)?,
        mentor_profile,
        schedule,
        audit,
    })
}

// ================================================================ deletion

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// No such account, or it is disabled (or already deleted).
    #[error("no such active account")]
    NotFound,
    #[error("the last active admin cannot delete their account")]
    LastAdmin,
    #[error("cannot cancel a booking of the account: {0}")]
    Cancel(#[from] BookError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// What a deletion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub bookings_cancelled: usize,
}

/// Deletes `user_id`'s account in one transaction: cancels their upcoming
/// sessions (as learner and as mentor; the other person is told, they are
/// not), erases their personal data (address, name, password, sessions,
/// links, tokens, calendar feed, mentor profile and schedule, their goals
/// and cancel reasons, also in the audit log, the emails addressed to them) and disables the row,
/// which stays so past sessions still count in the statistics. The last
/// active admin cannot delete themselves. Audited as `account.delete`
/// without personal data.
pub fn delete(
    conn: &mut PgConnection,
    ctx: Ctx<'_>,
    user_id: Uuid,
) -> Result<Deleted, DeleteError> {
    let now = ctx.now;
    conn.transaction(|conn| {
        // As `admin::users` locks them: an admin deleting themselves while
        // another admin is being demoted or disabled queues instead of
        // leaving no admin.
        let (admins, user) = service::lock_admins_and(conn, user_id)?;
        let user = user
            .filter(|u| u.disabled_at.is_none())
            .ok_or(DeleteError::NotFound)?;
        if admins.contains(&user.id) && admins.len() <= 1 {
            return Err(DeleteError::LastAdmin);
        }

        // The other people hear of it: which session is off and why, not
        // the leaver's name, address or goals, which this deletion erases
        // (the notices are stored, and some sent, after it).
        let erased = erased_email(user_id);
        let leaving = booking_service::Leaving {
            name: DELETED_NAME,
            email: &erased,
        };
        let upcoming: Vec<Booking> = bookings::table
            .filter(
                bookings::mentor_id
                    .eq(user_id)
                    .or(bookings::learner_id.eq(user_id)),
            )
            .filter(bookings::status.eq(Status::Confirmed.as_str()))
            .filter(bookings::start_at.gt(now))
            .order((bookings::start_at, bookings::id))
            .select(Booking::as_select())
            .for_update()
            .load(conn)?;
        // The other people's copies name the leaver: emptied, or withdrawn
        // if not sent yet; the cancellations written next take their place.
        outbox::erase_about(conn, user_id)?;
        // The reasons they gave when cancelling a session of theirs are
        // their words, erased with their cancel_reason on the bookings; the
        // entries stay. (A reason given as an admin, for others' sessions,
        // is the programme's record and stays.)
        diesel::sql_query(
            "UPDATE audit_log SET details = details || jsonb_build_object('reason', $2::text)
              WHERE actor_user_id = $1 AND action = 'booking.cancel'
                AND jsonb_typeof(details -> 'reason') = 'string'
                AND subject_id IN (SELECT id FROM bookings
                                    WHERE learner_id = $1 OR mentor_id = $1)",
        )
        .bind::<diesel::sql_types::Uuid, _>(user_id)
        .bind::<diesel::sql_types::Text, _>(REASON_ERASED)
        .execute(conn)?;
        for booking in &upcoming {
            let (party, reason) = if booking.mentor_id == user_id {
                (Party::Mentor, MENTOR_LEFT)
            } else {
                (Party::Learner, LEARNER_LEFT)
            };
            let actor = Actor {
                user_id,
                party,
                via_manage_link: false,
            };
            booking_service::cancel_departing(
                conn,
                ctx,
                booking.id,
                actor,
                reason,
                Departure::Leaving(leaving),
            )?;
        }

        outbox::erase_for(conn, user_id, &erased)?;

        diesel::update(
            bookings::table
                .filter(bookings::learner_id.eq(user_id))
                .filter(bookings::goals.ne("")),
        )
        .set(bookings::goals.eq(""))
        .execute(conn)?;
        diesel::update(
            bookings::table
                .filter(bookings::cancelled_by.eq(user_id))
                .filter(
                    bookings::learner_id
                        .eq(user_id)
                        .or(bookings::mentor_id.eq(user_id)),
                )
                .filter(bookings::cancel_reason.is_not_null()),
        )
        .set(bookings::cancel_reason.eq(None::<String>))
        .execute(conn)?;

        let sessions_ended = session::delete_all_for_user(conn, user_id, None)?;
        diesel::delete(account_tokens::table.filter(account_tokens::user_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(api_tokens_table::table.filter(api_tokens_table::user_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(manage_tokens::table.filter(manage_tokens::user_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(calendar_feeds::table.filter(calendar_feeds::mentor_id.eq(user_id)))
            .execute(conn)?;
        // After every booking and outbox row this transaction locks (a
        // cancel committing meanwhile may hold one and want a version
        // row), before the schedule and the account go, which bump the
        // user's version.
        booking_service::lock_slot_versions(conn, &upcoming, user_id)?;
        diesel::delete(mentor_topics::table.filter(mentor_topics::mentor_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(weekly_rules::table.filter(weekly_rules::mentor_id.eq(user_id)))
            .execute(conn)?;
        // Their windows go with them (ON DELETE CASCADE).
        diesel::delete(date_overrides::table.filter(date_overrides::mentor_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(time_off::table.filter(time_off::mentor_id.eq(user_id))).execute(conn)?;
        diesel::delete(mentor_profiles::table.find(user_id)).execute(conn)?;
        let key = throttle::email_key(conn, &user.email)?;
        diesel::delete(login_failures::table.filter(login_failures::email_key.eq(&key)))
            .execute(conn)?;
        diesel::delete(login_known_ips::table.filter(login_known_ips::email_key.eq(&key)))
            .execute(conn)?;
        diesel::delete(mail_requests::table.filter(mail_requests::email_key.eq(&key)))
            .execute(conn)?;

        diesel::update(users::table.find(user_id))
            .set((
                users::email.eq(&erased),
                users::display_name.eq(DELETED_NAME),
                users::password_hash.eq(None::<String>),
                users::email_verified_at.eq(None::<DateTime<Utc>>),
                users::verification_sent_at.eq(None::<DateTime<Utc>>),
                users::disabled_at.eq(Some(now)),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;

        audit::record(
            conn,
            now,
            Some(user_id),
            "account.delete",
            Some(("user", user_id)),
            serde_json::json!({
                "bookings_cancelled": upcoming.len(),
                "sessions_ended": sessions_ended,
            }),
        )?;
        Ok(Deleted {
            bookings_cancelled: upcoming.len(),
        })
    })
}
