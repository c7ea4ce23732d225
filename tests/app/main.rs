//! The one integration-test crate: every feature gets a module here, so the
//! whole stack links once. Each test starts the real application (the same
//! start-up as `serve`) on port 0 against its own database cloned from a
//! migrated template, with a settable clock and, where it needs one, a real
//! SMTP server on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly where it cannot go on"
)]

mod account;
mod account_data;
mod accounts;
mod admin_bookings;
mod admin_emails_audit;
mod admin_reassign;
mod admin_stats;
mod admin_users;
mod admin_workspace;
mod authz;
mod booking_emails;
mod booking_fixture;
mod booking_guard;
mod booking_races;
mod bookings;
mod browser;
mod cli;
mod harness;
mod input;
mod mail;
mod mentor_workspace;
mod migrations;
mod mixed_changes;
mod outbox;
mod pool;
mod public;
mod schedule;
mod web;
