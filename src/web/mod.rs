//! Web plumbing shared by every page: the page context for `base.html`,
//! rendering, security headers, request ids, metrics and error pages.
//! Depends on `error`, `state`, `accounts::model`.

pub mod assets;
pub mod auth;
pub mod forms;
pub mod middleware;
pub mod pages;

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;

use crate::accounts::Role;
use crate::error::AppError;

/// The signed-in user as the layout shows them.
#[derive(Debug, Clone)]
pub struct NavUser {
    pub display_name: String,
    pub role: Role,
    pub verified: bool,
}

/// What `base.html` needs on every page.
#[derive(Debug, Clone, Default)]
pub struct PageCtx {
    pub user: Option<NavUser>,
    pub csrf_token: String,
    /// The public page a signed-out visitor is on (see
    /// `auth::Viewer::return_to`), for the header's links to lead back.
    pub return_to: Option<String>,
}

impl PageCtx {
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// With the header's links leading on to `next` (a sign-in or sign-up
    /// form sent back with errors: its URL no longer carries it).
    pub fn returning_to(mut self, next: &str) -> Self {
        if self.user.is_none() && next != "/" {
            self.return_to = Some(next.to_owned());
        }
        self
    }

    /// The header's "Sign in" link.
    pub fn login_href(&self) -> String {
        auth::with_next("/login", self.return_to.as_deref().unwrap_or("/"))
    }

    /// The header's "Create account" link.
    pub fn register_href(&self) -> String {
        auth::with_next("/register", self.return_to.as_deref().unwrap_or("/"))
    }
}

/// Renders a page template into a 200 HTML response.
pub fn render(template: &impl Template) -> Result<HttpResponse, AppError> {
    let body = template.render()?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ))
        .body(body))
}
