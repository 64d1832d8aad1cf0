//! Request authentication. By default any request is accepted, signed or not (boto3 and
//! the AWS CLI always sign; local use needs no real credentials). With
//! `STEPLINE_AUTH=sigv4`, requests must carry a valid AWS Signature Version 4 made with
//! the configured key pair: `STEPLINE_AUTH_ACCESS_KEY_ID` / `STEPLINE_AUTH_SECRET_ACCESS_KEY`
//! (falling back to `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
//!
//! Verification recomputes the signature over the signed headers and the body hash with
//! HMAC-SHA256 (the canonical request of a JSON 1.0 call is always `POST /` without a
//! query string) and compares in constant time.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use chrono::{NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::tokens::hex;

type HmacSha256 = Hmac<Sha256>;

/// AWS refuses signatures more than 15 minutes off the server clock.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// The key pair requests must be signed with, when verification is on.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: String,
}

/// Whether requests must be signed (`STEPLINE_AUTH=sigv4`).
pub fn required() -> bool {
    configured().is_some()
}

/// The configured credentials, read once from the environment; None means accept all.
fn configured() -> Option<&'static Credentials> {
    static CREDS: OnceLock<Option<Credentials>> = OnceLock::new();
    CREDS
        .get_or_init(|| {
            let mode = std::env::var("STEPLINE_AUTH").unwrap_or_default();
            if !mode.eq_ignore_ascii_case("sigv4") {
                return None;
            }
            let var = |a: &str, b: &str| std::env::var(a).or_else(|_| std::env::var(b)).ok();
            let id = var("STEPLINE_AUTH_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID");
            let secret = var("STEPLINE_AUTH_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY");
            match (id, secret) {
                (Some(access_key_id), Some(secret)) => Some(Credentials { access_key_id, secret }),
                _ => {
                    // Refusing everything beats silently accepting everything.
                    tracing::error!("STEPLINE_AUTH=sigv4 without credentials: every API request will be refused");
                    Some(Credentials { access_key_id: String::new(), secret: String::new() })
                }
            }
        })
        .as_ref()
}

/// Checks the request's signature when verification is configured.
pub fn check(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    match configured() {
        None => Ok(()),
        Some(c) => verify(c, headers, body, Utc::now().timestamp()),
    }
}

fn incomplete(message: &str) -> ApiError {
    ApiError::new("IncompleteSignatureException", message)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a SigV4 `Authorization` header against `creds` at time `now` (epoch s).
pub fn verify(creds: &Credentials, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), ApiError> {
    let auth = header(headers, "authorization")
        .ok_or_else(|| ApiError::new("MissingAuthenticationTokenException", "Missing Authentication Token"))?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("Only AWS4-HMAC-SHA256 signatures are supported"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| incomplete("Malformed Authorization header"))?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete("Authorization header requires Credential, SignedHeaders and Signature"));
    };
    let mut scope = credential.splitn(2, '/');
    let key_id = scope.next().unwrap_or("");
    let scope = scope.next().ok_or_else(|| incomplete("Malformed Credential"))?;
    let scope_parts: Vec<&str> = scope.split('/').collect();
    if scope_parts.len() != 4 || scope_parts[3] != "aws4_request" {
        return Err(incomplete("Malformed credential scope"));
    }
    if creds.access_key_id.is_empty() || key_id != creds.access_key_id {
        return Err(ApiError::new(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    let amz_date = header(headers, "x-amz-date").ok_or_else(|| incomplete("Missing X-Amz-Date"))?;
    let signed_at = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| incomplete("Malformed X-Amz-Date"))?
        .and_utc()
        .timestamp();
    if (now - signed_at).abs() > MAX_SKEW_SECS {
        return Err(ApiError::new("InvalidSignatureException", "Signature expired: the request time is too skewed"));
    }
    if !amz_date.starts_with(scope_parts[0]) {
        return Err(incomplete("The credential scope date does not match X-Amz-Date"));
    }
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(incomplete("A signed header is missing from the request"));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = hex(&Sha256::digest(body));
    let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{payload_hash}");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut key = format!("AWS4{}", creds.secret).into_bytes();
    for part in &scope_parts {
        key = hmac(&key, part.as_bytes());
    }
    let expected = crate::tokens::unhex(signature).unwrap_or_default();
    let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| incomplete("Bad signing key"))?;
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&expected).map_err(|_| {
        ApiError::new(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
