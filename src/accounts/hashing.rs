//! Password hashing off the async workers, at most
//! `OFFICEHOURS_HASH_CONCURRENCY` at once. A request that cannot get a slot
//! within 2 s is answered 503 with `Retry-After` instead of queueing
//! memory-hungry argon2 runs without bound.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::password;
use crate::error::AppError;

pub const WAIT_FOR_SLOT: Duration = Duration::from_secs(2);

/// A hash that verifies no password, checked when the account does not
/// exist so that answer takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b2ZmaWNlaG91cnNkdW1teQ$lQ0rJYd1sCK3yKp5pGvKpVvnq4Nn8Yk7tJYtR0B9m8c";

#[derive(Clone)]
pub struct Hasher {
    slots: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Runs CPU-heavy work under the cap (hashing, or anything as costly).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = tokio::time::timeout(WAIT_FOR_SLOT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Unavailable {
                retry_after_secs: 2,
            })?
            .map_err(AppError::internal)?;
        Ok(actix_web::web::block(move || {
            let _slot = permit;
            f()
        })
        .await?)
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move || password::hash(&password))
            .await?
            .map_err(AppError::internal)
    }

    /// Verifies against `phc`, or against a dummy hash when there is no
    /// account, so both take the same time.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, AppError> {
        self.run(move || match phc {
            Some(phc) => password::verify(&password, &phc),
            None => {
                let _ = password::verify(&password, DUMMY_HASH);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash_with_our_parameters() {
        // If it did not parse, verification would return at once and the
        // timing would tell unknown emails apart.
        let parsed = argon2::password_hash::PasswordHash::new(super::DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(super::DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!super::password::verify("", super::DUMMY_HASH));
    }
}

#[cfg(test)]
mod cap_tests {
    use super::*;

    #[tokio::test]
    async fn a_full_cap_answers_unavailable_after_two_seconds_instead_of_queueing() {
        let hasher = Hasher::new(1);
        let busy = hasher.clone();
        let holder = tokio::spawn(async move {
            busy.run(|| std::thread::sleep(Duration::from_millis(2600)))
                .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = hasher.verify("anything".into(), None).await;
        assert!(matches!(
            refused,
            Err(AppError::Unavailable {
                retry_after_secs: 2
            })
        ));
        assert!(holder.await.unwrap().is_ok());
        // With the slot free again, work goes through.
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }
}
