//! `Day`: the UTC arrival day that names a segment file.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime, Time};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A UTC calendar day. Every record belongs to the day of its `received_ns`, and every segment
/// file holds exactly one day of one instance (`<instance>/<YYYY-MM-DD>.log|.seg`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Day(pub Date);

impl Day {
    /// The earliest day, for ranges over all days.
    pub const MIN: Day = Day(Date::MIN);
    /// The latest day, for ranges over all days.
    pub const MAX: Day = Day(Date::MAX);

    /// The UTC day containing `ns` nanoseconds since the Unix epoch.
    pub fn from_ns(ns: i64) -> Day {
        // Every i64 nanosecond timestamp (years 1677..2262) lies well inside `time`'s range, so
        // the conversion cannot fail; flooring to whole seconds keeps negative values on the
        // right day.
        let seconds = ns.div_euclid(NANOS_PER_SECOND);
        let datetime = OffsetDateTime::from_unix_timestamp(seconds)
            .expect("an i64 of nanoseconds is always a representable timestamp");
        Day(datetime.date())
    }

    /// Midnight UTC at the start of this day, in nanoseconds since the Unix epoch, saturated to
    /// the i64 range for days that no i64 timestamp reaches.
    pub fn start_ns(self) -> i64 {
        let nanos = self.0.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp_nanos();
        i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
    }

    /// The day after this one (saturating at the last representable date).
    pub fn next(self) -> Day {
        Day(self.0.next_day().unwrap_or(self.0))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

/// The error of parsing a [`Day`] from anything but `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid day {0:?}: expected YYYY-MM-DD")]
pub struct ParseDayError(pub String);

impl FromStr for Day {
    type Err = ParseDayError;

    fn from_str(text: &str) -> Result<Day, ParseDayError> {
        let invalid = || ParseDayError(text.to_owned());
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return Err(invalid());
        }
        let year: i32 = text[0..4].parse().map_err(|_| invalid())?;
        let month: u8 = text[5..7].parse().map_err(|_| invalid())?;
        let day: u8 = text[8..10].parse().map_err(|_| invalid())?;
        let month = Month::try_from(month).map_err(|_| invalid())?;
        let date = Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
        Ok(Day(date))
    }
}

/// Serialized as the `YYYY-MM-DD` string, like the file names.
impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Day, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn day_displays_and_parses_iso_dates() {
        let day: Day = "2024-02-29".parse().unwrap();
        assert_eq!(day.to_string(), "2024-02-29");
        assert_eq!(day.next().to_string(), "2024-03-01");
        assert!("2023-02-29".parse::<Day>().is_err());
        assert!("2024-2-29".parse::<Day>().is_err());
        assert!("+024-02-29".parse::<Day>().is_err());
        assert_eq!(serde_json::to_string(&day).unwrap(), "\"2024-02-29\"");
        assert_eq!(serde_json::from_str::<Day>("\"2024-02-29\"").unwrap(), day);
    }

    #[test]
    fn from_ns_floors_to_the_utc_day() {
        let day: Day = "2024-05-01".parse().unwrap();
        let start = day.start_ns();
        assert_eq!(Day::from_ns(start), day);
        assert_eq!(Day::from_ns(start + 86_400_000_000_000 - 1), day);
        assert_eq!(Day::from_ns(start - 1).next(), day);
        assert_eq!(Day::from_ns(-1).to_string(), "1969-12-31");
        assert_eq!(Day::from_ns(i64::MIN).to_string(), "1677-09-21");
        assert_eq!(Day::from_ns(i64::MAX).to_string(), "2262-04-11");
    }
}
