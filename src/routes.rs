//! The one table of URL → handler. Paths follow the URL map in PRODUCT.md.

use actix_web::{Route, guard, web};

use crate::accounts::account;
use crate::accounts::handlers as accounts;
use crate::admin::{
    self, bookings as admin_bookings, policy as admin_policy, topics as admin_topics,
    users as admin_users,
};
use crate::admin::{audit_log as admin_audit, emails as admin_emails};
use crate::bookings::handlers as bookings;
use crate::bookings::mentor_handlers as mentor_workspace;
use crate::schedule::handlers as schedule;
use crate::schedule::public;
use crate::web::{assets, pages};

/// A page: GET, and HEAD with the same headers and no body (actix leaves
/// the body out), which link checkers and some calendar apps send before
/// they fetch or subscribe.
fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", get().to(pages::home))
        .route("/healthz", get().to(pages::healthz))
        .route("/readyz", get().to(pages::readyz))
        .route("/metrics", get().to(pages::metrics))
        .route("/static/{file}", get().to(assets::serve))
        .route("/mentors/{id}", get().to(public::mentor_page))
        .route("/topics/{slug}", get().to(public::topic_page))
        .route("/book", get().to(bookings::book_form))
        .route("/bookings", web::post().to(bookings::create))
        // GET on a form's action (a refused form's address, opened again):
        // back to the form's page.
        .route("/bookings", get().to(bookings::form_action_page))
        .route(
            "/bookings/{id}/cancel",
            get().to(bookings::form_action_page),
        )
        .route(
            "/manage/{token}/cancel",
            get().to(bookings::form_action_page),
        )
        .route(
            "/admin/bookings/{id}/cancel",
            get().to(bookings::form_action_page),
        )
        .route(
            "/mentor/sessions/{id}/outcome",
            get().to(bookings::form_action_page),
        )
        // `/bookings/{id}.ics` is the same route: the handler strips `.ics`.
        .route("/bookings/{id}", get().to(bookings::show))
        .route("/bookings/{id}/cancel", web::post().to(bookings::cancel))
        .route(
            "/bookings/{id}/reschedule",
            get().to(bookings::reschedule_form),
        )
        .route(
            "/bookings/{id}/reschedule",
            web::post().to(bookings::reschedule),
        )
        .route("/manage/{token}", get().to(bookings::manage_show))
        .route(
            "/manage/{token}/cancel",
            web::post().to(bookings::manage_cancel),
        )
        .route(
            "/manage/{token}/reschedule",
            get().to(bookings::manage_reschedule_form),
        )
        .route(
            "/manage/{token}/reschedule",
            web::post().to(bookings::manage_reschedule),
        )
        .route("/me/sessions", get().to(bookings::my_sessions))
        .route("/login", get().to(accounts::login_form))
        .route("/login", web::post().to(accounts::login))
        .route("/logout", web::post().to(accounts::logout))
        .route("/register", get().to(accounts::register_form))
        .route("/register", web::post().to(accounts::register))
        .route("/register/sent", get().to(accounts::register_sent))
        .route("/verify-email", get().to(accounts::verify_form))
        .route("/verify-email", web::post().to(accounts::verify))
        .route(
            "/verify-email/resend",
            web::post().to(accounts::resend_verification),
        )
        .route("/forgot-password", get().to(accounts::forgot_form))
        .route("/forgot-password", web::post().to(accounts::forgot))
        .route("/forgot-password/sent", get().to(accounts::forgot_sent))
        .route("/reset-password", get().to(accounts::reset_form))
        .route("/reset-password", web::post().to(accounts::reset))
        .route("/account", get().to(account::show))
        .route("/account/profile", web::post().to(account::update_profile))
        .route("/account/email", web::post().to(account::change_email))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route(
            "/account/sessions/{id}/revoke",
            web::post().to(account::revoke_session),
        )
        .route("/account/tokens", web::post().to(account::create_token))
        .route(
            "/account/tokens/{id}/revoke",
            web::post().to(account::revoke_token),
        )
        .route("/account/export", web::post().to(account::export_data))
        .route("/account/delete", web::post().to(account::delete_account));
    // Admin pages; each handler checks the role with `Auth<AdminRole>`.
    cfg.route("/admin", get().to(admin::index))
        .route("/admin/users", get().to(admin_users::list_page))
        .route(
            "/admin/users/{id}/role",
            web::post().to(admin_users::change_role_action),
        )
        .route(
            "/admin/users/{id}/disable",
            web::post().to(admin_users::disable_action),
        )
        .route(
            "/admin/users/{id}/enable",
            web::post().to(admin_users::enable_action),
        )
        .route("/admin/topics", get().to(admin_topics::list_page))
        .route("/admin/topics", web::post().to(admin_topics::create_action))
        .route("/admin/topics/{id}", get().to(admin_topics::edit_form))
        .route(
            "/admin/topics/{id}",
            web::post().to(admin_topics::update_action),
        )
        .route(
            "/admin/topics/{id}/deactivate",
            web::post().to(admin_topics::deactivate_action),
        )
        .route(
            "/admin/topics/{id}/activate",
            web::post().to(admin_topics::activate_action),
        )
        .route("/admin/policy", get().to(admin_policy::show))
        .route("/admin/policy", web::post().to(admin_policy::save_action))
        // `.csv` first: it must not be taken for a booking id. GET only: a
        // HEAD would still run the whole streamed export.
        .route(
            "/admin/bookings.csv",
            web::get().to(admin_bookings::export_csv),
        )
        .route("/admin/bookings", get().to(admin_bookings::list_page))
        .route(
            "/admin/bookings/{id}/cancel",
            web::post().to(admin_bookings::cancel_action),
        )
        .route(
            "/admin/bookings/{id}/reassign",
            get().to(admin_bookings::reassign_form),
        )
        .route(
            "/admin/bookings/{id}/reassign",
            web::post().to(admin_bookings::reassign_action),
        )
        .route("/admin/emails", get().to(admin_emails::list_page))
        .route("/admin/emails/{id}", get().to(admin_emails::show_page))
        .route(
            "/admin/emails/{id}/retry",
            web::post().to(admin_emails::retry_action),
        )
        .route("/admin/audit", get().to(admin_audit::list_page));
    // Mentor pages; each handler checks the role with `Auth<MentorRole>`.
    cfg.route("/mentor", get().to(mentor_workspace::dashboard))
        .route(
            "/mentor/sessions/{id}/outcome",
            web::post().to(mentor_workspace::mark_outcome),
        )
        .route(
            "/mentor/feed",
            web::post().to(mentor_workspace::regenerate_feed),
        )
        // `/mentor/feed/{token}.ics` (no sign-in): the handler strips `.ics`.
        .route("/mentor/feed/{token}", get().to(mentor_workspace::feed))
        .route("/mentor/settings", get().to(schedule::settings))
        .route("/mentor/settings", web::post().to(schedule::save_settings))
        .route("/mentor/availability", get().to(schedule::availability))
        .route(
            "/mentor/availability/zone",
            web::post().to(schedule::set_zone),
        )
        .route(
            "/mentor/availability/weekly",
            web::post().to(schedule::add_weekly),
        )
        .route(
            "/mentor/availability/weekly/{id}/delete",
            web::post().to(schedule::delete_weekly),
        )
        .route(
            "/mentor/availability/overrides/window",
            web::post().to(schedule::add_override_window),
        )
        .route(
            "/mentor/availability/overrides/blocked",
            web::post().to(schedule::block_date),
        )
        .route(
            "/mentor/availability/overrides/{id}/delete",
            web::post().to(schedule::delete_override),
        )
        .route(
            "/mentor/availability/override-windows/{id}/delete",
            web::post().to(schedule::delete_override_window),
        )
        .route(
            "/mentor/availability/time-off",
            web::post().to(schedule::add_time_off),
        )
        .route(
            "/mentor/availability/time-off/{id}/delete",
            web::post().to(schedule::delete_time_off),
        );
}
