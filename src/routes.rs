//! The one table of URL → handler. Paths follow the URL map in PRODUCT.md.

use actix_web::web;

use crate::accounts::handlers as accounts;
use crate::web::{assets, pages};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route("/healthz", web::get().to(pages::healthz))
        .route("/readyz", web::get().to(pages::readyz))
        .route("/metrics", web::get().to(pages::metrics))
        .route("/static/{file}", web::get().to(assets::serve))
        .route("/login", web::get().to(accounts::login_form))
        .route("/login", web::post().to(accounts::login))
        .route("/logout", web::post().to(accounts::logout))
        .route("/register", web::get().to(accounts::register_form))
        .route("/register", web::post().to(accounts::register))
        .route("/register/sent", web::get().to(accounts::register_sent))
        .route("/verify-email", web::get().to(accounts::verify_form))
        .route("/verify-email", web::post().to(accounts::verify))
        .route(
            "/verify-email/resend",
            web::post().to(accounts::resend_verification),
        )
        .route("/forgot-password", web::get().to(accounts::forgot_form))
        .route("/forgot-password", web::post().to(accounts::forgot))
        .route(
            "/forgot-password/sent",
            web::get().to(accounts::forgot_sent),
        )
        .route("/reset-password", web::get().to(accounts::reset_form))
        .route("/reset-password", web::post().to(accounts::reset));
}
