//! `AppError`: the single HTTP-facing error. It maps each domain failure to
//! a status explicitly; anything unexpected becomes an opaque 500 page with
//! the request id, while the full cause chain goes to the log. Internal
//! error text never reaches a user.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// Which HTML error page the error-page middleware should render into an
/// otherwise empty response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    NotFound,
    BadRequest,
    Forbidden,
    /// A form sent from another site, or another address of this one.
    CrossSite,
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("bad request")]
    BadRequest,
    /// The page needs a signed-in user: go to the sign-in page, then back.
    #[error("sign-in required")]
    SignInRequired { next: String },
    #[error("forbidden")]
    Forbidden,
    /// A state-changing request another site (or another address of ours,
    /// `localhost` for `127.0.0.1`) sent: refused before anything reads it.
    #[error("cross-site request")]
    CrossSite,
    /// The service is overloaded or a dependency is down; try again later.
    #[error("service unavailable")]
    Unavailable { retry_after_secs: u64 },
    #[error("internal error: {0}")]
    Internal(#[from] Internal),
}

/// An unexpected failure, kept whole for the log.
pub struct Internal(Box<dyn std::error::Error + Send + Sync + 'static>);

impl fmt::Debug for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain, one cause after another.
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Internal {}

impl AppError {
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Internal(Internal(err.into()))
    }
}

macro_rules! internal_from {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for AppError {
            fn from(err: $t) -> Self {
                Self::internal(err)
            }
        })*
    };
}

internal_from!(
    diesel::result::Error,
    diesel::r2d2::PoolError,
    askama::Error,
    actix_web::error::BlockingError,
);

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::SignInRequired { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::CrossSite => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignInRequired { next } = self {
            let target = format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        let page = match self {
            Self::NotFound => ErrorPage::NotFound,
            Self::BadRequest => ErrorPage::BadRequest,
            Self::SignInRequired { .. } => ErrorPage::NotFound,
            Self::Forbidden => ErrorPage::Forbidden,
            Self::CrossSite => ErrorPage::CrossSite,
            Self::Unavailable { .. } => ErrorPage::Unavailable,
            Self::Internal(cause) => {
                // Logged inside the request's span, so the line carries the
                // request id shown on the page.
                tracing::error!(error = %cause, "request failed");
                ErrorPage::Internal
            }
        };
        let mut response = HttpResponse::new(self.status_code());
        if let Self::Unavailable { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response.extensions_mut().insert(page);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_headers() {
        let res = AppError::Unavailable {
            retry_after_secs: 2,
        }
        .error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "2");
        let res = AppError::SignInRequired {
            next: "/account?tab=a&b=c".into(),
        }
        .error_response();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            res.headers().get(header::LOCATION).unwrap(),
            "/login?next=%2Faccount%3Ftab%3Da%26b%3Dc"
        );
        assert_eq!(
            AppError::Forbidden.error_response().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            AppError::NotFound.error_response().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            AppError::internal("boom").error_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
