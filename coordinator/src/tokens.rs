//! Task tokens: `<shard>.<execution-id>.<mac>.<serial>`.
//!
//! The engine mints every token as `token_prefix + serial`; the prefix carries the shard
//! (so a completion routes without a lookup), a random per-execution id, and an HMAC of
//! both, so a token cannot be forged for an execution the holder never saw. Whether the
//! token is still *pending* is a separate check against Redis.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the HMAC kept in a token (128 bits is plenty against online guessing).
const MAC_BYTES: usize = 16;

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not shaped like a Stepline token.
    #[error("the task token is malformed")]
    Malformed,
    /// Shaped right but not minted by this cluster (wrong key or tampered).
    #[error("the task token was not issued by this Stepline cluster")]
    Forged,
    /// Names a shard this cluster does not have.
    #[error("the task token names shard {0}, which this cluster does not have")]
    UnknownShard(u32),
}

/// The secret that signs task tokens.
#[derive(Clone)]
pub struct TokenKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key from secret bytes.
    pub fn new(key: impl Into<Vec<u8>>) -> TokenKey {
        TokenKey { key: key.into() }
    }

    /// A fresh random key, hex encoded (what gets stored).
    pub fn generate_hex() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        hex(&bytes)
    }

    fn mac(&self, shard: u32, eid: &str) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(format!("{shard}.{eid}").as_bytes());
        mac
    }

    /// A new token prefix for an execution on `shard`.
    pub fn mint_prefix(&self, shard: u32) -> String {
        let mut id = [0u8; 8];
        rand::rng().fill_bytes(&mut id);
        let eid = hex(&id);
        let tag = self.mac(shard, &eid).finalize().into_bytes();
        format!("{shard}.{eid}.{}.", hex(&tag[..MAC_BYTES]))
    }

    /// Checks a token's shape and signature, returning its shard.
    pub fn verify(&self, token: &str, shards: u32) -> Result<u32, TokenError> {
        let mut parts = token.split('.');
        let (Some(shard), Some(eid), Some(tag), Some(serial), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let shard: u32 = shard.parse().map_err(|_| TokenError::Malformed)?;
        if eid.len() != 16 || !eid.bytes().all(|b| b.is_ascii_hexdigit()) || serial.parse::<u64>().is_err() {
            return Err(TokenError::Malformed);
        }
        let tag = unhex(tag).ok_or(TokenError::Malformed)?;
        if tag.len() != MAC_BYTES {
            return Err(TokenError::Malformed);
        }
        // Constant-time comparison of the truncated tag.
        self.mac(shard, eid).verify_truncated_left(&tag).map_err(|_| TokenError::Forged)?;
        if shard >= shards {
            return Err(TokenError::UnknownShard(shard));
        }
        Ok(shard)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string, or None if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_route() {
        let key = TokenKey::new(b"secret".to_vec());
        let prefix = key.mint_prefix(3);
        assert_eq!(key.verify(&format!("{prefix}17"), 16), Ok(3));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let key = TokenKey::new(b"secret".to_vec());
        let other = TokenKey::new(b"other".to_vec());
        let token = format!("{}1", key.mint_prefix(2));
        assert_eq!(other.verify(&token, 16), Err(TokenError::Forged));
        let swapped = token.replacen('2', "5", 1);
        assert_eq!(key.verify(&swapped, 16), Err(TokenError::Forged));
        assert_eq!(key.verify("garbage", 16), Err(TokenError::Malformed));
        assert_eq!(key.verify("", 16), Err(TokenError::Malformed));
        assert_eq!(key.verify(&token, 2), Err(TokenError::UnknownShard(2)));
    }
}
