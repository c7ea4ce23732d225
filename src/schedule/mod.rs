//! Mentor schedules: profile and booking settings, offered topics, weekly
//! rules, date overrides and time off, stored as the mentor means them
//! (local wall-clock times in their account zone). `load` gathers what the
//! pure slot engine needs, for one mentor or many in a fixed number of
//! queries. Depends on `db`, `slots`, `accounts`; `public` also reads a
//! signed-in visitor's standing from `bookings::facts` (whose booking
//! check reads `public::load`: the two depend on each other there).

pub mod availability;
pub mod editor;
pub mod handlers;
pub mod model;
pub mod public;
pub mod queries;

pub use model::{Profile, TimeOffRow, WeeklyRuleRow};
