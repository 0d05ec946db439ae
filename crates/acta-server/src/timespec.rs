//! Time bounds of searches: RFC 3339 instants or relative forms (`now`, `now-24h`, `24h`, `7d`, `live`).

/// A resolved time range: `from` inclusive, `to` exclusive, unix ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Lower bound.
    pub from: Option<i64>,
    /// Upper bound.
    pub to: Option<i64>,
}

/// Resolves `from` and `to` parameters at `now_ns`. A bare duration in `from` (`24h`) means the last 24 hours.
pub fn resolve(from: Option<&str>, to: Option<&str>, now_ns: i64) -> Result<TimeRange, String> {
    let from = from.filter(|text| !text.is_empty()).map(|text| instant(text, now_ns, "from")).transpose()?;
    let to = to.filter(|text| !text.is_empty()).map(|text| instant(text, now_ns, "to")).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err("from is later than to".to_string());
    }
    Ok(TimeRange { from, to })
}

fn instant(text: &str, now_ns: i64, name: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if trimmed == "now" {
        return Ok(now_ns);
    }
    if trimmed == "live" {
        return Ok(now_ns - 3_600 * 1_000_000_000);
    }
    if let Some(rest) = trimmed.strip_prefix("now-") {
        return duration_ns(rest).map(|ns| now_ns - ns).ok_or_else(|| bad(name, text));
    }
    if let Some(ns) = duration_ns(trimmed) {
        return Ok(now_ns - ns);
    }
    acta_cadf::parse_time(trimmed).map_err(|_| bad(name, text))
}

fn bad(name: &str, text: &str) -> String {
    format!("{name}: {text:?} is not an RFC 3339 time or a relative time (now, now-24h, 24h, 7d, live)")
}

/// `30s`, `15m`, `24h`, `7d`, `2w` as nanoseconds.
pub fn duration_ns(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    number.checked_mul(seconds)?.checked_mul(1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000_000;
    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn bare_duration_means_the_last_period() {
        assert_eq!(resolve(Some("24h"), None, NOW), Ok(TimeRange { from: Some(NOW - 24 * HOUR), to: None }));
    }

    #[test]
    fn live_is_the_last_hour() {
        assert_eq!(resolve(Some("live"), Some("now"), NOW), Ok(TimeRange { from: Some(NOW - HOUR), to: Some(NOW) }));
    }

    #[test]
    fn now_minus_days() {
        assert_eq!(resolve(Some("now-7d"), None, NOW).map(|r| r.from), Ok(Some(NOW - 7 * 24 * HOUR)));
    }

    #[test]
    fn rfc3339_with_offset_is_accepted() {
        let range = resolve(Some("2026-11-20T10:00:00+01:00"), None, NOW).map(|r| r.from);
        assert_eq!(range, acta_cadf::parse_time("2026-11-20T09:00:00Z").map(Some));
    }

    #[test]
    fn garbage_time_names_the_parameter() {
        let error = resolve(Some("yesterday"), None, NOW).err().unwrap_or_default();
        assert!(error.starts_with("from: \"yesterday\""), "{error}");
    }

    #[test]
    fn from_after_to_is_refused() {
        assert!(resolve(Some("2026-01-02T00:00:00Z"), Some("2026-01-01T00:00:00Z"), NOW).is_err());
    }
}
