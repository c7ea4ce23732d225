//! Secrets handed to users (session cookies, email links, API tokens):
//! 256 random bits, URL-safe, and stored only as their SHA-256 hash; or,
//! for links that must be made again (manage links, the calendar feed),
//! derived from two ids under the server key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh secret: 32 random bytes as 43 URL-safe characters.
pub fn generate() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The secret for `purpose` of the ids `a` and `b` under `key` (an HMAC:
/// 43 URL-safe characters), the same every time it is made again.
pub fn derive(key: &[u8], purpose: &str, a: uuid::Uuid, b: uuid::Uuid) -> String {
    let mut ids = [0_u8; 32];
    ids[..16].copy_from_slice(a.as_bytes());
    ids[16..].copy_from_slice(b.as_bytes());
    URL_SAFE_NO_PAD.encode(crate::web::auth::mac(key, purpose, &ids))
}

/// What the database keeps of a secret.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Secrets are at most this long; longer input is not looked up at all.
pub const MAX_LEN: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
