//! Row structs of the schedule tables.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{
    date_overrides, mentor_profiles, override_windows, time_off, weekly_rules,
};

/// A mentor's public profile and booking settings.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Identifiable)]
#[diesel(table_name = mentor_profiles, primary_key(user_id))]
#[diesel(check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct Profile {
    pub user_id: Uuid,
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Profile {
    /// What a mentor starts with before saving settings: not yet accepting
    /// bookings, 12 h notice, 4 weeks ahead, 15-minute steps.
    pub fn new_default(user_id: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            headline: String::new(),
            bio: String::new(),
            meeting_url: None,
            accepting_bookings: false,
            buffer_before_min: 0,
            buffer_after_min: 0,
            min_notice_hours: 12,
            horizon_days: 28,
            step_min: 15,
            max_per_day: None,
            max_per_week: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = weekly_rules)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct WeeklyRuleRow {
    pub id: Uuid,
    pub mentor_id: Uuid,
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = date_overrides)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct OverrideRow {
    pub id: Uuid,
    pub mentor_id: Uuid,
    pub on_date: NaiveDate,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = override_windows)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct OverrideWindowRow {
    pub id: Uuid,
    pub override_id: Uuid,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
}

/// A date override with its windows (none: unavailable all day).
#[derive(Debug, Clone)]
pub struct DateOverrideFull {
    pub id: Uuid,
    pub mentor_id: Uuid,
    pub on_date: NaiveDate,
    pub windows: Vec<(Uuid, NaiveTime, NaiveTime)>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = time_off)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TimeOffRow {
    pub id: Uuid,
    pub mentor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
}
