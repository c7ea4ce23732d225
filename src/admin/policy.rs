//! `/admin/policy`: the fairness policy (the one `booking_policy` row),
//! shown and edited. Every value is checked against the same range as the
//! table's CHECK constraints; a change is saved in one transaction with a
//! `policy.update` audit entry holding the old and new values of the fields
//! that changed. Bookings read the row inside their own transaction, so a
//! new value applies to the next booking. Depends on `bookings::model`,
//! `audit`, `db`, `web`, `state`, `error`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use crate::audit;
use crate::bookings::model::Policy;
use crate::db::schema::booking_policy;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{AdminRole, Auth, CsrfForm};
use crate::web::forms::FieldErrors;
use crate::web::{PageCtx, render};

// ================================================================ service

/// One value of the policy: its form name, how the page labels and
/// explains it, and its range (as the CHECK constraints have it).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub min: i32,
    pub max: i32,
    pub get: fn(&Policy) -> i32,
    pub set: fn(&mut Policy, i32),
}

/// Every value, in the order the page shows them.
pub const SPECS: [Spec; 7] = [
    Spec {
        name: "max_upcoming",
        label: "Upcoming sessions per learner",
        hint: "How many booked sessions that have not started yet a learner may hold at once, across all topics. 1 to 100.",
        min: 1,
        max: 100,
        get: |p| p.max_upcoming,
        set: |p, v| p.max_upcoming = v,
    },
    Spec {
        name: "max_upcoming_per_topic",
        label: "Upcoming sessions per learner and topic",
        hint: "How many of those may be of the same topic. 1 up to the number above.",
        min: 1,
        max: 100,
        get: |p| p.max_upcoming_per_topic,
        set: |p, v| p.max_upcoming_per_topic = v,
    },
    Spec {
        name: "max_per_month",
        label: "Sessions per learner per calendar month",
        hint: "Counted by the month of the session in the learner's time zone; completed sessions and no-shows count, cancelled ones do not. 1 to 1000.",
        min: 1,
        max: 1000,
        get: |p| p.max_per_month,
        set: |p, v| p.max_per_month = v,
    },
    Spec {
        name: "late_cancel_hours",
        label: "Late-cancellation window (hours)",
        hint: "A learner who cancels less than this many hours before the start cancels late; it is recorded on the booking. 0 to 336 (two weeks); 0 means no cancellation is late.",
        min: 0,
        max: 336,
        get: |p| p.late_cancel_hours,
        set: |p, v| p.late_cancel_hours = v,
    },
    Spec {
        name: "noshow_strikes",
        label: "No-shows before a pause",
        hint: "After this many no-shows within the window below, the learner cannot book for the pause below. 1 to 100.",
        min: 1,
        max: 100,
        get: |p| p.noshow_strikes,
        set: |p, v| p.noshow_strikes = v,
    },
    Spec {
        name: "noshow_window_days",
        label: "No-show window (days)",
        hint: "How far back no-shows count. 1 to 365.",
        min: 1,
        max: 365,
        get: |p| p.noshow_window_days,
        set: |p, v| p.noshow_window_days = v,
    },
    Spec {
        name: "noshow_pause_days",
        label: "Booking pause after no-shows (days)",
        hint: "How long booking stays paused, counted from the no-show that reached the count. Sessions already booked stay. 0 to 365; 0 means no pause.",
        min: 0,
        max: 365,
        get: |p| p.noshow_pause_days,
        set: |p, v| p.noshow_pause_days = v,
    },
];

/// The form as sent: every value as text, by field name.
pub type Input = Vec<(String, String)>;

/// The sent text of `name`, or empty.
pub fn value_of<'a>(input: &'a [(String, String)], name: &str) -> &'a str {
    input
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Reads every value of the form, or says for each field what is wrong.
pub fn check(input: &[(String, String)]) -> Result<Policy, Vec<(&'static str, String)>> {
    let mut policy = Policy::default();
    let mut problems = Vec::new();
    for spec in SPECS {
        match value_of(input, spec.name).trim().parse::<i32>() {
            Ok(v) if (spec.min..=spec.max).contains(&v) => (spec.set)(&mut policy, v),
            _ => problems.push((
                spec.name,
                format!("Enter a whole number from {} to {}.", spec.min, spec.max),
            )),
        }
    }
    // A per-topic limit above the overall one could never be reached.
    if problems.is_empty() && policy.max_upcoming_per_topic > policy.max_upcoming {
        problems.push((
            "max_upcoming_per_topic",
            format!(
                "Use at most the overall limit of upcoming sessions ({}), or raise that first.",
                policy.max_upcoming
            ),
        ));
    }
    if problems.is_empty() {
        Ok(policy)
    } else {
        Err(problems)
    }
}

/// The policy and when it was last changed (`None`: never since set-up).
pub fn load(conn: &mut PgConnection) -> QueryResult<(Policy, Option<DateTime<Utc>>)> {
    let row = booking_policy::table
        .select((Policy::as_select(), booking_policy::updated_at))
        .first::<(Policy, DateTime<Utc>)>(conn)
        .optional()?;
    Ok(match row {
        Some((policy, at)) => (policy, Some(at)),
        None => (Policy::default(), None),
    })
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    /// Every value already was so; nothing written.
    Unchanged,
}

/// Saves `new`, audited as `policy.update` with `{old: {…}, new: {…}}` of
/// the changed values only. The row is locked first, so two admins saving
/// at once are recorded one after the other, each against what it replaced.
pub fn save(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: Uuid,
    new: &Policy,
) -> QueryResult<Outcome> {
    conn.transaction(|conn| {
        let old = booking_policy::table
            .select(Policy::as_select())
            .for_update()
            .first(conn)
            .optional()?
            .unwrap_or_default();
        let mut old_values = serde_json::Map::new();
        let mut new_values = serde_json::Map::new();
        for spec in SPECS {
            let (before, after) = ((spec.get)(&old), (spec.get)(new));
            if before != after {
                old_values.insert(spec.name.into(), before.into());
                new_values.insert(spec.name.into(), after.into());
            }
        }
        if new_values.is_empty() {
            return Ok(Outcome::Unchanged);
        }
        let values = (
            booking_policy::id.eq(true),
            booking_policy::max_upcoming.eq(new.max_upcoming),
            booking_policy::max_upcoming_per_topic.eq(new.max_upcoming_per_topic),
            booking_policy::max_per_month.eq(new.max_per_month),
            booking_policy::late_cancel_hours.eq(new.late_cancel_hours),
            booking_policy::noshow_strikes.eq(new.noshow_strikes),
            booking_policy::noshow_window_days.eq(new.noshow_window_days),
            booking_policy::noshow_pause_days.eq(new.noshow_pause_days),
            booking_policy::updated_at.eq(now),
        );
        // The migration inserts the row; should it be gone, saving puts
        // it back.
        diesel::insert_into(booking_policy::table)
            .values(values)
            .on_conflict(booking_policy::id)
            .do_update()
            .set(values)
            .execute(conn)?;
        audit::record(
            conn,
            now,
            Some(actor),
            "policy.update",
            None,
            serde_json::json!({ "old": old_values, "new": new_values }),
        )?;
        Ok(Outcome::Changed)
    })
}

// ================================================================ web

struct Field {
    name: &'static str,
    label: &'static str,
    hint: String,
    value: String,
    attrs: String,
}

#[derive(Template)]
#[template(path = "admin/policy.html")]
struct PolicyPage {
    page: PageCtx,
    notice: Option<&'static str>,
    fields: Vec<Field>,
    errors: FieldErrors,
    updated: Option<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "saved" => Some("The policy is saved. It applies to bookings made from now on."),
        "unchanged" => Some("The policy already had these values; nothing changed."),
        _ => None,
    }
}

async fn policy_page(
    state: &AppState,
    auth: &Auth<AdminRole>,
    input: Option<Input>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<PolicyPage, AppError> {
    let (policy, updated_at) = state.db(load).await?;
    let zone = auth.user.time_zone;
    let fields = SPECS
        .iter()
        .map(|spec| {
            let current = (spec.get)(&policy);
            Field {
                name: spec.name,
                label: spec.label,
                hint: spec.hint.to_owned(),
                value: match &input {
                    Some(input) => value_of(input, spec.name).to_owned(),
                    None => current.to_string(),
                },
                attrs: format!(
                    "min=\"{}\" max=\"{}\" step=\"1\" inputmode=\"numeric\"",
                    spec.min, spec.max
                ),
            }
        })
        .collect();
    let updated = updated_at.map(|at| {
        (
            crate::timefmt::short(at, zone),
            at.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
    });
    Ok(PolicyPage {
        page: auth.page(),
        notice,
        fields,
        errors,
        updated,
    })
}

/// A page as a response that no cache keeps.
fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

/// `GET /admin/policy`
pub async fn show(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    let page = policy_page(
        &state,
        &auth,
        None,
        FieldErrors::default(),
        notice_text(query.notice.as_deref()),
    )
    .await?;
    respond(&page, StatusCode::OK)
}

/// `POST /admin/policy`
pub async fn save_action(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
    form: CsrfForm<Input>,
) -> Result<HttpResponse, AppError> {
    let input = form.form;
    let policy = match check(&input) {
        Ok(policy) => policy,
        Err(problems) => {
            let mut errors = FieldErrors::default();
            for (field, message) in problems {
                errors.add(field, message);
            }
            let page = policy_page(&state, &auth, Some(input), errors, None).await?;
            return respond(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let (actor, now) = (auth.user.id, state.clock.now());
    let outcome = state
        .db(move |conn| save(conn, now, actor, &policy))
        .await?;
    let code = match outcome {
        Outcome::Changed => "saved",
        Outcome::Unchanged => "unchanged",
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/admin/policy?notice={code}")))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Input {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_defaults_pass_and_every_bound_is_enforced() {
        let defaults = Policy::default();
        let all: Input = SPECS
            .iter()
            .map(|s| (s.name.to_owned(), (s.get)(&defaults).to_string()))
            .collect();
        let read = check(&all).unwrap();
        for spec in SPECS {
            assert_eq!((spec.get)(&read), (spec.get)(&defaults), "{}", spec.name);
            for (value, ok) in [
                (spec.min, true),
                (spec.max, true),
                (spec.min - 1, false),
                (spec.max + 1, false),
            ] {
                let mut input = all.clone();
                for pair in &mut input {
                    if pair.0 == spec.name {
                        pair.1 = value.to_string();
                    }
                    // Room for the per-topic limit's whole range.
                    if spec.name == "max_upcoming_per_topic" && pair.0 == "max_upcoming" {
                        pair.1 = SPECS[0].max.to_string();
                    }
                }
                assert_eq!(check(&input).is_ok(), ok, "{} = {value}", spec.name);
            }
        }
        // Per topic above the overall limit: refused at the per-topic field.
        let mut input = all.clone();
        for pair in &mut input {
            match pair.0.as_str() {
                "max_upcoming" => pair.1 = "1".into(),
                "max_upcoming_per_topic" => pair.1 = "5".into(),
                _ => {}
            }
        }
        let problems = check(&input).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "max_upcoming_per_topic");
        assert!(problems[0].1.contains("(1)"), "{}", problems[0].1);
        let problems =
            check(&form(&[("max_upcoming", "two"), ("max_per_month", "4.5")])).unwrap_err();
        assert_eq!(
            problems.len(),
            SPECS.len(),
            "missing fields are problems too"
        );
    }
}
