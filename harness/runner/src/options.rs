//! Run configuration.

use crate::case::Level;
use amp_client::Secret;
use amp_core::PayloadProfile;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Where the target lives. `base_url` includes the version prefix (`http://host:8080/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// No trailing slash; request paths are appended (`{base_url}/route`).
    pub base_url: String,
    /// `scheme://host[:port]`, for origin-level paths (`/.well-known/...`).
    pub origin: String,
    /// `{base_url}/ws` with `http→ws`, `https→wss`.
    pub ws_url: String,
}

/// A configuration error: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid target URL `{url}`: {reason} (give e.g. http://127.0.0.1:8080/v1)")]
    BadUrl { url: String, reason: String },
    #[error("invalid pattern `{pattern}`: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("cannot read expected-failures file {path}: {reason}")]
    ExpectedFailures { path: String, reason: String },
}

impl Target {
    pub fn from_base_url(url: &str) -> Result<Target, ConfigError> {
        let bad = |reason: &str| ConfigError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = url.trim().trim_end_matches('/');
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| bad("missing scheme"))?;
        let ws_scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "ws",
            "https" => "wss",
            _ => return Err(bad("scheme must be http or https")),
        };
        if rest.contains(['?', '#']) {
            return Err(bad("no query or fragment allowed"));
        }
        let host_port = rest.split('/').next().unwrap_or("");
        if host_port.is_empty()
            || host_port.contains('@')
            || host_port.contains(char::is_whitespace)
        {
            return Err(bad("missing or invalid host"));
        }
        let path = &rest[host_port.len()..];
        let scheme = scheme.to_ascii_lowercase();
        Ok(Target {
            base_url: format!("{scheme}://{host_port}{path}"),
            origin: format!("{scheme}://{host_port}"),
            ws_url: format!("{ws_scheme}://{host_port}{path}/ws"),
        })
    }

    /// Resolve a case path: absolute URLs pass through, `/x` → `{base_url}/x`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        if path.starts_with('/') {
            format!("{}{}", self.base_url, path)
        } else {
            format!("{}/{}", self.base_url, path)
        }
    }

    /// Origin-level URL: `/.well-known/x` → `{origin}/.well-known/x`.
    pub fn origin_url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.origin, path)
        } else {
            format!("{}/{}", self.origin, path)
        }
    }
}

/// A federation peer the tester can act as (see the federation cases).
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Provider domain the tester claims as a peer (`X-AMP-Provider`).
    pub provider: String,
    /// Base URL the target can reach the tester's peer endpoints at.
    pub endpoint: String,
    /// Seed of the peer's Ed25519 provider key (deterministic so the target can pin it).
    pub key_seed: [u8; 32],
}

/// Case ids expected to fail (`--expected-failures FILE`): one id per line, `#` comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedFailures {
    pub ids: BTreeSet<String>,
    /// Where they came from (shown in the report).
    pub source: Option<String>,
}

impl ExpectedFailures {
    pub fn parse(text: &str) -> ExpectedFailures {
        let ids = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        ExpectedFailures { ids, source: None }
    }

    pub fn load(path: &Path) -> Result<ExpectedFailures, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::ExpectedFailures {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut x = Self::parse(&text);
        x.source = Some(path.display().to_string());
        Ok(x)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    pub profile: PayloadProfile,
    /// Run only cases at or above this level.
    pub level_filter: Option<Level>,
    /// Warnings fail the run.
    pub strict: bool,
    /// Glob patterns on case ids; empty = all.
    pub run_patterns: Vec<String>,
    pub skip_patterns: Vec<String>,
    /// Cases in flight at once.
    pub concurrency: usize,
    /// Whole-case deadline; a case over it is an error.
    pub case_timeout: Duration,
    /// Per-request deadline (HTTP and each WebSocket operation).
    pub request_timeout: Duration,
    pub expected_failures: ExpectedFailures,
    /// Tenant to register agents in; default `ampc<run id>`.
    pub tenant: Option<String>,
    /// Extra headers on registration requests (e.g. a user key); values are secrets.
    pub registration_headers: Vec<(String, Secret)>,
    pub federation_peer: Option<PeerConfig>,
    /// The target may deliver webhooks to 127.0.0.1 (it runs on this machine).
    pub loopback_webhooks: bool,
    /// Seed for names and keys; `None` = random.
    pub seed: Option<u64>,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

impl RunOptions {
    /// Defaults: profile `sorted`, all levels, not strict, concurrency 8, case timeout 30 s,
    /// request timeout 10 s, no loopback webhooks, random seed.
    pub fn for_target(base_url: &str) -> Result<RunOptions, ConfigError> {
        Ok(RunOptions {
            target: Target::from_base_url(base_url)?,
            profile: PayloadProfile::Sorted,
            level_filter: None,
            strict: false,
            run_patterns: Vec::new(),
            skip_patterns: Vec::new(),
            concurrency: 8,
            case_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            expected_failures: ExpectedFailures::default(),
            tenant: None,
            registration_headers: Vec::new(),
            federation_peer: None,
            loopback_webhooks: false,
            seed: None,
            progress: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_derivation() {
        let t = Target::from_base_url("http://127.0.0.1:8080/v1/").unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(t.origin, "http://127.0.0.1:8080");
        assert_eq!(t.ws_url, "ws://127.0.0.1:8080/v1/ws");
        assert_eq!(t.url("/route"), "http://127.0.0.1:8080/v1/route");
        assert_eq!(t.url("info"), "http://127.0.0.1:8080/v1/info");
        assert_eq!(
            t.origin_url("/.well-known/agent-messaging.json"),
            "http://127.0.0.1:8080/.well-known/agent-messaging.json"
        );
        let t = Target::from_base_url("HTTPS://api.example.test/v1").unwrap();
        assert_eq!(t.ws_url, "wss://api.example.test/v1/ws");
        assert!(Target::from_base_url("ftp://x/v1").is_err());
        assert!(Target::from_base_url("127.0.0.1:8080").is_err());
        assert!(Target::from_base_url("http:///v1").is_err());
        assert!(Target::from_base_url("http://u:p@h/v1").is_err());
    }

    #[test]
    fn expected_failures_parse() {
        let x = ExpectedFailures::parse("# header\nroute.a  # why\n\n  ws.b\n#c\n");
        assert_eq!(x.ids.len(), 2);
        assert!(x.contains("route.a") && x.contains("ws.b"));
    }
}
