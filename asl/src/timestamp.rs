//! Timestamps as AWS reads them: the Choice operators, `IsTimestamp` and the Wait state.
//!
//! AWS parses them as an "ISO-8601 extended offset date-time" (Java's
//! `ISO_OFFSET_DATE_TIME`, the wording of its Wait-state errors): `T` between date and
//! time, seconds optional, 0–9 fraction digits, and a mandatory `Z` or numeric offset.
//! The letters are matched case-insensitively, as that formatter does.

use chrono::{NaiveDate, NaiveTime};

/// An instant, as nanoseconds since the Unix epoch (wide enough for every year 0000–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(i128);

/// Parses `text` as an offset date-time; `None` when it is not one.
pub fn parse(text: &str) -> Option<Instant> {
    let mut cur = Cursor { bytes: text.as_bytes(), pos: 0 };
    let year = cur.digits(4)?;
    cur.expect(b'-')?;
    let month = cur.digits(2)?;
    cur.expect(b'-')?;
    let day = cur.digits(2)?;
    if !cur.eat(b'T') && !cur.eat(b't') {
        return None;
    }
    let hour = cur.digits(2)?;
    cur.expect(b':')?;
    let minute = cur.digits(2)?;
    let mut second = 0;
    let mut nanos = 0;
    if cur.eat(b':') {
        second = cur.digits(2)?;
        if cur.eat(b'.') {
            nanos = cur.fraction()?;
        }
    }
    let offset_seconds = cur.offset()?;
    if cur.pos != cur.bytes.len() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // `from_hms_nano_opt` would take nanos >= 1e9 as a leap second; a fraction never reaches that.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let local = date.and_time(time).and_utc();
    let seconds = i128::from(local.timestamp()) - i128::from(offset_seconds);
    Some(Instant(seconds * 1_000_000_000 + i128::from(nanos)))
}

/// A byte cursor over the timestamp text (all accepted characters are ASCII).
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Exactly `count` decimal digits.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..count {
            let digit = self.peek().filter(u8::is_ascii_digit)?;
            value = value * 10 + u32::from(digit - b'0');
            self.pos += 1;
        }
        Some(value)
    }

    /// One to nine fraction digits, scaled to nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut nanos = 0u32;
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            if self.pos - start == 9 {
                return None;
            }
            nanos = nanos * 10 + u32::from(digit - b'0');
            self.pos += 1;
        }
        let count = self.pos - start;
        if count == 0 {
            return None;
        }
        Some(nanos * 10u32.pow(u32::try_from(9 - count).ok()?))
    }

    /// `Z`, or `±HH`, `±HH:MM`, `±HHMM`, `±HH:MM:SS` (the lenient offset forms Java accepts),
    /// as seconds east of UTC.
    fn offset(&mut self) -> Option<i32> {
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.digits(2)?;
        let mut minutes = 0;
        let mut seconds = 0;
        if self.eat(b':') {
            minutes = self.digits(2)?;
            if self.eat(b':') {
                seconds = self.digits(2)?;
            }
        } else if self.peek().is_some() {
            minutes = self.digits(2)?;
        }
        if hours > 18 || minutes > 59 || seconds > 59 {
            return None;
        }
        let total = i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?;
        if total > 18 * 3600 {
            return None;
        }
        Some(sign * total)
    }
}

impl Instant {
    /// The instant as a UTC date-time, when chrono can represent it.
    pub fn to_utc(self) -> Option<chrono::DateTime<chrono::Utc>> {
        let secs = i64::try_from(self.0.div_euclid(1_000_000_000)).ok()?;
        let nanos = u32::try_from(self.0.rem_euclid(1_000_000_000)).ok()?;
        chrono::DateTime::from_timestamp(secs, nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_aws_offset_date_times() {
        for text in [
            "2012-10-09T19:00:55Z",
            "2016-03-14T01:59:00Z",
            "2016-03-14T01:59Z",
            "2026-11-24T21:27:33.000Z",
            "2026-11-24T21:27:33.000000Z",
            "2026-11-24T21:27:33.00Z",
            "2016-03-05T21:29:29.243167252Z",
            "2012-10-09T19:00:55+01:00",
            "2012-10-09T19:00:55-0530",
            "2012-10-09T19:00:55+01",
            "2024-02-29T00:00:00Z",
            "2012-10-09t19:00:55z",
        ] {
            assert!(parse(text).is_some(), "{text}");
        }
    }

    #[test]
    fn rejects_what_aws_rejects() {
        for text in [
            "",
            " ",
            "HelloWorld",
            "2012-10-09T19:00:55",
            "2023-02-24",
            "2023-02-24 12:15:56.832957",
            "2016-12-05 21:29:29Z",
            "2016-13-05T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "05-12-2016T21:29:29Z",
            "2023-02-29T00:00:00Z",
            "2012-10-09T19:00:60Z",
            "2012-10-09T19:00:55.Z",
            "2012-10-09T19:00:55.1234567891Z",
            "2012-10-09T19:00:55+19:00",
            "2012-10-09T19:00:55Z ",
            "2012-10-09T19:00:55+1",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn compares_instants_across_offsets_and_fractions() {
        let utc = parse("2012-10-09T19:00:55Z");
        assert_eq!(utc, parse("2012-10-09T20:00:55+01:00"));
        assert_eq!(utc, parse("2012-10-09T19:00:55.000Z"));
        assert_eq!(utc, parse("2012-10-09T13:30:55-05:30"));
        assert!(parse("2012-10-09T19:00:55.001Z") > utc);
        assert!(parse("2012-10-09T19:00:55+01:00") < utc);
        assert!(parse("2012-10-09T19:00:56Z") > utc);
        assert!(parse("1969-12-31T23:59:59.5Z") < parse("1970-01-01T00:00:00Z"));
    }
}
