//! The home page and the operations endpoints (`/healthz`, `/readyz`,
//! `/metrics`).

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use diesel::RunQueryDsl;

use super::auth::Viewer;
use super::{PageCtx, render};
use crate::email::outbox;
use crate::error::AppError;
use crate::state::AppState;
use crate::topics::{self, Topic};

#[derive(Template)]
#[template(path = "home/index.html")]
struct HomePage {
    page: PageCtx,
    /// Each active topic with how many mentors offer it.
    topics: Vec<(Topic, i64)>,
}

pub async fn home(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, AppError> {
    let topics = state.db(topics::list_for_home).await?;
    render(&HomePage {
        page: viewer.page(),
        topics,
    })
}

/// Any unknown path.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// The process is up and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body("ok\n")
}

/// How long readiness waits for a database connection.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Ready to serve traffic: the database answers a query.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ok = web::block(move || {
        pool.get_timeout(READY_TIMEOUT)
            .ok()
            .map(|mut conn| diesel::sql_query("SELECT 1").execute(&mut **conn).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    let mut res = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(if ok {
            "ready\n"
        } else {
            "database unavailable\n"
        })
}

/// Prometheus text format. The outbox gauge is refreshed from the database
/// on each scrape; when the database is down the other metrics still show.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let pool = state.pool.clone();
    let counts = web::block(move || {
        pool.get_timeout(READY_TIMEOUT)
            .ok()
            .and_then(|mut conn| outbox::counts_by_state(&mut conn).ok())
    })
    .await?;
    if let Some(counts) = counts {
        for (st, n) in counts {
            state
                .metrics
                .outbox
                .with_label_values(&[st.as_str()])
                .set(n);
        }
    }
    let body = state.metrics.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body))
}
