//! Histogram buckets: the interval (given, or chosen for the range) and where each bucket starts.
//!
//! Buckets are aligned to the calendar of the requested time zone, so that they read naturally on a graph and
//! do not move when the range slides (Live): every local day starts a bucket, and intervals under a day repeat
//! from local midnight (`5m` buckets start at :00, :05, ...; `3h` at 00:00, 03:00, ...; an interval that does
//! not divide the day ends the day with a shorter bucket). `1d` buckets are local calendar days, 23 or 25 hours
//! long across a daylight-saving change; `7d` buckets are local weeks starting on Monday. The first and last
//! buckets are cut to the requested range, so the buckets cover exactly `[from, to)`: their counts add up to
//! the count of the range.

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil::Date};

/// The intervals an automatic choice picks from, shortest first.
pub const INTERVALS: [&str; 14] =
    ["1s", "5s", "10s", "30s", "1m", "5m", "10m", "30m", "1h", "3h", "6h", "12h", "1d", "7d"];

/// At most this many buckets in an answer.
pub const MAX_BUCKETS: usize = 1000;

/// An automatic interval gives at most this many buckets, and the finest interval that does is chosen (at
/// least 30 whenever the list above allows it).
pub const AUTO_MAX_BUCKETS: usize = 120;

const SECOND: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SECOND;

/// A bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// A fixed duration under a day, in nanoseconds (a whole number of seconds).
    Fixed(i64),
    /// A local calendar day.
    Day,
    /// A local calendar week, from Monday.
    Week,
}

impl Interval {
    /// Parses `30s`, `5m`, `3h`, `1d`, `7d` (also `1w`, `24h`, ...): a whole number of seconds under a day,
    /// exactly a day, or exactly a week.
    pub fn parse(text: &str) -> Result<Interval, String> {
        let bad = || {
            format!(
                "interval {text:?} is not a duration of whole seconds under a day (30s, 5m, 3h), 1d or 7d; the automatic intervals are {}",
                INTERVALS.join(", ")
            )
        };
        let ns = crate::timespec::duration_ns(text.trim()).ok_or_else(bad)?;
        match ns {
            ns if ns > 0 && ns < DAY => Ok(Interval::Fixed(ns)),
            DAY => Ok(Interval::Day),
            ns if ns == 7 * DAY => Ok(Interval::Week),
            _ => Err(bad()),
        }
    }

    /// The canonical name: `30s`, `5m`, `3h`, `1d`, `7d`.
    pub fn name(&self) -> String {
        match self {
            Interval::Day => "1d".to_string(),
            Interval::Week => "7d".to_string(),
            Interval::Fixed(ns) => {
                let seconds = ns / SECOND;
                if seconds % 3600 == 0 {
                    format!("{}h", seconds / 3600)
                } else if seconds % 60 == 0 {
                    format!("{}m", seconds / 60)
                } else {
                    format!("{seconds}s")
                }
            }
        }
    }

    /// The nominal length, for estimates.
    fn nominal_ns(&self) -> i64 {
        match self {
            Interval::Fixed(ns) => *ns,
            Interval::Day => DAY,
            Interval::Week => 7 * DAY,
        }
    }
}

/// Why a range cannot be bucketed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    /// More than [`MAX_BUCKETS`].
    #[error(
        "the interval {interval} gives more than {MAX_BUCKETS} buckets over this range; choose a longer interval or a shorter range"
    )]
    TooMany {
        /// The interval's name.
        interval: String,
    },
    /// The range is empty or outside the years the calendar handles.
    #[error("{0}")]
    Range(String),
}

/// The buckets of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The interval used.
    pub interval: Interval,
    /// Where each bucket nominally starts (the first may start before the range).
    pub starts: Vec<i64>,
    /// Where each bucket's events begin and end: `bounds[i]..bounds[i + 1]`, the first being the range's
    /// `from` and the last its `to`.
    pub bounds: Vec<i64>,
}

impl Layout {
    /// The instants between buckets, as the index takes them.
    pub fn boundaries(&self) -> &[i64] {
        let end = self.bounds.len().saturating_sub(1);
        self.bounds.get(1..end).unwrap_or(&[])
    }
}

/// The buckets of `[from, to)` with the given interval, or the finest automatic one giving at most
/// [`AUTO_MAX_BUCKETS`].
pub fn layout(from: i64, to: i64, interval: Option<Interval>, tz: &TimeZone) -> Result<Layout, BucketError> {
    if from >= to {
        return Err(BucketError::Range("the range is empty: from must be before to".to_string()));
    }
    if let Some(interval) = interval {
        return buckets(from, to, interval, tz, MAX_BUCKETS);
    }
    let span = to.saturating_sub(from);
    let mut last_error = None;
    for name in INTERVALS {
        let Ok(interval) = Interval::parse(name) else {
            continue;
        };
        // Far too fine intervals are skipped without laying them out.
        if span / interval.nominal_ns() > AUTO_MAX_BUCKETS as i64 {
            continue;
        }
        match buckets(from, to, interval, tz, AUTO_MAX_BUCKETS) {
            Ok(layout) => return Ok(layout),
            Err(error @ BucketError::TooMany { .. }) => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    // Longer than 120 weeks: weeks, if they fit in an answer.
    match buckets(from, to, Interval::Week, tz, MAX_BUCKETS) {
        Ok(layout) => Ok(layout),
        Err(error) => Err(last_error.unwrap_or(error)),
    }
}

/// Lays out the buckets; fails past `most` buckets.
fn buckets(from: i64, to: i64, interval: Interval, tz: &TimeZone, most: usize) -> Result<Layout, BucketError> {
    let too_many = || BucketError::TooMany { interval: interval.name() };
    if to.saturating_sub(from) / interval.nominal_ns() > most as i64 + 1 {
        return Err(too_many());
    }
    let mut day = local_date(from, tz)?;
    if interval == Interval::Week {
        let back = i64::from(day.weekday().to_monday_zero_offset());
        day = day.checked_sub(jiff::Span::new().days(back)).map_err(range_error)?;
    }
    // Starts up to the last one at or before `from`, then every start before `to`.
    let mut starts: Vec<i64> = Vec::new();
    'days: loop {
        let day_start = start_of(day, tz)?;
        let next_day = match interval {
            Interval::Week => day.checked_add(jiff::Span::new().days(7)),
            _ => day.tomorrow(),
        }
        .map_err(range_error)?;
        let next_start = start_of(next_day, tz)?;
        let step = match interval {
            Interval::Fixed(ns) => ns,
            Interval::Day | Interval::Week => next_start - day_start,
        };
        let mut start = day_start;
        while start < next_start {
            if start >= to {
                break 'days;
            }
            if start <= from {
                starts.clear();
            }
            starts.push(start);
            if starts.len() > most {
                return Err(too_many());
            }
            start += step;
        }
        day = next_day;
    }
    let mut bounds: Vec<i64> = starts.iter().map(|start| (*start).max(from)).collect();
    bounds.push(to);
    Ok(Layout { interval, starts, bounds })
}

fn local_date(ns: i64, tz: &TimeZone) -> Result<Date, BucketError> {
    let at = Timestamp::from_nanosecond(i128::from(ns)).map_err(range_error)?;
    Ok(at.to_zoned(tz.clone()).date())
}

/// The first instant of a local day (midnight, or the end of a gap that swallows midnight).
fn start_of(day: Date, tz: &TimeZone) -> Result<i64, BucketError> {
    let zoned = day.to_zoned(tz.clone()).map_err(range_error)?;
    i64::try_from(zoned.timestamp().as_nanosecond()).map_err(range_error)
}

fn range_error(error: impl std::fmt::Display) -> BucketError {
    BucketError::Range(format!("the range is outside the calendar's years: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        acta_cadf::parse_time(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    fn texts(values: &[i64]) -> Vec<String> {
        values.iter().map(|ns| acta_cadf::format_time(*ns)).collect()
    }

    #[test]
    fn automatic_interval_for_a_day_is_half_hours() {
        let layout = layout(at("2026-11-20T10:07:00Z"), at("2026-11-21T10:07:00Z"), None, &TimeZone::UTC);
        let layout = layout.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(layout.interval, Interval::Fixed(30 * 60 * SECOND));
        assert_eq!(layout.starts.len(), 49);
        assert_eq!(acta_cadf::format_time(layout.starts[0]), "2026-11-20T10:00:00.000000000Z");
        assert_eq!(acta_cadf::format_time(layout.bounds[0]), "2026-11-20T10:07:00.000000000Z");
    }

    #[test]
    fn automatic_interval_gives_thirty_to_a_hundred_twenty_buckets() {
        let from = at("2026-11-20T10:00:00Z");
        for span in [40, 90, 600, 3_600, 7_200, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400, 300 * 86_400] {
            let layout = layout(from, from + span * SECOND, None, &TimeZone::UTC);
            let layout = layout.unwrap_or_else(|error| panic!("{span}: {error}"));
            let n = layout.starts.len();
            assert!((30..=AUTO_MAX_BUCKETS).contains(&n), "{span}s gave {n} buckets of {}", layout.interval.name());
        }
    }

    #[test]
    fn bounds_cover_the_range_exactly() {
        let (from, to) = (at("2026-11-20T10:00:30Z"), at("2026-11-20T11:00:10Z"));
        let layout = layout(from, to, Interval::parse("5m").ok(), &TimeZone::UTC).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(layout.bounds.first(), Some(&from));
        assert_eq!(layout.bounds.last(), Some(&to));
        assert!(layout.bounds.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(layout.bounds.len(), layout.starts.len() + 1);
        assert_eq!(layout.boundaries().len(), layout.starts.len() - 1);
    }

    #[test]
    fn days_follow_the_time_zone_across_daylight_saving() {
        // Berlin leaves summer time on 2026-10-25: that day has 25 hours.
        let berlin = zone("Europe/Berlin");
        let layout =
            layout(at("2026-10-23T22:00:00Z"), at("2026-10-27T23:00:00Z"), Interval::parse("1d").ok(), &berlin);
        let layout = layout.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            texts(&layout.starts),
            [
                "2026-10-23T22:00:00.000000000Z",
                "2026-10-24T22:00:00.000000000Z",
                "2026-10-25T23:00:00.000000000Z",
                "2026-10-26T23:00:00.000000000Z",
            ]
        );
    }

    #[test]
    fn weeks_start_on_local_monday() {
        let berlin = zone("Europe/Berlin");
        // 2026-11-20 is a Friday; the week started on Monday 2026-11-16, 00:00 in Berlin.
        let layout =
            layout(at("2026-11-20T12:00:00Z"), at("2026-12-01T00:00:00Z"), Interval::parse("7d").ok(), &berlin);
        let layout = layout.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            texts(&layout.starts),
            ["2026-11-15T23:00:00.000000000Z", "2026-11-22T23:00:00.000000000Z", "2026-11-29T23:00:00.000000000Z"]
        );
    }

    #[test]
    fn hours_start_at_local_midnight() {
        // Kolkata is UTC+05:30: 3-hour buckets start at 00:00, 03:00, ... local time.
        let layout = layout(
            at("2026-11-20T00:00:00Z"),
            at("2026-11-20T06:00:00Z"),
            Interval::parse("3h").ok(),
            &zone("Asia/Kolkata"),
        );
        let layout = layout.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            texts(&layout.starts),
            ["2026-11-19T21:30:00.000000000Z", "2026-11-20T00:30:00.000000000Z", "2026-11-20T03:30:00.000000000Z"]
        );
    }

    #[test]
    fn too_many_buckets_is_an_error() {
        let result =
            layout(at("2026-11-20T00:00:00Z"), at("2026-11-21T00:00:00Z"), Interval::parse("1m").ok(), &TimeZone::UTC);
        assert!(matches!(result, Err(BucketError::TooMany { .. })), "{result:?}");
    }

    #[test]
    fn intervals_parse_to_canonical_names() {
        let name = |text: &str| Interval::parse(text).map(|interval| interval.name());
        assert_eq!(name("5m"), Ok("5m".to_string()));
        assert_eq!(name("90s"), Ok("90s".to_string()));
        assert_eq!(name("120m"), Ok("2h".to_string()));
        assert_eq!(name("24h"), Ok("1d".to_string()));
        assert_eq!(name("1w"), Ok("7d".to_string()));
        assert!(Interval::parse("2d").is_err());
        assert!(Interval::parse("0s").is_err());
        assert!(Interval::parse("fortnight").is_err());
    }
}
