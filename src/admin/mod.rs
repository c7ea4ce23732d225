//! Admin pages: the landing page, user management, topics and the fairness
//! policy. Every handler takes `Auth<AdminRole>`, the one place the role
//! check lives. Depends on `accounts`, `topics`, `bookings::model`,
//! `audit`, `web`, `state`, `error`.

pub mod bookings;
pub mod policy;
pub mod topics;
pub mod users;

use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
use crate::web::auth::{AdminRole, Auth};
use crate::web::{PageCtx, render};

#[derive(Template)]
#[template(path = "admin/index.html")]
struct IndexPage {
    page: PageCtx,
}

/// `GET /admin`: where the nav's Admin link goes.
pub async fn index(auth: Auth<AdminRole>) -> Result<HttpResponse, AppError> {
    render(&IndexPage { page: auth.page() })
}
