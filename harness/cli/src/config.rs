//! The `--config FILE` TOML: what a live target needs that the suite cannot discover by itself.
//!
//! Secrets never appear in the file: a value that is secret names the environment variable that
//! holds it (`*_env`), so the config can be committed next to a provider's CI.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use amp_runner::Timing;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub target: TargetSection,
    #[serde(default)]
    pub registration: RegistrationSection,
    pub federation: Option<FederationSection>,
    #[serde(default)]
    pub webhooks: WebhookSection,
    #[serde(default)]
    pub timing: TimingSection,
    /// Admin credential for the quarantine/suspension/risk cases (`[admin] key_env`).
    pub admin: Option<AdminSection>,
    /// An owner's User Key for the owner-authentication cases (`[owner] user_key_env`).
    pub owner: Option<OwnerSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerSection {
    /// Environment variable holding a User Key (`uk_…`) of a test account (never the key itself).
    pub user_key_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Environment variable holding the provider's admin bearer key (never the key itself).
    pub key_env: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// Base URL, used when `--target` is not given.
    pub base_url: Option<String>,
    /// WebSocket URL when it is not `<base>/ws`.
    pub ws_url: Option<String>,
    /// Tenant to register under (some providers fix it per user key).
    pub tenant: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSection {
    /// Extra headers sent with `POST /register`: header name → environment variable holding the value
    /// (e.g. `Authorization = "AMP_USER_KEY"` with `AMP_USER_KEY="Bearer uk_…"`).
    #[serde(default)]
    pub headers_env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// Domain the suite acts as when it plays a peer provider.
    pub peer_domain: String,
    /// Environment variable holding the peer's Ed25519 seed (64 hex chars) the target trusts.
    pub peer_key_seed_env: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// The target accepts webhook URLs on loopback (so the suite can run a receiver on 127.0.0.1).
    #[serde(default)]
    pub loopback: bool,
}

/// The target's own timings, in seconds, when they differ from the spec's (a provider
/// configured with shorter deadlines for testing). Cases wait the declared figure plus a margin,
/// so a target that declares shorter timings is held to them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingSection {
    /// WS-004 auth timeout (spec: 10).
    pub ws_auth_timeout: Option<f64>,
    /// How long a `ping` may wait for its `pong` (default: 10).
    pub ws_pong_wait: Option<f64>,
    /// WH-006 delay before the first webhook retry (spec: 30).
    pub webhook_first_retry: Option<f64>,
    /// How long to watch for something that must not happen (default: 3).
    pub observe_window: Option<f64>,
}

impl TimingSection {
    /// `base` with the declared fields replaced; an out-of-range value is an error naming it.
    pub fn apply(&self, base: Timing, path: &str) -> Result<Timing, ConfigError> {
        let mut t = base;
        for (key, value, slot) in [
            (
                "ws_auth_timeout",
                self.ws_auth_timeout,
                &mut t.ws_auth_timeout,
            ),
            ("ws_pong_wait", self.ws_pong_wait, &mut t.ws_pong_wait),
            (
                "webhook_first_retry",
                self.webhook_first_retry,
                &mut t.webhook_first_retry,
            ),
            ("observe_window", self.observe_window, &mut t.observe_window),
        ] {
            let Some(secs) = value else { continue };
            let max = Timing::MAX.as_secs_f64();
            if !(secs.is_finite() && secs > 0.0 && secs <= max) {
                return Err(ConfigError::BadTiming {
                    path: path.to_string(),
                    key: format!("timing.{key}"),
                    value: secs,
                    max,
                });
            }
            *slot = Duration::from_secs_f64(secs);
        }
        Ok(t)
    }
}

/// A config error, with the file and what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("config {path}: environment variable {var} (named by {key}) is not set")]
    MissingEnv {
        path: String,
        key: String,
        var: String,
    },
    #[error("config {path}: {key} must be 64 hex characters (an Ed25519 seed)")]
    BadSeed { path: String, key: String },
    #[error(
        "config {path}: {key} = {value} is out of range: give seconds, more than 0 and at most {max}"
    )]
    BadTiming {
        path: String,
        key: String,
        value: f64,
        max: f64,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown,
            message: e.to_string(),
        })
    }

    /// Registration headers with their values read from the environment.
    pub fn registration_headers(&self, path: &str) -> Result<Vec<(String, String)>, ConfigError> {
        self.registration
            .headers_env
            .iter()
            .map(|(name, var)| {
                std::env::var(var)
                    .map(|v| (name.clone(), v))
                    .map_err(|_| ConfigError::MissingEnv {
                        path: path.to_string(),
                        key: format!("registration.headers_env.{name}"),
                        var: var.clone(),
                    })
            })
            .collect()
    }

    /// The admin bearer key, read from the environment (`None` without an `[admin]` section).
    pub fn admin_key(&self, path: &str) -> Result<Option<String>, ConfigError> {
        self.admin
            .as_ref()
            .map(|a| secret_from_env(path, "admin.key_env", &a.key_env))
            .transpose()
    }

    /// The owner's User Key, read from the environment (`None` without an `[owner]` section).
    pub fn user_key(&self, path: &str) -> Result<Option<String>, ConfigError> {
        self.owner
            .as_ref()
            .map(|o| secret_from_env(path, "owner.user_key_env", &o.user_key_env))
            .transpose()
    }

    /// The federation peer seed, read from the environment.
    pub fn peer_seed(&self, path: &str) -> Result<Option<(String, [u8; 32])>, ConfigError> {
        let Some(fed) = &self.federation else {
            return Ok(None);
        };
        let key = "federation.peer_key_seed_env".to_string();
        let raw = std::env::var(&fed.peer_key_seed_env).map_err(|_| ConfigError::MissingEnv {
            path: path.to_string(),
            key: key.clone(),
            var: fed.peer_key_seed_env.clone(),
        })?;
        let bytes = hex::decode(raw.trim()).map_err(|_| ConfigError::BadSeed {
            path: path.to_string(),
            key: key.clone(),
        })?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| ConfigError::BadSeed {
            path: path.to_string(),
            key,
        })?;
        Ok(Some((fed.peer_domain.clone(), seed)))
    }
}

/// A secret named by a `*_env` key of the config: the trimmed value of environment variable
/// `var`, or an error naming the config `key` when it is not set.
fn secret_from_env(path: &str, key: &str, var: &str) -> Result<String, ConfigError> {
    std::env::var(var)
        .map(|v| v.trim().to_string())
        .map_err(|_| ConfigError::MissingEnv {
            path: path.to_string(),
            key: key.to_string(),
            var: var.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_the_key_named() {
        let err = toml::from_str::<Config>("[target]\nbase_urll = 'x'\n").unwrap_err();
        assert!(err.to_string().contains("base_urll"), "{err}");
    }

    #[test]
    fn full_config_parses() {
        let cfg: Config = toml::from_str(
            r#"
            [target]
            base_url = "http://127.0.0.1:1/v1"
            tenant = "acme"
            [registration.headers_env]
            Authorization = "AMP_TEST_USER_KEY"
            [federation]
            peer_domain = "peer.test"
            peer_key_seed_env = "AMP_TEST_PEER_SEED"
            [webhooks]
            loopback = true
            [timing]
            ws_auth_timeout = 2
            webhook_first_retry = 0.5
            "#,
        )
        .unwrap();
        assert_eq!(cfg.target.tenant.as_deref(), Some("acme"));
        assert!(cfg.webhooks.loopback);
        assert_eq!(cfg.federation.unwrap().peer_domain, "peer.test");
        let t = cfg.timing.apply(Timing::SPEC, "x.toml").unwrap();
        assert_eq!(t.ws_auth_timeout, Duration::from_secs(2));
        assert_eq!(t.webhook_first_retry, Duration::from_millis(500));
        // Undeclared timings keep the spec's figures.
        assert_eq!(t.ws_pong_wait, Timing::SPEC.ws_pong_wait);
        assert_eq!(t.observe_window, Timing::SPEC.observe_window);
    }

    #[test]
    fn admin_section_names_an_environment_variable() {
        let cfg: Config = toml::from_str(
            r#"
            [admin]
            key_env = "AMP_TEST_ADMIN_KEY_SURELY_UNSET_1f3a"
            "#,
        )
        .unwrap();
        // The key itself never sits in the file; an unset variable is a clear config error.
        let e = cfg.admin_key("x.toml").unwrap_err().to_string();
        assert!(e.contains("AMP_TEST_ADMIN_KEY_SURELY_UNSET_1f3a"), "{e}");
        assert!(toml::from_str::<Config>("[admin]\nkey = \"amp_admin_x\"").is_err());
        assert!(Config::default().admin_key("x.toml").unwrap().is_none());
    }

    #[test]
    fn owner_section_names_an_environment_variable() {
        let cfg: Config = toml::from_str(
            r#"
            [owner]
            user_key_env = "AMP_TEST_USER_KEY_SURELY_UNSET_7c2e"
            "#,
        )
        .unwrap();
        let e = cfg.user_key("x.toml").unwrap_err().to_string();
        assert!(e.contains("owner.user_key_env"), "{e}");
        assert!(toml::from_str::<Config>("[owner]\nuser_key = \"uk_x\"").is_err());
        assert!(Config::default().user_key("x.toml").unwrap().is_none());
    }

    #[test]
    fn example_config_declares_the_default_timings() {
        let cfg: Config =
            toml::from_str(include_str!("../../../suites/config.example.toml")).unwrap();
        assert_eq!(cfg.timing.apply(Timing::SPEC, "x").unwrap(), Timing::SPEC);
        assert!(cfg.timing.ws_auth_timeout.is_some());
    }

    #[test]
    fn timing_section_rejects_bad_values_and_keys() {
        for bad in [
            "ws_auth_timeout = 0",
            "observe_window = -1",
            "ws_pong_wait = 1e9",
        ] {
            let cfg: Config = toml::from_str(&format!("[timing]\n{bad}\n")).unwrap();
            let e = cfg.timing.apply(Timing::SPEC, "x.toml").unwrap_err();
            let key = bad.split(' ').next().unwrap_or_default();
            assert!(e.to_string().contains(&format!("timing.{key}")), "{e}");
        }
        let err = toml::from_str::<Config>("[timing]\nws_auth = 1\n").unwrap_err();
        assert!(err.to_string().contains("ws_auth"), "{err}");
        // No [timing] section: the spec's figures.
        let cfg: Config = toml::from_str("").unwrap();
        assert_eq!(cfg.timing.apply(Timing::SPEC, "x").unwrap(), Timing::SPEC);
    }
}
