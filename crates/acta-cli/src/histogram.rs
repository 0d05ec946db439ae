//! Draws a histogram answer (`GET /v1/events/histogram`) as bars in a terminal: one line per bucket, each bar
//! split into the breakdown's values by fill character, with a legend.

use serde_json::Value;

/// Fill characters of the breakdown values, in series order (they repeat past ten values).
const FILLS: [char; 10] = ['█', '▓', '▒', '░', '#', '%', '=', '+', '*', 'o'];
/// Fill of the values outside the top ones.
const OTHER: char = '·';
/// Fill of the events without the field.
const MISSING: char = '-';

/// The text to print for a histogram answer; bars are at most `width` columns.
pub(crate) fn render(answer: &Value, width: usize) -> String {
    let buckets = answer["buckets"].as_array().cloned().unwrap_or_default();
    let series: Vec<(String, u64)> = answer["series"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|series| (clean(series["value"].as_str().unwrap_or_default()), series["count"].as_u64().unwrap_or(0)))
        .collect();
    let other_key = answer["other_key"].as_str().unwrap_or("other");
    let has_breakdown = answer.get("field").is_some();
    let mut out = String::new();
    out.push_str(&format!(
        "{} events from {} to {} (UTC), {} buckets of {}{}\n",
        answer["count"].as_u64().unwrap_or(0),
        time_label(answer["from"].as_str().unwrap_or_default()),
        time_label(answer["to"].as_str().unwrap_or_default()),
        buckets.len(),
        answer["interval"].as_str().unwrap_or("?"),
        answer["tz"].as_str().filter(|tz| *tz != "UTC").map(|tz| format!(", days in {tz}")).unwrap_or_default(),
    ));
    if has_breakdown {
        let mut legend: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(i, (value, count))| format!("{} {value} {count}", FILLS[i % FILLS.len()]))
            .collect();
        legend.push(format!("{OTHER} other {}", answer["other"].as_u64().unwrap_or(0)));
        let missing = answer["missing"].as_u64().unwrap_or(0);
        if missing > 0 {
            legend.push(format!("{MISSING} without {} {missing}", clean(answer["field"].as_str().unwrap_or_default())));
        }
        out.push_str(&format!("by {}: {}\n", clean(answer["field"].as_str().unwrap_or_default()), legend.join("   ")));
    }
    let max = buckets.iter().filter_map(|bucket| bucket["count"].as_u64()).max().unwrap_or(0);
    let count_width = max.to_string().len();
    for bucket in &buckets {
        let count = bucket["count"].as_u64().unwrap_or(0);
        // Parts of the bar in legend order: each top value, the other values, then events without the field.
        let mut parts: Vec<(char, u64)> = Vec::new();
        if has_breakdown {
            for (i, (value, _)) in series.iter().enumerate() {
                parts.push((FILLS[i % FILLS.len()], bucket["by"][value].as_u64().unwrap_or(0)));
            }
            parts.push((OTHER, bucket["by"][other_key].as_u64().unwrap_or(0)));
            parts.push((MISSING, bucket["missing"].as_u64().unwrap_or(0)));
        } else {
            parts.push((FILLS[0], count));
        }
        let bar = bar(&parts, count, max, width);
        let line = format!("{}  {count:>count_width$} {bar}", time_label(bucket["start"].as_str().unwrap_or_default()));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A bar whose length is `count` scaled to `width` at `max` (at least one column when `count` is not zero),
/// split into parts at their cumulative share. An event with several values counts in several parts, so the
/// parts are scaled to their own sum.
fn bar(parts: &[(char, u64)], count: u64, max: u64, width: usize) -> String {
    if count == 0 || max == 0 {
        return String::new();
    }
    let length = ((count as f64 / max as f64 * width as f64).round() as usize).max(1);
    let sum: u64 = parts.iter().map(|(_, n)| n).sum();
    if sum == 0 {
        return FILLS[0].to_string().repeat(length);
    }
    let mut bar = String::new();
    let (mut cumulative, mut drawn) = (0u64, 0usize);
    for (fill, n) in parts {
        cumulative += n;
        let end = (cumulative as f64 / sum as f64 * length as f64).round() as usize;
        for _ in drawn..end {
            bar.push(*fill);
        }
        drawn = drawn.max(end);
    }
    bar
}

/// `2026-11-20T10:05:00.048914729Z` as `2026-11-20 10:05:00`: to the second, as event times are printed.
fn time_label(text: &str) -> String {
    let text = text.trim_end_matches('Z');
    let text = text.split_once('.').map_or(text, |(whole, _)| whole);
    text.replacen('T', " ", 1)
}

/// Values come from events: control characters must not reach the terminal, and one value must not fill it.
fn clean(text: &str) -> String {
    let mut cleaned: String = text.chars().take(60).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().count() > 60 {
        cleaned.push('…');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bars_scale_to_the_largest_bucket_and_split_by_value() {
        let answer = json!({
            "interval": "1m", "tz": "UTC", "count": 6, "field": "action", "other": 0, "missing": 0,
            "from": "2026-11-20T10:00:00.000000000Z", "to": "2026-11-20T10:03:00.000000000Z", "other_key": "other",
            "series": [{"value": "update", "count": 4}, {"value": "create", "count": 2}],
            "buckets": [
                {"start": "2026-11-20T10:00:00.000000000Z", "count": 4, "by": {"update": 2, "create": 2, "other": 0}, "missing": 0},
                {"start": "2026-11-20T10:01:00.000000000Z", "count": 0, "by": {"update": 0, "create": 0, "other": 0}, "missing": 0},
                {"start": "2026-11-20T10:02:00.000000000Z", "count": 2, "by": {"update": 2, "create": 0, "other": 0}, "missing": 0},
            ],
        });
        let text = render(&answer, 8);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "6 events from 2026-11-20 10:00:00 to 2026-11-20 10:03:00 (UTC), 3 buckets of 1m");
        assert_eq!(lines[1], "by action: █ update 4   ▓ create 2   · other 0");
        assert_eq!(lines[2], "2026-11-20 10:00:00  4 ████▓▓▓▓");
        assert_eq!(lines[3], "2026-11-20 10:01:00  0");
        assert_eq!(lines[4], "2026-11-20 10:02:00  2 ████");
    }

    #[test]
    fn control_characters_in_values_do_not_reach_the_terminal() {
        assert_eq!(clean("a\u{1b}[31mb"), "a [31mb");
    }

    #[test]
    fn range_ends_print_to_the_second() {
        assert_eq!(time_label("2026-12-05T23:04:45.048914729Z"), "2026-12-05 23:04:45");
        assert_eq!(time_label("2026-12-05T23:04:00.000000000Z"), "2026-12-05 23:04:00");
    }
}
