//! How the SDK treats gRPC status codes, and a retry helper with backoff.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};

use crate::config::Backoff;

/// Codes that mean "the coordinator is unreachable, overloaded or restarting": try again later.
///
/// A completion retried after it actually landed is rejected as a stale token, which is
/// harmless, so retrying these is always safe.
pub fn is_retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::Unknown
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Cancelled
    )
}

/// Codes that, answered to a call about one task token, mean the task is gone for good
/// (stale token, execution finished, task timed out): stop working on it.
pub fn is_token_gone(code: Code) -> bool {
    matches!(code, Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition)
}

/// Calls `f` until it succeeds, fails with a non-retryable status, or `give_up` fires.
pub(crate) async fn with_retry<T, F, Fut>(
    what: &str,
    backoff: Backoff,
    give_up: &CancellationToken,
    mut f: F,
) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let mut attempt = 0u32;
    loop {
        match f().await {
            Ok(resp) => {
                if attempt > 0 {
                    tracing::info!(call = what, attempts = attempt + 1, "coordinator call succeeded after retries");
                }
                return Ok(resp.into_inner());
            }
            Err(status) if is_retryable(status.code()) && !give_up.is_cancelled() => {
                let delay = backoff.delay(attempt);
                attempt = attempt.saturating_add(1);
                tracing::warn!(
                    call = what,
                    code = ?status.code(),
                    detail = status.message(),
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    "coordinator call failed; retrying"
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = give_up.cancelled() => return Err(status),
                }
            }
            Err(status) => return Err(status),
        }
    }
}

/// The first characters of a token, enough to tell tasks apart in logs without
/// printing a long credential-like string.
pub(crate) fn short_token(token: &str) -> &str {
    let end = token.char_indices().nth(16).map(|(i, _)| i).unwrap_or(token.len());
    &token[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn fast() -> Backoff {
        Backoff { initial: Duration::from_millis(1), max: Duration::from_millis(2) }
    }

    #[tokio::test]
    async fn retries_transient_errors_then_succeeds() {
        let calls = AtomicU32::new(0);
        let r = with_retry("t", fast(), &CancellationToken::new(), || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 3 { Err(Status::unavailable("down")) } else { Ok(tonic::Response::new(n)) } }
        })
        .await;
        assert_eq!(r.ok(), Some(3));
    }

    #[tokio::test]
    async fn does_not_retry_permanent_errors() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retry("t", fast(), &CancellationToken::new(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Status::invalid_argument("bad token")) }
        })
        .await;
        assert_eq!(r.map_err(|s| s.code()), Err(Code::InvalidArgument));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_when_told() {
        let give_up = CancellationToken::new();
        give_up.cancel();
        let r: Result<(), _> = with_retry("t", fast(), &give_up, || async { Err(Status::unavailable("down")) }).await;
        assert_eq!(r.map_err(|s| s.code()), Err(Code::Unavailable));
    }

    #[test]
    fn classification() {
        assert!(is_retryable(Code::Unavailable));
        assert!(!is_retryable(Code::InvalidArgument));
        assert!(is_token_gone(Code::NotFound));
        assert!(!is_token_gone(Code::Unavailable));
        assert_eq!(short_token("abc"), "abc");
        assert_eq!(short_token("0123456789abcdefXYZ"), "0123456789abcdef");
    }
}
