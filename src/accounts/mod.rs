//! Accounts: users, roles, passwords. Later: sessions, sign-up, sign-in,
//! verification, reset and API tokens. Depends on `db`, `clock`, `audit`.

pub mod model;
pub mod password;
pub mod service;

pub use model::{Role, User};
