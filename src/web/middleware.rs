//! Middleware: security headers on every response, the request id header,
//! request metrics, HTML error pages for error responses that carry an
//! `ErrorPage` marker, and the refusal of addresses with a NUL or a
//! control character in them.

use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlerResponse, Next};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use askama::Template;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use super::auth::{self, PreSession};
use super::{PageCtx, forms};
use crate::error::{AppError, ErrorPage};
use crate::state::AppState;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Headers every response carries; HSTS only when served over https.
/// `Cache-Control: no-store` where a handler set none: every page shows
/// live state (a session's status, whether a link still works, who is
/// signed in), and a browser keeps a 410 or 404 without one for as long
/// as it likes. The static files and the calendar feed set their own.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .add((
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ));
    if https {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Echoes the request id (made by the tracing middleware) in
/// `X-Request-Id`, so a user's report can be matched to the log.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// Counts requests and their latency by route pattern (never the raw path,
/// which would explode the label set) and status.
pub async fn track_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        state.metrics.observe(
            &method,
            &route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPageTemplate<'a> {
    page: PageCtx,
    heading: &'a str,
    message: &'a str,
    request_id: Option<String>,
}

/// Fills the body of responses marked with `ErrorPage` with the HTML page.
pub fn render_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>>
where
    B: MessageBody + 'static,
{
    let Some(page) = res.response().extensions().get::<ErrorPage>().copied() else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string);
    let (heading, message, request_id) = match page {
        ErrorPage::NotFound => (
            "Page not found",
            "There is nothing at this address. It may have moved, or the link may be mistyped.",
            None,
        ),
        ErrorPage::BadRequest => (
            "That did not work",
            "The request could not be read. Go back, reload the page and try again.",
            None,
        ),
        ErrorPage::Forbidden => (
            "Not allowed",
            "Your account cannot open this page, or the form expired. Go back, reload the page and try again.",
            None,
        ),
        ErrorPage::CrossSite => (
            "Sent from another site",
            "This form came from another website, or from another address of Office Hours, so nothing was done. Open Office Hours at its own address, reload the page and try again.",
            None,
        ),
        ErrorPage::Unavailable => (
            "Busy right now",
            "Office Hours is very busy at the moment. Please try again in a few seconds.",
            request_id,
        ),
        ErrorPage::Internal => (
            "Something went wrong",
            "We could not finish your request. Nothing you entered was lost on our side; please try again in a moment.",
            request_id,
        ),
    };
    // Only where the database is not the trouble: a 500 or 503 page does
    // not ask it who the viewer is, nor does a missing asset's 404 (only a
    // browser asks for those).
    let look_up = matches!(
        page,
        ErrorPage::NotFound | ErrorPage::BadRequest | ErrorPage::Forbidden | ErrorPage::CrossSite
    ) && !res.request().path().starts_with("/static/");
    Ok(ErrorHandlerResponse::Future(Box::pin(async move {
        let ctx = auth::Viewer::page_for_error(res.request().clone(), look_up).await;
        let body = ErrorPageTemplate {
            page: ctx,
            heading,
            message,
            request_id,
        }
        .render()
        .unwrap_or_else(|_| heading.to_owned());
        let (req, old) = res.into_parts();
        let mut new = HttpResponse::build(old.status());
        for (name, value) in old.headers() {
            new.append_header((name.clone(), value.clone()));
        }
        new.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ));
        let new: HttpResponse<BoxBody> = new.body(body);
        Ok(ServiceResponse::new(req, new).map_into_right_body())
    })))
}

/// The request span: method, route pattern, path and request id — but
/// never a query string, and no path whose route carries a `{token}`, so
/// secrets in links (verification, reset, manage, calendar feed) stay out
/// of the log.
pub struct RedactingRootSpan;

impl RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        let path = match &route {
            Some(pattern) if pattern.contains("{token}") => pattern.clone(),
            Some(_) => request.path().to_owned(),
            None => "(unmatched)".to_owned(),
        };
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route.as_deref().unwrap_or("unmatched"),
            http.path = %path,
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Paths that never need a pre-session (no forms, no pages).
fn is_plumbing(path: &str) -> bool {
    path.starts_with("/static/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path.starts_with("/api/")
}

/// Gives every browser a signed pre-session cookie, so forms shown before
/// sign-in can carry a CSRF token bound to it.
pub async fn pre_session(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    if is_plumbing(req.path()) {
        return next.call(req).await;
    }
    let key = state.secret_key.expose();
    let pre = PreSession::from_cookie(req.request(), key).unwrap_or_default();
    req.extensions_mut().insert(pre.clone());
    // A refused cross-site form (its browser sends no SameSite=Lax cookie)
    // must not replace the visitor's pre-session, which would expire the
    // forms they have open here.
    let refused = is_cross_site(&req);
    let mut res = next.call(req).await?;
    if pre.fresh && !refused {
        let c = auth::cookie(
            auth::PRE_SESSION_COOKIE,
            pre.cookie_value(key),
            state.settings.is_https(),
        );
        if let Ok(value) = HeaderValue::from_str(&c.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(res)
}

/// Refuses an address no page of ours makes, before any handler reads it:
/// a control character in the path is not found (404: no slug, id, token
/// or file name holds one), a NUL in the query cannot be read (400).
/// PostgreSQL refuses a NUL in text, so a handler passing one on answered
/// 500. Form bodies are checked by `auth::CsrfForm`; other control
/// characters in a query are each handler's to drop (the admin searches)
/// or set aside (`auth::safe_next`).
pub async fn refuse_unreadable_input(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let refusal = if forms::path_has_control_chars(req.path()) {
        Some(AppError::NotFound)
    } else if forms::urlencoded_has_nul(req.query_string().as_bytes()) {
        Some(AppError::BadRequest)
    } else {
        None
    };
    match refusal {
        Some(err) => {
            let res = err.error_response();
            Ok(req.into_response(res).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// Refuses state-changing requests that the browser marks as coming from
/// another site (`Sec-Fetch-Site`), or whose `Origin` is not ours. The CSRF
/// token check in `CsrfForm` comes on top of this.
pub async fn refuse_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if is_cross_site(&req) {
        let res = AppError::CrossSite.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// A state-changing request (not the API's) that the browser marks as
/// sent from another site, or whose `Origin` is not ours.
fn is_cross_site(req: &ServiceRequest) -> bool {
    let unsafe_method = !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    if !unsafe_method || req.path().starts_with("/api/") {
        return false;
    }
    let own_origin = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.base_url.origin().ascii_serialization());
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    matches!(fetch_site, Some(site) if site != "same-origin" && site != "none")
        || matches!((origin, &own_origin), (Some(o), Some(own)) if o != own)
}
