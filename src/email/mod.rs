//! Email: the transactional outbox, message rendering, the SMTP transport
//! and the worker that delivers. Callers `enqueue` inside their own
//! transaction; only the worker talks to SMTP. Depends on `db`, `config`,
//! `clock`.

pub mod booking;
pub mod ics;
pub mod outbox;
pub mod render;
pub mod transport;
pub mod worker;

pub use outbox::{Attachment, NewEmail, OutboxError, OutboxState, enqueue};
pub use render::{EmailContent, Rendered};
