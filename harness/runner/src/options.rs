//! Run configuration.

use crate::verdict::Level;
pub use crate::verdict::{Reading, judge_reading, judge_reported_reading};
use amp_client::Secret;
use amp_core::{FingerprintProfile, PayloadProfile};
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
    #[error(
        "timing `{name}` = {value:?} is out of range: give a positive duration of at most {} s",
        Timing::MAX.as_secs()
    )]
    BadTiming { name: &'static str, value: Duration },
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

/// The provider timings cases wait on. Defaults are the spec's figures, so against a live
/// target the suite waits what the spec allows; a target that declares shorter timings (the
/// embedded mock, or a `[timing]` section of `--config`) is judged against its own declaration,
/// which keeps negative cases ("the socket must close", "a retry must come") fast.
///
/// Every wait for an event a provider *must* produce is `deadline + margin`
/// ([`Timing::with_margin`]) and ends as soon as the event arrives: a correct provider never
/// costs the full wait, a defective one costs its declared deadline plus the margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// WS-004: an unauthenticated socket is closed after this long (spec: 10 s).
    pub ws_auth_timeout: Duration,
    /// WS-009: how long a `ping` may wait for its `pong`. The spec gives no figure; the default
    /// is the default request timeout (10 s).
    pub ws_pong_wait: Duration,
    /// WH-006: delay between a failed webhook attempt and the first retry (spec: 30 s).
    pub webhook_first_retry: Duration,
    /// How long to watch for something that must *not* happen (an error frame after a valid
    /// frame, a retry after a 4xx). Not a spec figure: a longer window catches slower
    /// misbehaviour, a shorter one makes passing runs faster.
    pub observe_window: Duration,
}

impl Timing {
    /// The spec's figures (10 s, 10 s, 30 s) and a 3 s observation window.
    pub const SPEC: Timing = Timing {
        ws_auth_timeout: Duration::from_secs(10),
        ws_pong_wait: Duration::from_secs(10),
        webhook_first_retry: Duration::from_secs(30),
        observe_window: Duration::from_secs(3),
    };

    /// Longest timing accepted: beyond this a case could hold a run for an unreasonable time.
    pub const MAX: Duration = Duration::from_secs(600);

    /// Smallest slack added to a deadline (scheduling and loopback latency under load).
    pub const MIN_MARGIN: Duration = Duration::from_secs(1);

    /// Slack on top of a provider deadline: a fifth of it, at least [`Timing::MIN_MARGIN`]
    /// (10 s → 2 s, 30 s → 6 s, 1 s → 1 s).
    pub fn margin(deadline: Duration) -> Duration {
        (deadline / 5).max(Self::MIN_MARGIN)
    }

    /// `deadline` plus [`Timing::margin`]: how long to wait for an event due by `deadline`.
    pub fn with_margin(deadline: Duration) -> Duration {
        deadline.saturating_add(Self::margin(deadline))
    }

    /// Every field is positive and at most [`Timing::MAX`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("ws_auth_timeout", self.ws_auth_timeout),
            ("ws_pong_wait", self.ws_pong_wait),
            ("webhook_first_retry", self.webhook_first_retry),
            ("observe_window", self.observe_window),
        ] {
            if value.is_zero() || value > Self::MAX {
                return Err(ConfigError::BadTiming { name, value });
            }
        }
        Ok(())
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::SPEC
    }
}

/// C-11: what a provider does with a client-supplied `from` that is not the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FromHandling {
    /// Refuse the mismatch with 403 (SIG-013).
    Reject,
    /// Replace it with the authenticated sender (the signature then no longer verifies, or the
    /// message is delivered with the real sender).
    Overwrite,
    /// Refuse it as a schema violation (400).
    Schema,
}

impl Reading for FromHandling {
    const FLAG: &'static str = "--from-handling";
    const CONTRADICTION: &'static str = "C-11";
    const DEFAULT: Self = FromHandling::Reject;
    fn name(self) -> &'static str {
        match self {
            FromHandling::Reject => "reject",
            FromHandling::Overwrite => "overwrite",
            FromHandling::Schema => "schema",
        }
    }
}

/// C-37: what a provider does with a message to an unregistered local address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownRecipient {
    /// Refuse with 404 `not_found`.
    Reject,
    /// Accept and queue it for a later registration.
    Queue,
}

impl Reading for UnknownRecipient {
    const FLAG: &'static str = "--unknown-recipient";
    const CONTRADICTION: &'static str = "C-37";
    const DEFAULT: Self = UnknownRecipient::Reject;
    fn name(self) -> &'static str {
        match self {
            UnknownRecipient::Reject => "reject",
            UnknownRecipient::Queue => "queue",
        }
    }
}

/// C-40: whether the target requires a signature on messages between its own local agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningPolicy {
    /// Every route request must be signed: an unsigned one is refused with 422
    /// `signature_missing` (SIG-002).
    Required,
    /// Unsigned messages from the provider's own local agents are accepted (SIG-003 MAY);
    /// cross-provider messages still need a signature.
    LocalRelaxed,
}

impl Reading for SigningPolicy {
    const FLAG: &'static str = "--signing";
    const CONTRADICTION: &'static str = "C-40";
    const DEFAULT: Self = SigningPolicy::Required;
    fn name(self) -> &'static str {
        match self {
            SigningPolicy::Required => "required",
            SigningPolicy::LocalRelaxed => "local-relaxed",
        }
    }
}

/// C-35: whether a risk score is capped at 100. The formula of 07 reaches 300 (every message
/// blocked); 08 documents an integer 0–100 and the thresholds end at 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskRange {
    /// The formula's value capped at 100 (what the API documents).
    Clamp100,
    /// The formula's value as is, up to 300.
    Raw,
}

impl Reading for RiskRange {
    const FLAG: &'static str = "--risk";
    const CONTRADICTION: &'static str = "C-35";
    const DEFAULT: Self = RiskRange::Clamp100;
    fn name(self) -> &'static str {
        match self {
            RiskRange::Clamp100 => "clamp100",
            RiskRange::Raw => "raw",
        }
    }
}

/// C-19: the bytes a `SHA256:` key fingerprint hashes and how it is printed.
impl Reading for FingerprintProfile {
    const FLAG: &'static str = "--fingerprint";
    const CONTRADICTION: &'static str = "C-19";
    const DEFAULT: Self = FingerprintProfile::Raw32B64Pad;
    fn name(self) -> &'static str {
        FingerprintProfile::name(self)
    }
}

/// The contradiction profiles a run declares. `None`/`false` = not declared: cases apply the
/// default reading and warn (citing the contradiction) when the target follows another one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContradictionProfiles {
    /// `--from-handling` (C-11).
    pub from_handling: Option<FromHandling>,
    /// `--unknown-recipient` (C-37).
    pub unknown_recipient: Option<UnknownRecipient>,
    /// `--signing` (C-40).
    pub signing: Option<SigningPolicy>,
    /// `--fingerprint` (C-19).
    pub fingerprint: Option<FingerprintProfile>,
    /// `--risk` (C-35).
    pub risk: Option<RiskRange>,
    /// `--strict-ids` (C-12): message ids must be lowercase hex after `msg_<unix>_`.
    pub strict_ids: bool,
    /// `--strict-schema` (C-41, C-42): provider responses and delivered messages are validated
    /// against the published schemas.
    pub strict_schema: bool,
}

impl ContradictionProfiles {
    /// The fingerprint form cases check against: the declared one, else the default.
    pub fn fingerprint_form(&self) -> FingerprintProfile {
        self.fingerprint
            .unwrap_or(<FingerprintProfile as Reading>::DEFAULT)
    }

    /// The declared profiles as `(profile name, value)`, for the report. Undeclared ones are
    /// left out.
    pub fn declared(&self) -> Vec<(&'static str, &'static str)> {
        let mut v = Vec::new();
        if let Some(f) = self.from_handling {
            v.push(("from-handling", f.name()));
        }
        if let Some(u) = self.unknown_recipient {
            v.push(("unknown-recipient", u.name()));
        }
        if let Some(s) = self.signing {
            v.push(("signing", s.name()));
        }
        if let Some(f) = self.fingerprint {
            v.push(("fingerprint", f.name()));
        }
        if let Some(r) = self.risk {
            v.push(("risk", r.name()));
        }
        if self.strict_ids {
            v.push(("strict-ids", "on"));
        }
        if self.strict_schema {
            v.push(("strict-schema", "on"));
        }
        v
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
    /// Provider timings cases wait on (spec figures unless the target declares its own).
    pub timing: Timing,
    /// Declared readings of spec contradictions (`--from-handling` ...).
    pub contradictions: ContradictionProfiles,
    /// Admin bearer credential for the quarantine/suspension/risk endpoints (`Need::AdminKey`
    /// cases); `None` = those cases skip.
    pub admin_key: Option<Secret>,
    /// An owner's User Key (`uk_…`, spec 03 Owner Authentication) for the REG-011/013/014
    /// cases; `None` = those cases skip.
    pub user_key: Option<Secret>,
}

impl RunOptions {
    /// Defaults: profile `sorted`, all levels, not strict, concurrency 8, case timeout 30 s,
    /// request timeout 10 s, no loopback webhooks, random seed, the spec's timings, no declared
    /// contradiction profiles.
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
            timing: Timing::SPEC,
            contradictions: ContradictionProfiles::default(),
            admin_key: None,
            user_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Failure, Outcome};

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
    fn timing_defaults_are_the_spec_figures() {
        let o = RunOptions::for_target("http://127.0.0.1:1/v1").unwrap();
        assert_eq!(o.timing, Timing::default());
        assert_eq!(o.timing.ws_auth_timeout, Duration::from_secs(10));
        assert_eq!(o.timing.ws_pong_wait, Duration::from_secs(10));
        assert_eq!(o.timing.webhook_first_retry, Duration::from_secs(30));
        assert!(o.timing.observe_window >= Duration::from_secs(1));
        assert!(o.timing.validate().is_ok());
        assert_eq!(o.contradictions, ContradictionProfiles::default());
        assert!(o.contradictions.declared().is_empty());
    }

    #[test]
    fn timing_margins_scale_with_the_deadline() {
        let s = Duration::from_secs;
        assert_eq!(Timing::with_margin(s(10)), s(12));
        assert_eq!(Timing::with_margin(s(30)), s(36));
        // Short declared deadlines keep the minimum slack.
        assert_eq!(Timing::with_margin(s(1)), s(2));
        assert_eq!(
            Timing::with_margin(Duration::from_millis(300)),
            Duration::from_millis(1300)
        );
        assert_eq!(Timing::with_margin(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn timing_overrides_are_validated() {
        let mut t = Timing {
            ws_auth_timeout: Duration::from_secs(1),
            ..Timing::SPEC
        };
        assert!(t.validate().is_ok());
        t.observe_window = Duration::ZERO;
        let e = t.validate().unwrap_err();
        assert!(e.to_string().contains("observe_window"), "{e}");
        t.observe_window = Duration::from_secs(1);
        t.webhook_first_retry = Timing::MAX + Duration::from_secs(1);
        assert!(t.validate().is_err());
    }

    #[test]
    fn reported_readings_pass_or_warn() {
        use RiskRange::*;
        assert!(matches!(
            judge_reported_reading(None, Clamp100, "x"),
            Ok(Outcome::Pass)
        ));
        assert!(matches!(
            judge_reported_reading(Some(Raw), Raw, "x"),
            Ok(Outcome::Pass)
        ));
        for (declared, observed) in [(None, Raw), (Some(Raw), Clamp100)] {
            match judge_reported_reading(declared, observed, "x") {
                Ok(Outcome::Warn {
                    contradiction,
                    reason,
                }) => {
                    assert_eq!(contradiction, Some("C-35"));
                    let named = format!("`{}` reading", observed.name());
                    assert!(reason.contains(&named), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
        let p = ContradictionProfiles {
            fingerprint: Some(FingerprintProfile::SpkiDer),
            risk: Some(Raw),
            ..Default::default()
        };
        assert_eq!(p.fingerprint_form(), FingerprintProfile::SpkiDer);
        assert_eq!(
            p.declared(),
            vec![("fingerprint", "spki-der"), ("risk", "raw")]
        );
        let d = ContradictionProfiles::default().fingerprint_form();
        assert_eq!(d, FingerprintProfile::Raw32B64Pad);
    }

    #[test]
    fn readings_pass_warn_or_fail() {
        use FromHandling::*;
        // Nothing declared: the default reading passes, another warns citing the record.
        assert!(matches!(
            judge_reading(None, Reject, "x"),
            Ok(Outcome::Pass)
        ));
        match judge_reading(None, Overwrite, "x") {
            Ok(Outcome::Warn {
                contradiction,
                reason,
            }) => {
                assert_eq!(contradiction, Some("C-11"));
                assert!(reason.contains("--from-handling overwrite"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // Declared: the matching reading passes, any other fails.
        assert!(matches!(
            judge_reading(Some(Overwrite), Overwrite, "x"),
            Ok(Outcome::Pass)
        ));
        assert!(matches!(
            judge_reading(Some(Overwrite), Reject, "x"),
            Err(Failure::Fail(_))
        ));
        assert!(matches!(
            judge_reading(Some(UnknownRecipient::Queue), UnknownRecipient::Queue, "x"),
            Ok(Outcome::Pass)
        ));
        assert!(matches!(
            judge_reading(Some(UnknownRecipient::Reject), UnknownRecipient::Queue, "x"),
            Err(Failure::Fail(_))
        ));
        let p = ContradictionProfiles {
            from_handling: Some(Schema),
            strict_ids: true,
            ..Default::default()
        };
        assert_eq!(
            p.declared(),
            vec![("from-handling", "schema"), ("strict-ids", "on")]
        );
    }

    #[test]
    fn expected_failures_parse() {
        let x = ExpectedFailures::parse("# header\nroute.a  # why\n\n  ws.b\n#c\n");
        assert_eq!(x.ids.len(), 2);
        assert!(x.contains("route.a") && x.contains("ws.b"));
    }
}
