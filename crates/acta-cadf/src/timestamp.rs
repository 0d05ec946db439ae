//! The `eventTime` grammar and its UTC nanosecond form.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::quote;

/// Parses an RFC 3339 time into UTC unix nanoseconds.
///
/// The grammar: `YYYY-MM-DD`, `T` (or `t`), `HH:MM:SS`, an optional `.` with 1 to 9 fraction digits, and an
/// offset: `Z` (or `z`), `+HH:MM` or `+HHMM` (or with `-`). So `2020-03-11T09:28:35.15+0000`,
/// `2020-03-08T12:22:01+00:00`, `2020-03-22T09:36:07Z` and `2014-01-17T23:23:38.109989-0500` all parse.
/// Times outside what nanoseconds in an `i64` hold (1677-09-21 to 2262-04-11 UTC) are refused.
///
/// The error is a complete message naming the text, such as
/// `"yesterday" is not an RFC 3339 time (expected a 4-digit year at position 1)`.
pub fn parse_time(text: &str) -> Result<i64, String> {
    parse_rfc3339(text.as_bytes()).map_err(|why| format!("{} is not an RFC 3339 time ({why})", quote(text)))
}

/// Formats UTC unix nanoseconds as RFC 3339 with nine fraction digits: `2026-11-20T10:00:00.123456789Z`.
///
/// [`parse_time`] reads the result back to the same number.
pub fn format_time(ns: i64) -> String {
    // Every i64 of nanoseconds lies well inside the years `time` represents, so the addition cannot overflow.
    let at = OffsetDateTime::UNIX_EPOCH + Duration::nanoseconds(ns);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond()
    )
}

fn parse_rfc3339(bytes: &[u8]) -> Result<i64, String> {
    let mut cursor = Cursor { bytes, at: 0 };
    let year = cursor.number(4, "a 4-digit year")?;
    cursor.expect(b"-", "'-' after the year")?;
    let month = cursor.number(2, "a 2-digit month")?;
    cursor.expect(b"-", "'-' after the month")?;
    let day = cursor.number(2, "a 2-digit day")?;
    cursor.expect(b"Tt", "'T' between the date and the time")?;
    let hour = cursor.number(2, "a 2-digit hour")?;
    cursor.expect(b":", "':' after the hour")?;
    let minute = cursor.number(2, "2-digit minutes")?;
    cursor.expect(b":", "':' after the minutes")?;
    let second = cursor.number(2, "2-digit seconds")?;
    let nanosecond = if cursor.peek() == Some(b'.') {
        cursor.at += 1;
        cursor.fraction()?
    } else {
        0
    };
    let offset_seconds = cursor.offset()?;
    if cursor.at < bytes.len() {
        return Err(format!("unexpected text after the offset at position {}", cursor.at + 1));
    }

    // Four digits are at most 9999 and two at most 99, so these conversions are lossless.
    let (year, month, day) = (year as i32, month as u8, day as u8);
    let (hour, minute, second) = (hour as u8, minute as u8, second as u8);
    let date = Month::try_from(month)
        .and_then(|month| Date::from_calendar_date(year, month, day))
        .map_err(|_| format!("{year:04}-{month:02}-{day:02} is not a date"))?;
    if hour > 23 || minute > 59 || second > 59 {
        let leap_note = if second == 60 { "; leap seconds are not accepted" } else { "" };
        return Err(format!("{hour:02}:{minute:02}:{second:02} is not a time of day{leap_note}"));
    }
    let time = Time::from_hms_nano(hour, minute, second, nanosecond).map_err(|e| e.to_string())?;
    let offset = UtcOffset::from_whole_seconds(offset_seconds).map_err(|e| e.to_string())?;
    let nanos = PrimitiveDateTime::new(date, time).assume_offset(offset).unix_timestamp_nanos();
    i64::try_from(nanos).map_err(|_| "outside the range Acta stores, 1677-09-21 to 2262-04-11 UTC".to_owned())
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expected(&self, what: &str) -> String {
        format!("expected {what} at position {}", self.at + 1)
    }

    fn expect(&mut self, any_of: &[u8], what: &str) -> Result<(), String> {
        match self.peek() {
            Some(byte) if any_of.contains(&byte) => {
                self.at += 1;
                Ok(())
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Exactly `digits` ASCII digits.
    fn number(&mut self, digits: usize, what: &str) -> Result<u32, String> {
        let mut value = 0;
        for _ in 0..digits {
            match self.peek() {
                Some(byte @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(byte - b'0');
                    self.at += 1;
                }
                _ => return Err(self.expected(what)),
            }
        }
        Ok(value)
    }

    /// The digits after `.`, as nanoseconds.
    fn fraction(&mut self) -> Result<u32, String> {
        let start = self.at;
        let mut value = 0_u32;
        while let Some(byte @ b'0'..=b'9') = self.peek() {
            if self.at - start == 9 {
                return Err(format!("more than 9 fraction digits at position {}", self.at + 1));
            }
            value = value * 10 + u32::from(byte - b'0');
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 {
            return Err(self.expected("fraction digits after '.'"));
        }
        Ok(value * 10_u32.pow(9 - u32::try_from(digits).unwrap_or(9)))
    }

    /// `Z`, `+HH:MM` or `+HHMM` (or `-`), as seconds east of UTC.
    fn offset(&mut self) -> Result<i32, String> {
        const WHAT: &str = "an offset (Z, +HH:MM or +HHMM)";
        let sign = match self.peek() {
            Some(b'Z' | b'z') => {
                self.at += 1;
                return Ok(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(self.expected(WHAT)),
        };
        self.at += 1;
        let hours = self.number(2, "2-digit offset hours")?;
        if self.peek() == Some(b':') {
            self.at += 1;
        }
        let minutes = self.number(2, "2-digit offset minutes")?;
        if hours > 23 || minutes > 59 {
            return Err(format!("offset {hours:02}:{minutes:02} does not exist"));
        }
        let seconds = i32::try_from(hours * 3600 + minutes * 60).map_err(|e| e.to_string())?;
        Ok(sign * seconds)
    }
}
