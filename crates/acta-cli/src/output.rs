//! How the CLI prints for people: times in one zone and one format, counts with thousands separators, sizes in
//! binary units, rates as whole events per second, and a query error with a caret under its column.

use std::sync::OnceLock;

use jiff::tz::TimeZone;

/// The zone times are printed in: UTC with `--utc`, else the system's (`TZ`, `/etc/localtime`).
static ZONE: OnceLock<TimeZone> = OnceLock::new();

/// Chooses the zone of printed times, once, before anything is printed.
pub(crate) fn init(utc: bool) {
    let zone = if utc { TimeZone::UTC } else { TimeZone::try_system().unwrap_or(TimeZone::UTC) };
    let _ = ZONE.set(zone);
}

fn zone() -> &'static TimeZone {
    ZONE.get_or_init(|| TimeZone::UTC)
}

/// The zone's name for a column header: `UTC`, `Europe/Berlin`, or the current offset when it has no name.
pub(crate) fn zone_label() -> String {
    let zone = zone();
    match zone.iana_name() {
        Some(name) if name != "Etc/UTC" && name != "UTC" => name.to_string(),
        Some(_) => "UTC".to_string(),
        None if zone.to_offset(jiff::Timestamp::now()).seconds() == 0 => "UTC".to_string(),
        None => zone.to_offset(jiff::Timestamp::now()).to_string(),
    }
}

/// An event's time in the chosen zone as `2026-12-05 14:03:07`, whatever RFC 3339 form it was stored in
/// (`+0000`, `Z`, fractions); a text that is not a time is shown as it is.
pub(crate) fn time(text: &str) -> String {
    let Ok(ns) = acta_cadf::parse_time(text) else {
        return text.to_string();
    };
    match jiff::Timestamp::from_nanosecond(i128::from(ns)) {
        Ok(at) => at.to_zoned(zone().clone()).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => text.to_string(),
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// A rate as whole events per second: `15,992/s`.
pub(crate) fn rate(per_second: f64) -> String {
    let whole = if per_second.is_finite() && per_second > 0.0 { per_second.round() as u64 } else { 0 };
    format!("{}/s", thousands(whole))
}

/// A progress bar style whose rate reads `15,992/s` (indicatif's own `{per_sec}` prints four decimals).
pub(crate) fn progress_style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .with_key("rate", |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = out.write_str(&rate(state.per_sec()));
        })
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// The query with a caret under the (1-based, in characters) column the server named, and its message:
///
/// ```text
/// action:(delete OR
///                  ^ column 18: expected a value
/// ```
pub(crate) fn caret(query: &str, column: usize, message: &str) -> String {
    let shown: String = query.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let column = column.clamp(1, shown.chars().count() + 1);
    format!("  {shown}\n  {}^ column {column}: {message}", " ".repeat(column - 1))
}

/// Widest a table column is drawn, in chars; longer cells are cut (the JSON and CSV forms keep them whole).
const MAX_COLUMN_WIDTH: usize = 60;

/// Rows under headers, each column as wide as its widest cell (at most [`MAX_COLUMN_WIDTH`]), two spaces
/// between columns and no trailing spaces; a column marked in `right` (numbers) is aligned right.
pub(crate) fn table(headers: &[String], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count()).min(MAX_COLUMN_WIDTH);
        }
    }
    let mut out = String::new();
    for row in std::iter::once(headers).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let shown: String = cell.chars().take(*width).collect();
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&format!("{shown:>width$}  ", width = *width));
            } else {
                line.push_str(&format!("{shown:<width$}  ", width = *width));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_rate_is_whole_events_per_second() {
        assert_eq!(rate(15_992.067_7), "15,992/s");
        assert_eq!(rate(f64::NAN), "0/s");
    }

    #[test]
    fn sizes_are_in_binary_units() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024 * 1024 + 200 * 1024 * 1024), "3.2 GiB");
    }

    #[test]
    fn every_stored_time_form_prints_the_same_way() {
        init(true);
        for form in ["2020-03-11T09:28:35.15+0000", "2020-03-11T09:28:35Z", "2020-03-11T10:28:35.150+01:00"] {
            assert_eq!(time(form), "2020-03-11 09:28:35", "{form}");
        }
        assert_eq!(time("yesterday"), "yesterday");
    }

    #[test]
    fn the_caret_stands_under_the_column() {
        assert_eq!(caret("a:(b", 5, "expected ')'"), "  a:(b\n      ^ column 5: expected ')'");
    }
}
