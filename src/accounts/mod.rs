//! Accounts: users, roles, passwords. Later: sessions, sign-up, sign-in,
//! verification, reset and API tokens. Depends on `db`, `clock`, `audit`.

pub mod account;
pub mod api_tokens;
pub mod deletion;
pub mod email_tokens;
pub mod handlers;
pub mod hashing;
pub mod model;
pub mod password;
pub mod service;
pub mod session;
pub mod signin;
pub mod throttle;
pub mod tokens;

pub use model::{Role, User};
