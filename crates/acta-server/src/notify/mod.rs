//! Alert notifications: the operator's alerting settings, the handle handlers share with the alert engine
//! and the delivery worker ([`Alerts`]), and the sending of one notification.
//!
//! The engine (`jobs::alert_engine`) fires; the delivery worker (`jobs::delivery`) sends what the outbox holds.
//! - [`channels`] sends one notification: email (SMTP with lettre), webhook (signed), Slack, PagerDuty;
//!   every HTTP target goes through [`ssrf`].
//! - [`render`] turns a firing into text and JSON, with times in the alert's time zone.

pub mod channels;
pub mod render;
pub mod ssrf;

use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

/// Operator settings of alerting.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// SMTP relay (`smtp://host:port`, `smtps://user:pass@host`, `smtp://host?tls=required` for STARTTLS).
    pub smtp_url: Option<String>,
    /// The From address of alert emails.
    pub smtp_from: String,
    /// Networks webhooks may reach although they are loopback, private or link-local (`ACTA_WEBHOOK_ALLOW`).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// Test knob: every window lasts its nominal length divided by this (1 in production), so that tests of
    /// end-of-window behaviour take a second instead of 30.
    pub window_divisor: u32,
    /// First retry delay; each further retry doubles it, up to [`AlertSettings::max_retry_delay`].
    pub retry_base: Duration,
    /// Longest delay between two attempts.
    pub max_retry_delay: Duration,
    /// Attempts before a notification is given up (recorded as failed).
    pub max_attempts: u32,
    /// Deadline of one attempt (connect and answer).
    pub send_timeout: Duration,
    /// How often insights are computed (`acta serve --insight-period`); short in tests.
    pub insight_period: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            smtp_url: None,
            smtp_from: "acta@localhost".to_string(),
            webhook_allow: Vec::new(),
            window_divisor: 1,
            retry_base: Duration::from_secs(2),
            max_retry_delay: Duration::from_secs(15 * 60),
            max_attempts: 12,
            send_timeout: Duration::from_secs(10),
            insight_period: Duration::from_secs(60),
        }
    }
}

/// Parses `ACTA_WEBHOOK_ALLOW`: comma- or space-separated CIDRs (a bare address is a /32 or /128).
pub fn parse_allowlist(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{part:?} is not a CIDR (like 127.0.0.0/8) or an IP address"))
        })
        .collect()
}

/// The window lengths an alert may have, as written in the API, and their seconds.
pub(crate) const WINDOWS: [(&str, i64); 9] = [
    ("30s", 30),
    ("1m", 60),
    ("5m", 300),
    ("15m", 900),
    ("30m", 1_800),
    ("1h", 3_600),
    ("6h", 21_600),
    ("12h", 43_200),
    ("24h", 86_400),
];

/// The API text of a window length.
pub(crate) fn window_text(seconds: i64) -> String {
    WINDOWS
        .iter()
        .find(|(_, secs)| *secs == seconds)
        .map_or_else(|| format!("{seconds}s"), |(text, _)| (*text).to_string())
}

/// What handlers share with the engine and the delivery worker.
pub struct Alerts {
    /// Operator settings.
    pub settings: AlertSettings,
    reload: mpsc::Sender<oneshot::Sender<()>>,
    /// Wakes the delivery worker (new notifications).
    pub(crate) outbox_wake: Notify,
    /// Delivery outcomes, for `/metrics`.
    pub(crate) notifications: crate::metrics::NotificationCounts,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Alerts {
    /// The shared part and the receiving end of reload requests (for the engine).
    pub(crate) fn new(settings: AlertSettings) -> (Alerts, mpsc::Receiver<oneshot::Sender<()>>) {
        let (reload, requests) = mpsc::channel(64);
        (Alerts { settings, reload, outbox_wake: Notify::new(), notifications: Default::default() }, requests)
    }

    /// Makes the engine reload alert definitions, and waits until it has: an event accepted after a change's
    /// answer is then evaluated against the changed alerts. Bounded, so a stuck engine cannot hang the API.
    pub(crate) async fn reload(&self) {
        let (done, acknowledged) = oneshot::channel();
        if self.reload.send(done).await.is_err() {
            return;
        }
        if tokio::time::timeout(Duration::from_secs(5), acknowledged).await.is_err() {
            tracing::warn!("the alert engine did not reload within 5 s");
        }
    }
}
