//! Row structs of the booking tables and the booking's status.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{booking_policy, bookings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Cancelled,
    Completed,
    NoShow,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::Cancelled => "cancelled",
            Status::Completed => "completed",
            Status::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Confirmed,
            Status::Cancelled,
            Status::Completed,
            Status::NoShow,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// How pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Confirmed => "Booked",
            Status::Cancelled => "Cancelled",
            Status::Completed => "Completed",
            Status::NoShow => "No-show",
        }
    }
}

/// A booking as stored (without the derived `occupied` range and the
/// reminder bookkeeping).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = bookings)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Booking {
    pub id: Uuid,
    pub learner_id: Uuid,
    pub mentor_id: Uuid,
    pub topic_id: Uuid,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub buffer_before_min: i32,
    pub buffer_after_min: i32,
    pub status: String,
    pub goals: String,
    pub cancelled_by: Option<Uuid>,
    /// The role the cancel was made in (`learner`, `mentor`, `admin`):
    /// an admin who is also a party may act as either.
    pub cancelled_as: Option<String>,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub late_cancel: bool,
    pub sequence: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Booking {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Confirmed)
    }

    /// Confirmed and not yet started: it can still be cancelled or moved.
    pub fn is_upcoming(&self, now: DateTime<Utc>) -> bool {
        self.status() == Status::Confirmed && self.start_at > now
    }
}

/// The fairness policy (one row; PRODUCT.md "Fairness policy").
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_policy)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Policy {
    pub max_upcoming: i32,
    pub max_upcoming_per_topic: i32,
    pub max_per_month: i32,
    pub late_cancel_hours: i32,
    pub noshow_strikes: i32,
    pub noshow_window_days: i32,
    pub noshow_pause_days: i32,
}

impl Policy {
    pub fn late_cancel_window(&self) -> Duration {
        Duration::hours(self.late_cancel_hours.into())
    }

    /// Whether a cancel now of a session starting at `start` is a late one:
    /// only the learner's, inside the window (PRODUCT.md "Fairness policy").
    pub fn cancel_is_late(
        &self,
        by_learner: bool,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        by_learner && start - now < self.late_cancel_window()
    }
}

impl Default for Policy {
    /// The defaults of PRODUCT.md, as the migration inserts them.
    fn default() -> Self {
        Policy {
            max_upcoming: 2,
            max_upcoming_per_topic: 1,
            max_per_month: 4,
            late_cancel_hours: 12,
            noshow_strikes: 2,
            noshow_window_days: 60,
            noshow_pause_days: 30,
        }
    }
}

pub fn load_policy(conn: &mut PgConnection) -> QueryResult<Policy> {
    Ok(booking_policy::table
        .select(Policy::as_select())
        .first(conn)
        .optional()?
        .unwrap_or_default())
}
