//! Moving an address vector onto the target: the vector's provider domain becomes the target's,
//! the sender's tenant becomes the run's tenant, every other tenant label and every agent name
//! gets the run id appended (so a run never meets another run's agents), and letter case is
//! carried over position by position (a mixed-case vector stays mixed-case).
//!
//! The mapping is textual, so malformed addresses stay malformed the same way (a trailing dot,
//! a doubled dot, a space, two `@`). Lengths: a name or label already near the 63-character
//! limit keeps its length (the run id replaces its tail), so 63 stays 63 and 64 stays 64. The
//! trial then asks amp-core's routing decision whether the mapped vector still means what the
//! vector says; if not, the trial is blocked rather than judged on something else.

use std::collections::BTreeSet;

/// Upper-case `live`'s letters where `vector` has upper-case letters (position by position;
/// an all-upper-case vector text gives an all-upper-case result).
pub(crate) fn case_like(vector: &str, live: &str) -> String {
    if !vector.chars().any(|c| c.is_ascii_uppercase()) {
        return live.to_string();
    }
    if !vector.chars().any(|c| c.is_ascii_lowercase()) {
        return live.to_ascii_uppercase();
    }
    let mut pattern = vector.chars();
    live.chars()
        .map(|l| match pattern.next() {
            Some(v) if v.is_ascii_uppercase() => l.to_ascii_uppercase(),
            _ => l,
        })
        .collect()
}

/// `token` with `-<suffix>` appended, or, when that would pass 63 characters, with its tail
/// replaced so the length stays the same.
fn tagged(token: &str, suffix: &str) -> String {
    let tag = format!("-{suffix}");
    let n = token.chars().count();
    if n + tag.len() <= 63 || n <= tag.len() {
        return format!("{token}{tag}");
    }
    let keep: String = token.chars().take(n - tag.len()).collect();
    format!("{keep}{tag}")
}

/// How one vector's addresses map onto the target.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    /// The vector's provider domain (lower-case).
    pub provider: String,
    /// The target's provider domain.
    pub target: String,
    /// The vector sender's tenant (lower-case): it becomes `run_tenant`.
    pub sender_tenant: String,
    pub run_tenant: String,
    /// Other tenant labels of the vector (lower-case): they get `-<suffix>`.
    pub tenant_labels: BTreeSet<String>,
    /// Appended to names and tenant labels: the run id.
    pub suffix: String,
}

impl Mapper {
    /// An agent name or short form, surrounding whitespace kept.
    pub fn name(&self, n: &str) -> String {
        let core = n.trim();
        if core.is_empty() {
            return n.to_string();
        }
        let start = n.find(core).unwrap_or(0);
        let mapped = case_like(core, &tagged(&core.to_ascii_lowercase(), &self.suffix));
        format!("{}{mapped}{}", &n[..start], &n[start + core.len()..])
    }

    fn label(&self, l: &str) -> String {
        let lower = l.to_ascii_lowercase();
        if lower.is_empty() {
            String::new()
        } else if lower == self.sender_tenant {
            case_like(l, &self.run_tenant)
        } else if self.tenant_labels.contains(&lower) {
            case_like(l, &tagged(&lower, &self.suffix))
        } else {
            l.to_string()
        }
    }

    /// The part after `@`: the provider domain replaced wherever it occurs, tenant labels
    /// mapped.
    pub fn domain(&self, d: &str) -> String {
        let lower = d.to_ascii_lowercase();
        let mut out = String::new();
        let mut rest = 0;
        if !self.provider.is_empty() {
            while let Some(i) = lower[rest..].find(&self.provider) {
                let at = rest + i;
                out.push_str(&self.labels(&d[rest..at]));
                let end = at + self.provider.len();
                out.push_str(&case_like(&d[at..end], &self.target));
                rest = end;
            }
        }
        out.push_str(&self.labels(&d[rest..]));
        out
    }

    fn labels(&self, part: &str) -> String {
        part.split('.')
            .map(|l| self.label(l))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A `to` text or address: `name` or `name@domain` (split at the first `@`).
    pub fn address(&self, a: &str) -> String {
        match a.split_once('@') {
            None => self.name(a),
            Some((n, d)) => format!("{}@{}", self.name(n), self.domain(d)),
        }
    }
}

/// The tenant part of `address` at `provider` (`bob@team.acme.p.io` → `team.acme`).
pub(crate) fn tenant_of<'a>(address: &'a str, provider: &str) -> Option<&'a str> {
    let domain = address.split_once('@')?.1;
    let cut = domain.len().checked_sub(provider.len() + 1)?;
    (domain
        .get(cut..)?
        .eq_ignore_ascii_case(&format!(".{provider}")))
    .then(|| &domain[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper {
            provider: "crabmail.ai".into(),
            target: "amp-mock.test".into(),
            sender_tenant: "acme".into(),
            run_tenant: "ampc1a2b3c".into(),
            tenant_labels: ["beta", "github"].into_iter().map(String::from).collect(),
            suffix: "1a2b3c".into(),
        }
    }

    #[test]
    fn addresses_move_to_the_target_keeping_their_shape() {
        let m = mapper();
        assert_eq!(
            m.address("bob@acme.crabmail.ai"),
            "bob-1a2b3c@ampc1a2b3c.amp-mock.test"
        );
        assert_eq!(m.address("bob@beta"), "bob-1a2b3c@beta-1a2b3c");
        assert_eq!(m.address("BOB"), "BOB-1A2B3C");
        assert_eq!(
            m.address("Bob@ACME.CrabMail.AI"),
            format!(
                "Bob-1a2b3c@AMPC1A2B3C.{}",
                case_like("CrabMail.AI", "amp-mock.test")
            )
        );
        assert_eq!(case_like("CrabMail.AI", "amp-mock.test"), "Amp-Mock.TEst");
        assert_eq!(m.address("bob@crabmail.ai"), "bob-1a2b3c@amp-mock.test");
        assert_eq!(
            m.address("bob@acme.crabmail.ai.evil.example"),
            "bob-1a2b3c@ampc1a2b3c.amp-mock.test.evil.example"
        );
        assert_eq!(
            m.address("bob@acme.notcrabmail.ai"),
            "bob-1a2b3c@ampc1a2b3c.notamp-mock.test"
        );
        assert_eq!(
            m.address(" bob@acme.crabmail.ai."),
            " bob-1a2b3c@ampc1a2b3c.amp-mock.test."
        );
        assert_eq!(m.address("bob "), "bob-1a2b3c ");
        assert_eq!(
            m.address("bob@team.agents.corp.io"),
            "bob-1a2b3c@team.agents.corp.io"
        );
        assert_eq!(m.address(""), "");
        assert_eq!(
            m.address("bob@acme..crabmail.ai"),
            "bob-1a2b3c@ampc1a2b3c..amp-mock.test"
        );
        assert_eq!(m.address("bob@"), "bob-1a2b3c@");
        assert_eq!(m.name(&"b".repeat(64)).len(), 64);
        assert_eq!(m.name(&"b".repeat(63)).len(), 63);
        assert_eq!(
            tenant_of("bob@team.acme.crabmail.ai", "crabmail.ai"),
            Some("team.acme")
        );
        assert_eq!(tenant_of("bob@crabmail.ai", "crabmail.ai"), None);
    }
}
