//! Per-key rate limits: a token bucket per API key (GCRA, from the `governor` crate), checked once a request is
//! authenticated, so that only real keys get a bucket and the table stays as small as the key table.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

/// The buckets of every key that sent a request.
pub struct KeyRates {
    limiter: RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
    per_second: u32,
}

impl KeyRates {
    /// Buckets refilled at `per_second` tokens a second and holding at most `burst` (at least one); `None` when
    /// `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<KeyRates> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(KeyRates { limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)), per_second })
    }

    /// Takes a token from the key's bucket, or says when to try again: `429 rate_limited` with `Retry-After`.
    pub fn check(&self, key_id: &str) -> Result<(), ApiError> {
        let Err(not_until) = self.limiter.check_key(&key_id.to_owned()) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(self.limiter.clock().now());
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this API key sent more than {} requests a second; retry after {} ms",
                self.per_second,
                wait.as_millis().max(1)
            ),
        );
        // Retry-After counts whole seconds: round up, so a client that honours it is not refused again.
        error.retry_after = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait == Duration::ZERO));
        Err(error)
    }
}
