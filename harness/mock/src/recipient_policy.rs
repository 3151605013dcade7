//! Per-agent communication policy (spec 03 › Agent Communication Policy, POL-001..003): an
//! agent in `restricted` mode may only write to recipients matching one of its
//! `allowed_recipients` patterns; `open` (the default) allows everyone.
//!
//! Patterns (POL-002), compared case-insensitively (ADDR-005): `*@*` matches every address,
//! `*@*.<domain>` every address whose domain ends in `.<domain>` (any tenant of that provider),
//! `*@<domain>` every name at exactly that domain, anything else one exact address.

use crate::error::ApiError;
use serde_json::{Value, json};

/// A parsed `communication_policy`. `Open` needs no list; `Restricted` keeps the patterns as
/// sent (lower-cased for matching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommunicationPolicy {
    Open,
    Restricted { allowed: Vec<String> },
}

/// How loosely `*@<domain>` is read: `Exact` is POL-002; `AnyTenant` is the
/// `policy-domain-any-tenant` defect, which compares only the provider part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainReading<'a> {
    Exact,
    AnyTenant { provider_domain: &'a str },
}

impl CommunicationPolicy {
    /// Parse the request field; a wrong shape is a 400 naming `communication_policy`.
    pub fn parse(v: &Value) -> Result<CommunicationPolicy, ApiError> {
        let bad = |why: &str| {
            ApiError::invalid_field(
                "communication_policy",
                format!(
                    "{why}: send {{\"mode\": \"open\"|\"restricted\", \"allowed_recipients\": [\"<address or pattern>\", …]}}"
                ),
            )
        };
        let o = v.as_object().ok_or_else(|| bad("must be an object"))?;
        let list = match o.get("allowed_recipients") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|p| p.as_str().map(str::to_ascii_lowercase))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| bad("allowed_recipients must be strings"))?,
            ),
            Some(_) => return Err(bad("allowed_recipients must be an array")),
        };
        match o.get("mode").and_then(Value::as_str) {
            None | Some("open") => Ok(CommunicationPolicy::Open),
            Some("restricted") => Ok(CommunicationPolicy::Restricted {
                allowed: list.unwrap_or_default(),
            }),
            Some(_) => Err(bad("mode must be `open` or `restricted`")),
        }
    }

    /// The policy as `GET /agents/me` shows it.
    pub fn to_json(&self) -> Value {
        match self {
            CommunicationPolicy::Open => json!({"mode": "open", "allowed_recipients": []}),
            CommunicationPolicy::Restricted { allowed } => {
                json!({"mode": "restricted", "allowed_recipients": allowed})
            }
        }
    }

    /// May the agent write to the full address `to`?
    pub fn allows(&self, to: &str, reading: DomainReading<'_>) -> bool {
        match self {
            CommunicationPolicy::Open => true,
            CommunicationPolicy::Restricted { allowed } => {
                allowed.iter().any(|p| pattern_matches(p, to, reading))
            }
        }
    }
}

/// Does one (lower-cased) pattern match `address` (POL-002)?
fn pattern_matches(pattern: &str, address: &str, reading: DomainReading<'_>) -> bool {
    let address = address.to_ascii_lowercase();
    let Some((_, domain)) = address.split_once('@') else {
        return false;
    };
    match pattern.strip_prefix("*@") {
        None => pattern == address,
        Some("*") => true,
        Some(rest) => match rest.strip_prefix("*.") {
            Some(provider) => domain
                .strip_suffix(provider)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => match reading {
                DomainReading::Exact => domain == rest,
                DomainReading::AnyTenant { provider_domain } => {
                    let provider = provider_domain.to_ascii_lowercase();
                    rest.ends_with(&provider) && domain.ends_with(&provider)
                }
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restricted(p: &[&str]) -> CommunicationPolicy {
        CommunicationPolicy::parse(&json!({"mode": "restricted", "allowed_recipients": p}))
            .unwrap_or(CommunicationPolicy::Open)
    }

    #[test]
    fn patterns_follow_pol_002() {
        let exact = DomainReading::Exact;
        let p = restricted(&["*@acme.p.test"]);
        assert!(p.allows("bob@acme.p.test", exact));
        assert!(p.allows("Bob@ACME.p.test", exact));
        assert!(!p.allows("bob@other.p.test", exact));
        assert!(!p.allows("bob@x.acme.p.test", exact));
        let p = restricted(&["*@*.p.test"]);
        assert!(p.allows("bob@acme.p.test", exact));
        assert!(p.allows("bob@other.p.test", exact));
        assert!(!p.allows("bob@p.test", exact));
        assert!(!p.allows("bob@acme.xp.test", exact));
        assert!(restricted(&["*@*"]).allows("x@y.z", exact));
        let p = restricted(&["bob@acme.p.test"]);
        assert!(p.allows("bob@acme.p.test", exact));
        assert!(!p.allows("carol@acme.p.test", exact));
        assert!(!restricted(&[]).allows("bob@acme.p.test", exact));
        assert!(CommunicationPolicy::Open.allows("anyone@any.where", exact));
    }

    #[test]
    fn any_tenant_reading_widens_domain_patterns_only() {
        let loose = DomainReading::AnyTenant {
            provider_domain: "p.test",
        };
        let p = restricted(&["*@acme.p.test"]);
        assert!(p.allows("bob@other.p.test", loose));
        assert!(!p.allows("bob@other.q.test", loose));
        assert!(!restricted(&["bob@acme.p.test"]).allows("carol@acme.p.test", loose));
    }

    #[test]
    fn shapes_are_checked() {
        assert!(CommunicationPolicy::parse(&json!("restricted")).is_err());
        assert!(CommunicationPolicy::parse(&json!({"mode": "closed"})).is_err());
        assert!(
            CommunicationPolicy::parse(&json!({"mode": "restricted", "allowed_recipients": [1]}))
                .is_err()
        );
        assert_eq!(
            CommunicationPolicy::parse(&json!({})).ok(),
            Some(CommunicationPolicy::Open)
        );
    }
}
