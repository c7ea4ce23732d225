//! Admin pages: the landing page with the programme's statistics
//! (`stats`, drawn by `charts`), user management, topics and the fairness
//! policy. Every handler takes `Auth<AdminRole>`, the one place the role
//! check lives. Depends on `accounts`, `topics`, `bookings::model`,
//! `audit`, `web`, `state`, `error`.

pub mod audit_log;
pub mod bookings;
pub mod charts;
pub mod emails;
pub mod keyset;
pub mod policy;
pub mod stats;
pub mod topics;
pub mod users;

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::{AdminRole, Auth};
use crate::web::{PageCtx, render};

#[derive(Template)]
#[template(path = "admin/index.html")]
struct IndexPage {
    page: PageCtx,
    stats: stats::View,
}

/// `GET /admin`: where the nav's Admin link goes; the statistics (weeks in
/// the admin's zone) above the cards.
pub async fn index(
    state: web::Data<AppState>,
    auth: Auth<AdminRole>,
) -> Result<HttpResponse, AppError> {
    let (zone, now) = (auth.user.time_zone, state.clock.now());
    let numbers = match state.admin_stats.get(zone, now, state.settings.stats_cache) {
        Some(numbers) => numbers,
        None => {
            let numbers = state.db(move |conn| stats::load(conn, zone, now)).await?;
            state.admin_stats.put(zone, now, numbers.clone());
            numbers
        }
    };
    render(&IndexPage {
        page: auth.page(),
        stats: stats::view(&numbers),
    })
}
