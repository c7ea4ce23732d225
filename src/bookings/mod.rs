//! The booking lifecycle: booking a slot race-free under the fairness
//! policy, cancel and reschedule (signed in or by manage link), the emails
//! and calendar invitations they cause, and reminders. Depends on
//! `schedule::availability` and `slots` (the re-check), `email`, `audit`.

pub mod facts;
pub mod handlers;
pub mod manage;
pub mod mentor;
pub mod mentor_handlers;
pub mod model;
pub mod notify;
pub mod policy;
pub mod reminders;
pub mod service;
