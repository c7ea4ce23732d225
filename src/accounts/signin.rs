//! Checking an email and password, shared by the sign-in page and the API
//! token endpoint: brute-force limits first, then the password (against a
//! dummy hash when there is no account, so both take as long), and the same
//! answer for an unknown email, a wrong password and a disabled account.

use chrono::{DateTime, Utc};

use super::{User, service, throttle};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug)]
pub enum SignIn {
    Ok(User),
    /// Unknown email, wrong password or disabled account: one answer.
    Invalid,
    Blocked {
        until: DateTime<Utc>,
    },
}

pub async fn check(
    state: &AppState,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<SignIn, AppError> {
    let now = state.clock.now();
    let (typed, i) = (email.to_owned(), ip.to_owned());
    let (key, blocked, user) = state
        .db(move |conn| -> Result<_, diesel::result::Error> {
            let key = throttle::email_key(conn, &typed)?;
            let blocked = throttle::blocked_until(conn, &key, &i, now)?;
            let user = match blocked {
                Some(_) => None,
                None => service::find_with_hash(conn, &typed)?,
            };
            Ok((key, blocked, user))
        })
        .await?;
    if let Some(until) = blocked {
        return Ok(SignIn::Blocked { until });
    }
    let phc = user.as_ref().and_then(|(_, hash)| hash.clone());
    let matches = state.hasher.verify(password.to_owned(), phc).await?;
    let now = state.clock.now();
    let (k, i) = (key, ip.to_owned());
    match user {
        Some((user, _)) if matches && user.disabled_at.is_none() => {
            state
                .db(move |conn| throttle::record_success(conn, &k, &i, now))
                .await?;
            Ok(SignIn::Ok(user))
        }
        _ => {
            state
                .db(move |conn| throttle::record_failure(conn, &k, &i, now))
                .await?;
            Ok(SignIn::Invalid)
        }
    }
}
