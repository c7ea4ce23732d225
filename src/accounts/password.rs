//! Password rules and hashing: argon2id with the OWASP parameters
//! (m = 19456 KiB, t = 2, p = 1), stored as a PHC string. Length 8–128
//! characters, no composition rules, none of the 10,000 most common
//! breached passwords, and not one character repeated (NIST SP 800-63B
//! names repetitive passwords among those to refuse; "        " passed).

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords-10k.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Use at least {MIN_LEN} characters.")]
    TooShort,
    #[error("Use at most {MAX_LEN} characters.")]
    TooLong,
    #[error("This password is one of the most common ones and easy to guess. Choose another.")]
    Common,
    #[error("One character repeated is easy to guess. Choose another password.")]
    Repeated,
}

/// Checks a new password against the rules; characters, not bytes, count.
pub fn check(password: &str) -> Result<(), PasswordProblem> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordProblem::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    if COMMON.contains(password.to_lowercase().as_str()) {
        return Err(PasswordProblem::Common);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordProblem::Repeated);
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // Fixed, valid parameters: Params::new only fails for out-of-range values.
    #[expect(clippy::expect_used, reason = "constant parameters known to be valid")]
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password. CPU-heavy (~tens of ms): call off the async workers.
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Verifies a password against a stored PHC string. A malformed hash never
/// verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check("short"), Err(PasswordProblem::TooShort));
        assert_eq!(check(&"x".repeat(129)), Err(PasswordProblem::TooLong));
        assert_eq!(check("password1"), Err(PasswordProblem::Common));
        assert_eq!(
            check("PassWord1"),
            Err(PasswordProblem::Common),
            "case-insensitive"
        );
        assert_eq!(check("correct horse battery"), Ok(()));
        // Eight characters, counted as characters, not bytes.
        assert_eq!(check("éàéàéàé"), Err(PasswordProblem::TooShort));
        assert_eq!(check("éàéàéàéà"), Ok(()));
        // One character repeated, spaces too.
        assert_eq!(check("        "), Err(PasswordProblem::Repeated));
        assert_eq!(check("éééééééé"), Err(PasswordProblem::Repeated));
        assert_eq!(check("qqqqqqqqqqqq"), Err(PasswordProblem::Repeated));
    }

    #[test]
    fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("wrong horse battery", &phc));
        assert!(!verify("anything", "not a hash"));
    }
}
