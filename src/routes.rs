//! The one table of URL → handler. Paths follow the URL map in PRODUCT.md.

use actix_web::web;

use crate::web::{assets, pages};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route("/healthz", web::get().to(pages::healthz))
        .route("/readyz", web::get().to(pages::readyz))
        .route("/metrics", web::get().to(pages::metrics))
        .route("/static/{file}", web::get().to(assets::serve));
}
