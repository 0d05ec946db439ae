//! Time, in unix nanoseconds: the system clock, or a test's.

use std::sync::Arc;

/// Unix nanoseconds now.
pub fn now_ns() -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// Now as RFC 3339 text, as objects' `created_at` and the like give it.
pub fn now_text() -> String {
    acta_cadf::format_time(now_ns())
}

/// A time source in unix nanoseconds: the system clock, or a test's.
#[derive(Clone)]
pub struct Clock(pub Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// Now, unix ns.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock(Arc::new(now_ns))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}
