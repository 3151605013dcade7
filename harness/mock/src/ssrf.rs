//! Webhook URL validation at registration and `PATCH /agents/me` (WH-011, WH-012, WH-014,
//! WH-015).
//!
//! The `url` crate parses hosts the WHATWG way, so alternative IPv4 encodings (`2130706433`,
//! `0x7f.1`, `0177.0.0.1`, `127.1`) arrive here already normalised to an IPv4 address and are
//! judged like the dotted form. Host names are not resolved at registration time (a test
//! provider must not depend on DNS); delivery-time re-validation belongs to the webhook sender.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Why a webhook URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not a parseable absolute URL.
    #[error("webhook_url is not a valid absolute URL: {0}")]
    Unparseable(String),
    /// `http://` (or another scheme) instead of `https://` (WH-015).
    #[error("webhook_url must use https:// (WH-015)")]
    NotHttps,
    /// Embedded credentials.
    #[error("webhook_url must not contain user:password credentials")]
    Credentials,
    /// Host names a private / loopback / link-local / metadata / multicast target (WH-012/014).
    #[error(
        "webhook_url host `{0}` is a private, loopback, link-local, multicast or metadata address (WH-012): use a public HTTPS endpoint"
    )]
    Forbidden(String),
}

/// Validate a webhook URL. `allow_loopback` (test mocks only) admits loopback targets, with
/// plain `http://` as well.
pub fn validate_webhook_url(raw: &str, allow_loopback: bool) -> Result<Url, WebhookUrlError> {
    let url = Url::parse(raw.trim()).map_err(|e| WebhookUrlError::Unparseable(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookUrlError::Credentials);
    }
    let host = url
        .host()
        .ok_or_else(|| WebhookUrlError::Unparseable("no host".into()))?;
    let (loopback, forbidden, label) = match &host {
        Host::Ipv4(ip) => (ip.is_loopback(), v4_forbidden(*ip), ip.to_string()),
        Host::Ipv6(ip) => (
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
            v6_forbidden(*ip),
            ip.to_string(),
        ),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let lo = d == "localhost" || d.ends_with(".localhost");
            (lo, lo || name_forbidden(&d), d)
        }
    };
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => allow_loopback && loopback,
        _ => false,
    };
    if loopback && allow_loopback {
        return if scheme_ok {
            Ok(url)
        } else {
            Err(WebhookUrlError::NotHttps)
        };
    }
    if forbidden {
        return Err(WebhookUrlError::Forbidden(label));
    }
    if !scheme_ok {
        return Err(WebhookUrlError::NotHttps);
    }
    Ok(url)
}

fn name_forbidden(d: &str) -> bool {
    // Cloud metadata names and internal-only suffixes.
    const NAMES: &[&str] = &["metadata", "metadata.google.internal", "instance-data"];
    NAMES.contains(&d)
        || d.ends_with(".internal")
        || d.ends_with(".local")
        || d.ends_with(".localdomain")
        || d.parse::<IpAddr>().is_ok()
}

/// IPv4 ranges refused by WH-012 (plus the other special-purpose ranges that are never a
/// legitimate public webhook target).
pub fn v4_forbidden(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()                                  // 127/8
        || ip.is_private()                            // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()                         // 169.254/16 incl. metadata
        || ip.is_multicast()                          // 224/4
        || ip.is_broadcast()
        || ip.is_unspecified()
        || o[0] == 0                                  // 0/8
        || (o[0] == 100 && (o[1] & 0xc0) == 64)       // 100.64/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)    // 192.0.0/24
        || (o[0] == 198 && (o[1] & 0xfe) == 18)       // 198.18/15
        || o[0] >= 240 // 240/4 reserved
}

/// IPv6 ranges refused by WH-012 (and v4-mapped / NAT64 forms of refused IPv4 addresses).
pub fn v6_forbidden(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_forbidden(v4);
    }
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) embeddings.
    if seg[..6] == [0, 0, 0, 0, 0, 0] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return ip.is_loopback() || ip.is_unspecified() || v4_forbidden(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()                 // ff00::/8
        || (seg[0] & 0xffc0) == 0xfe80       // fe80::/10 link-local
        || (seg[0] & 0xfe00) == 0xfc00       // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_and_encoded_targets() {
        for u in [
            "https://127.0.0.1/h",
            "https://10.1.2.3/h",
            "https://172.16.0.1/h",
            "https://192.168.1.1/h",
            "https://169.254.169.254/latest",
            "https://0xA9FEA9FE/",
            "https://0177.0.0.1/",
            "https://2130706433/",
            "https://127.1/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[fd00::1]/",
            "https://224.0.0.1/",
            "https://[ff02::1]/",
            "https://localhost/",
            "https://metadata.google.internal/",
            "https://0.0.0.0/",
        ] {
            assert!(validate_webhook_url(u, false).is_err(), "{u} accepted");
        }
    }

    #[test]
    fn requires_https_and_allows_public() {
        assert_eq!(
            validate_webhook_url("http://example.com/h", false),
            Err(WebhookUrlError::NotHttps)
        );
        assert!(validate_webhook_url("https://example.com/h", false).is_ok());
        assert!(validate_webhook_url("https://93.184.216.34/h", false).is_ok());
        assert!(validate_webhook_url("ftp://example.com/", false).is_err());
        assert!(validate_webhook_url("https://u:p@example.com/", false).is_err());
        assert!(validate_webhook_url("not a url", false).is_err());
    }

    #[test]
    fn loopback_only_when_allowed() {
        assert!(validate_webhook_url("http://127.0.0.1:9/h", true).is_ok());
        assert!(validate_webhook_url("https://127.0.0.1:9/h", true).is_ok());
        assert!(validate_webhook_url("http://10.0.0.1/h", true).is_err());
        assert!(validate_webhook_url("https://169.254.169.254/", true).is_err());
    }
}
