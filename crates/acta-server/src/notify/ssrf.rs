//! The rule that keeps webhooks away from the operator's own network: a target that resolves to a loopback,
//! private, link-local (cloud metadata included), unspecified, shared (CGNAT) or multicast address is refused
//! unless the operator allowed that network (`ACTA_WEBHOOK_ALLOW`).
//!
//! The host is resolved at send time and every resolved address is checked; the request then connects to
//! exactly the addresses that were checked (pinned in the HTTP client), so a DNS answer that changes between
//! the check and the connection (DNS rebinding) cannot slip through. Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Not an http or https URL with a host.
    #[error("{0}")]
    BadUrl(String),
    /// The host did not resolve.
    #[error("cannot resolve {host}: {error}")]
    Unresolved {
        /// The host.
        host: String,
        /// Why.
        error: String,
    },
    /// A resolved address is in a forbidden network.
    #[error(
        "refused: {host} resolves to {address}, a {kind} address; webhooks reach such addresses only when the \
         operator allows them (ACTA_WEBHOOK_ALLOW)"
    )]
    Forbidden {
        /// The host.
        host: String,
        /// The address.
        address: IpAddr,
        /// loopback, private...
        kind: &'static str,
    },
}

/// A checked target: the URL, the host name to pin (when it is a name) and the addresses it may use.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) url: reqwest::Url,
    pub(crate) domain: Option<String>,
    pub(crate) addresses: Vec<SocketAddr>,
}

/// What kind of forbidden address this is, `None` when webhooks may reach it by default.
pub(crate) fn forbidden_kind(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // ::ffff:127.0.0.1 reaches 127.0.0.1.
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_private() {
        Some("private")
    } else if v4.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if v4.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
        Some("multicast or reserved")
    } else {
        None
    }
}

fn forbidden_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    if v6.is_loopback() {
        Some("loopback")
    } else if v6.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if v6.is_multicast() {
        Some("multicast or reserved")
    } else {
        None
    }
}

/// Resolves and checks a URL's host. Every address must pass; one forbidden address refuses the target.
pub(crate) async fn check(url: &str, allow: &[ipnet::IpNet]) -> Result<Target, Refusal> {
    let parsed = reqwest::Url::parse(url).map_err(|error| Refusal::BadUrl(format!("{url:?} is not a URL: {error}")))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(Refusal::BadUrl(format!("{url:?} is not an http or https URL")));
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    let host = parsed.host().ok_or_else(|| Refusal::BadUrl(format!("{url:?} has no host")))?;
    let (domain, addresses) = resolve_checked(host, port, allow).await?;
    Ok(Target { url: parsed, domain, addresses })
}

/// Resolves a host (a name, or an address as is) and checks every address it gives: the name to pin, when it is
/// one, and the addresses. Serves webhooks' URLs and forwarding's `host:port` destinations alike.
pub(crate) async fn resolve_checked(
    host: url::Host<&str>,
    port: u16,
    allow: &[ipnet::IpNet],
) -> Result<(Option<String>, Vec<SocketAddr>), Refusal> {
    let (domain, addresses) = match host {
        url::Host::Ipv4(v4) => (None, vec![SocketAddr::new(IpAddr::V4(v4), port)]),
        url::Host::Ipv6(v6) => (None, vec![SocketAddr::new(IpAddr::V6(v6), port)]),
        url::Host::Domain(name) => {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|error| Refusal::Unresolved { host: name.to_string(), error: error.to_string() })?
                .collect();
            if resolved.is_empty() {
                return Err(Refusal::Unresolved { host: name.to_string(), error: "no addresses".to_string() });
            }
            (Some(name.to_string()), resolved)
        }
    };
    let shown = domain.clone().unwrap_or_else(|| host.to_string());
    for address in &addresses {
        let ip = address.ip();
        if allow.iter().any(|network| network.contains(&ip)) {
            continue;
        }
        if let Some(kind) = forbidden_kind(ip) {
            return Err(Refusal::Forbidden { host: shown, address: ip, kind });
        }
    }
    Ok((domain, addresses))
}

/// An HTTP client that connects only to the checked addresses, follows no redirect, and gives up after
/// `timeout`.
pub(crate) fn client(target: &Target, timeout: std::time::Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .user_agent(concat!("Acta/", env!("CARGO_PKG_VERSION")));
    if let Some(domain) = &target.domain {
        builder = builder.resolve_to_addrs(domain, &target.addresses);
    }
    builder.build().map_err(|error| format!("building the HTTP client: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn loopback_private_link_local_and_metadata_are_forbidden() {
        for text in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1"] {
            assert!(forbidden_kind(ip(text)).is_some(), "{text}");
        }
        for text in ["fe80::1", "fd00::1", "100.64.0.1", "::ffff:127.0.0.1", "224.0.0.1"] {
            assert!(forbidden_kind(ip(text)).is_some(), "{text}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert_eq!(forbidden_kind(ip(text)), None, "{text}");
        }
    }

    #[tokio::test]
    async fn a_loopback_literal_is_refused_unless_allowed() {
        let refused = check("http://127.0.0.1:9/hook", &[]).await;
        assert!(matches!(refused, Err(Refusal::Forbidden { .. })), "{refused:?}");
        let allow: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().unwrap_or_else(|_| ipnet::IpNet::default())];
        assert!(check("http://127.0.0.1:9/hook", &allow).await.is_ok());
    }

    #[tokio::test]
    async fn localhost_by_name_is_refused_after_resolution() {
        let refused = check("http://localhost:9/hook", &[]).await;
        assert!(matches!(refused, Err(Refusal::Forbidden { .. })), "{refused:?}");
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        assert!(matches!(check("file:///etc/passwd", &[]).await, Err(Refusal::BadUrl(_))));
        assert!(matches!(check("gopher://example.com/", &[]).await, Err(Refusal::BadUrl(_))));
    }
}
