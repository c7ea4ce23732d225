//! Office Hours: book free 1-on-1 mentoring sessions. The binary in
//! `main.rs` only parses the command line and calls into these modules.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod bookings;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod email;
pub mod error;
pub mod maintenance;
pub mod metrics;
pub mod routes;
pub mod schedule;
pub mod seed;
pub mod slots;
pub mod startup;
pub mod state;
pub mod timefmt;
pub mod topics;
pub mod web;
