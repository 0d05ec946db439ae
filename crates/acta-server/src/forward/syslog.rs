//! Syslog destinations: each event as an RFC 5424 message, octet-counted over TCP (RFC 6587) or TLS (RFC 5425),
//! on one connection kept between batches.
//!
//! The message: `<PRI>1 TIMESTAMP HOSTNAME acta - MSGID [acta@32473 account= instance= seq= id=] EVENT`, where
//! PRI is the facility `log audit` (13) with severity `notice`, or `warning` for an outcome of `failure`;
//! TIMESTAMP is the arrival time; MSGID is `cadf`; and EVENT is the event's JSON on one line. The
//! structured data names where Acta holds the event, so a receiver can tell a message sent again (after a broken
//! connection) from a new one. Acta has no private enterprise number of its own: 32473 is the one RFC 5612
//! reserves for documentation, which a receiver may match but no one else registers.
//!
//! TCP has no acknowledgement: a write succeeds when the kernel has the bytes, so a receiver that dies loses what
//! it had not read. The job counts a batch as delivered only once the connection has stayed up for
//! `confirm_after` after it; a connection found closed before then sends the batch again.

use std::sync::Arc;

use futures::FutureExt;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::destination::{ForwardSettings, Invalid, Outgoing, SendError, only_members, required_text, text};

const MEMBERS: [&str; 5] = ["host", "port", "tls", "ca_pem", "hostname"];

/// Facility 13, "log audit" (RFC 5424 table 1).
const FACILITY_LOG_AUDIT: u8 = 13;
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_NOTICE: u8 = 5;

pub(crate) fn validate(object: &Map<String, Value>) -> Result<Value, Invalid> {
    only_members(object, &MEMBERS)?;
    let host = required_text(object, "host")?;
    if host.contains(['/', ' ', '@']) {
        return Err(Invalid(format!("destination.host {host:?} is not a host name or address")));
    }
    let port = match object.get("port") {
        None => None,
        Some(port) => Some(
            port.as_u64()
                .filter(|port| (1..=65535).contains(port))
                .ok_or_else(|| Invalid("destination.port must be a port number (1-65535)".to_string()))?,
        ),
    };
    let tls = match object.get("tls") {
        None => false,
        Some(Value::Bool(tls)) => *tls,
        Some(_) => return Err(Invalid("destination.tls must be true or false".to_string())),
    };
    if let Some(pem) = text(object, "ca_pem")? {
        if !tls {
            return Err(Invalid("destination.ca_pem is only for \"tls\": true".to_string()));
        }
        trust_roots(Some(pem)).map_err(Invalid)?;
    }
    if let Some(hostname) = text(object, "hostname")?
        && (hostname.is_empty() || hostname.len() > 255 || !hostname.bytes().all(|byte| (33..=126).contains(&byte)))
    {
        return Err(Invalid("destination.hostname must be 1-255 printable ASCII characters".to_string()));
    }
    let mut valid = object.clone();
    // RFC 6587's usual port for TCP, RFC 5425's for TLS.
    valid.insert("port".to_string(), Value::from(port.unwrap_or(if tls { 6514 } else { 514 })));
    valid.insert("tls".to_string(), Value::Bool(tls));
    Ok(Value::Object(valid))
}

/// The roots a TLS destination trusts: the given PEM certificates, or the public web's roots.
fn trust_roots(pem: Option<&str>) -> Result<tokio_rustls::rustls::RootCertStore, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    match pem {
        Some(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let certificate = certificate.map_err(|error| format!("destination.ca_pem: {error}"))?;
                roots.add(certificate).map_err(|error| format!("destination.ca_pem: {error}"))?;
            }
            if roots.is_empty() {
                return Err("destination.ca_pem holds no PEM certificate".to_string());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

enum Connection {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

pub(crate) struct Sender {
    host: String,
    port: u16,
    tls: bool,
    ca_pem: Option<String>,
    hostname: String,
    allow: Vec<ipnet::IpNet>,
    timeout: std::time::Duration,
    connection: Option<Connection>,
}

impl Sender {
    pub(crate) fn new(object: &Map<String, Value>, settings: &ForwardSettings, allow: &[ipnet::IpNet]) -> Sender {
        let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
        Sender {
            host: text("host").unwrap_or_default(),
            port: object.get("port").and_then(Value::as_u64).and_then(|port| u16::try_from(port).ok()).unwrap_or(514),
            tls: object.get("tls").and_then(Value::as_bool).unwrap_or(false),
            ca_pem: text("ca_pem"),
            hostname: text("hostname").unwrap_or_else(local_hostname),
            allow: allow.to_vec(),
            timeout: settings.send_timeout,
            connection: None,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.connection = None;
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let host = url::Host::parse(&self.host)
            .or_else(|_| url::Host::parse(&format!("[{}]", self.host)))
            .map_err(|error| SendError(format!("{}: {error}", self.host)))?;
        let host = match &host {
            url::Host::Domain(name) => url::Host::Domain(name.as_str()),
            url::Host::Ipv4(v4) => url::Host::Ipv4(*v4),
            url::Host::Ipv6(v6) => url::Host::Ipv6(*v6),
        };
        let (_, addresses) = crate::notify::ssrf::resolve_checked(host, self.port, &self.allow)
            .await
            .map_err(|refusal| SendError(refusal.to_string()))?;
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&addresses[..]))
            .await
            .map_err(|_| SendError(format!("connecting to {}:{} timed out", self.host, self.port)))?
            .map_err(|error| SendError(format!("connecting to {}:{}: {error}", self.host, self.port)))?;
        let _ = stream.set_nodelay(true);
        if !self.tls {
            return Ok(Connection::Tcp(stream));
        }
        let roots = trust_roots(self.ca_pem.as_deref()).map_err(SendError)?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| SendError(format!("TLS: {error}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from(self.host.clone())
            .map_err(|error| SendError(format!("{}: {error}", self.host)))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = tokio::time::timeout(self.timeout, connector.connect(name, stream))
            .await
            .map_err(|_| SendError(format!("TLS handshake with {}:{} timed out", self.host, self.port)))?
            .map_err(|error| SendError(format!("TLS handshake with {}:{}: {error}", self.host, self.port)))?;
        Ok(Connection::Tls(Box::new(stream)))
    }

    pub(crate) async fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut frames = Vec::with_capacity(batch.iter().map(|event| event.event.len() + 200).sum());
        for event in batch {
            let message = message(event, &self.hostname);
            frames.extend_from_slice(format!("{} ", message.len()).as_bytes());
            frames.extend_from_slice(message.as_bytes());
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect().await?);
        }
        let written = match self.connection.as_mut() {
            Some(Connection::Tcp(stream)) => write_all(stream, &frames, self.timeout).await,
            Some(Connection::Tls(stream)) => write_all(stream.as_mut(), &frames, self.timeout).await,
            None => Ok(()),
        };
        if let Err(error) = written {
            self.connection = None;
            return Err(SendError(format!("writing to {}:{}: {error}", self.host, self.port)));
        }
        Ok(())
    }

    /// Whether the receiver still holds the connection: a closed or reset one means what was written since the
    /// last confirmation may be lost. A receiver sends nothing on a syslog connection, so any readable state
    /// other than "would block" is the end.
    pub(crate) async fn still_connected(&mut self) -> Result<(), SendError> {
        let mut byte = [0u8; 1];
        // A read that is not ready at once means the connection is up and quiet; TLS records the receiver sends
        // on its own (session tickets) are consumed by the TLS layer and never reach here.
        let read = match self.connection.as_mut() {
            None => return Err(SendError("the connection was closed".to_string())),
            Some(Connection::Tcp(stream)) => stream.read(&mut byte).now_or_never(),
            Some(Connection::Tls(stream)) => stream.read(&mut byte).now_or_never(),
        };
        let closed = match read {
            None | Some(Ok(1..)) => None,
            Some(Ok(0)) => Some("the receiver closed the connection".to_string()),
            Some(Err(error)) => Some(error.to_string()),
        };
        match closed {
            None => Ok(()),
            Some(reason) => {
                self.connection = None;
                Err(SendError(format!("{}:{}: {reason}", self.host, self.port)))
            }
        }
    }
}

async fn write_all<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    timeout: std::time::Duration,
) -> std::io::Result<()> {
    // A receiver that stops reading makes the write wait; the timeout is per batch, large enough for a slow
    // link and short enough that a dead peer is noticed.
    let write = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    tokio::time::timeout(timeout * 6, write)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the receiver did not read for a minute"))?
}

/// One event as an RFC 5424 message.
pub(crate) fn message(event: &Outgoing, hostname: &str) -> String {
    let failure = event.event.contains("\"outcome\":\"failure\"");
    let severity = if failure { SEVERITY_WARNING } else { SEVERITY_NOTICE };
    let priority = u16::from(FACILITY_LOG_AUDIT) * 8 + u16::from(severity);
    let timestamp = rfc5424_time(event.received_ns);
    format!(
        "<{priority}>1 {timestamp} {hostname} acta - cadf [acta@32473 account=\"{}\" instance=\"{}\" seq=\"{}\" id=\"{}\"] {}",
        param(&event.account),
        param(&event.instance),
        event.seq,
        param(&event.id),
        event.event
    )
}

/// RFC 5424 timestamps have at most 6 fractional digits.
fn rfc5424_time(ns: i64) -> String {
    let full = acta_cadf::format_time(ns);
    // `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: keep microseconds.
    match full.split_once('.') {
        Some((seconds, fraction)) => format!("{seconds}.{}Z", &fraction[..6.min(fraction.len())]),
        None => full,
    }
}

/// A structured-data parameter value: `"`, `\` and `]` escaped (RFC 5424 section 6.3.3).
fn param(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty() && name.bytes().all(|byte| (33..=126).contains(&byte)))
        .unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(event: &str) -> Outgoing {
        Outgoing {
            account: "acme".into(),
            instance: "i-1".into(),
            region: "eu".into(),
            seq: 42,
            received_ns: 1_700_000_000_123_456_789,
            id: "id\"]".into(),
            event: event.into(),
        }
    }

    #[test]
    fn a_message_is_rfc5424_with_where_acta_holds_the_event() {
        let message = message(&outgoing("{\"outcome\":\"success\"}"), "node-1");
        assert_eq!(
            message,
            "<109>1 2023-11-14T22:13:20.123456Z node-1 acta - cadf [acta@32473 account=\"acme\" instance=\"i-1\" \
             seq=\"42\" id=\"id\\\"\\]\"] {\"outcome\":\"success\"}"
        );
    }

    #[test]
    fn a_failure_is_a_warning() {
        assert!(message(&outgoing("{\"outcome\":\"failure\"}"), "n").starts_with("<108>1 "));
    }

    #[test]
    fn a_destination_gets_the_usual_port_of_its_transport() {
        let tcp = validate(serde_json::json!({"type": "syslog", "host": "siem"}).as_object().unwrap_or(&Map::new()));
        assert_eq!(tcp.map(|valid| valid["port"].clone()), Ok(Value::from(514)));
        let tls = validate(
            serde_json::json!({"type": "syslog", "host": "siem", "tls": true}).as_object().unwrap_or(&Map::new()),
        );
        assert_eq!(tls.map(|valid| valid["port"].clone()), Ok(Value::from(6514)));
    }
}
