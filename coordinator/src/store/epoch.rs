//! How an execution's start and stop times are stored: epoch milliseconds as text with
//! a microsecond fraction (`1795927300391.442`).
//!
//! Why the fraction: AWS's dates have millisecond resolution, and an execution that runs
//! in a few milliseconds then shows a duration off by up to a whole millisecond either
//! way (the load test's chain latencies read 4 or 5 ms for the same 4.6 ms). The text
//! stays a valid sorted-set score and, read as milliseconds, what older versions wrote;
//! plain integers (which those versions wrote) still read.

/// The stored text of the instant `us` (epoch microseconds).
pub fn epoch_text(us: i64) -> String {
    format!("{}.{:03}", us.div_euclid(1000), us.rem_euclid(1000))
}

/// The instant (epoch microseconds) of a stored time: `ms` or `ms.fraction` text.
pub fn parse_epoch_us(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let ms: i64 = whole.parse().ok()?;
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits past the microsecond are dropped; missing ones are zeros. The fraction adds
    // to the whole millisecond, as `epoch_text` writes it (before 1970 too).
    let us_part = format!("{fraction:0<3}")[..3].parse::<i64>().ok()?;
    ms.checked_mul(1000)?.checked_add(us_part)
}

/// The millisecond (rounded down) of an instant in epoch microseconds.
pub fn us_to_ms(us: i64) -> i64 {
    us.div_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_microseconds() {
        for us in [0, 1, 999, 1000, -1, -1000, -1001, 1_795_927_300_391_442, 1_795_927_300_391_000] {
            assert_eq!(parse_epoch_us(&epoch_text(us)), Some(us), "{us}");
        }
        assert_eq!(epoch_text(1_795_927_300_391_042), "1795927300391.042");
    }

    #[test]
    fn reads_what_older_versions_wrote() {
        assert_eq!(parse_epoch_us("1795927300391"), Some(1_795_927_300_391_000));
        assert_eq!(parse_epoch_us("1795927300391.5"), Some(1_795_927_300_391_500));
        assert_eq!(parse_epoch_us("1795927300391.4429"), Some(1_795_927_300_391_442));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in ["", "x", "12.x", "12.-3", "1.2.3", "99999999999999999999"] {
            assert_eq!(parse_epoch_us(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rounds_down_to_the_millisecond() {
        assert_eq!(us_to_ms(1_795_927_300_391_999), 1_795_927_300_391);
        assert_eq!(us_to_ms(-1), -1);
    }
}
