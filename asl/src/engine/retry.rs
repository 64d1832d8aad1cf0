//! Retry delays: IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds, with FULL jitter.

use crate::definition::Retrier;

/// Upper bound on one retry delay, as AWS caps it (one year).
const MAX_DELAY_SECONDS: f64 = 31_622_400.0;

/// Delay in milliseconds before retry number `count` (0-based), given a uniform `random` in `[0, 1)`.
pub fn delay_millis(r: &Retrier, count: u32, random: f64) -> u64 {
    let mut delay = r.interval_seconds * r.backoff_rate.powi(count.min(1000) as i32);
    if let Some(max) = r.max_delay_seconds {
        delay = delay.min(max);
    }
    delay = delay.min(MAX_DELAY_SECONDS);
    if r.full_jitter {
        delay *= random;
    }
    (delay * 1000.0).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: f64, rate: f64, max: Option<f64>, jitter: bool) -> Retrier {
        Retrier {
            error_equals: vec!["States.ALL".into()],
            interval_seconds: interval,
            max_attempts: 3,
            backoff_rate: rate,
            max_delay_seconds: max,
            full_jitter: jitter,
        }
    }

    #[test]
    fn backoff_grows_geometrically() {
        let r = retrier(1.0, 2.0, None, false);
        assert_eq!(delay_millis(&r, 0, 0.5), 1000);
        assert_eq!(delay_millis(&r, 1, 0.5), 2000);
        assert_eq!(delay_millis(&r, 3, 0.5), 8000);
    }

    #[test]
    fn max_delay_caps_the_backoff() {
        let r = retrier(2.0, 3.0, Some(5.0), false);
        assert_eq!(delay_millis(&r, 4, 0.0), 5000);
    }

    #[test]
    fn full_jitter_scales_by_random() {
        let r = retrier(4.0, 1.0, None, true);
        assert_eq!(delay_millis(&r, 0, 0.25), 1000);
    }
}
