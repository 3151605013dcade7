//! `address` vectors live, as routing questions: the vector's address is the `to` of a route
//! from a sender of its provider. A valid full address (any letter case) must reach the agent
//! registered under its normalised form, and `GET /agents/resolve/{address}` must answer that
//! form (ADDR-005, AGT-003); a valid short form must reach the agent it expands to in the
//! sender's (or the named) tenant (ADDR-008/009); an invalid one must be refused, by route and
//! by resolve. The provider of an invalid or short address is taken from its text (the last two
//! labels after `@`), or the corpus's example provider `crabmail.ai` when it has none.

use amp_runner::{Ctx, Outcome};
use serde_json::Value;

use super::Trial;
use super::routing::{self, Question};
use super::verdict::{self, TrialResult};

/// The corpus's example provider, for addresses that name none.
const EXAMPLE_PROVIDER: &str = "crabmail.ai";
/// The vector sender's tenant (mapped to the run's tenant).
const SENDER_TENANT: &str = "acme";

pub(super) async fn run(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(trial(ctx, t).await)
}

/// The provider an address names: its last two labels when they are well-formed labels, else
/// the example provider (an address whose provider part is itself malformed keeps it as is).
fn provider_of(address: &str) -> String {
    let domain = address
        .split_once('@')
        .map(|x| x.1)
        .unwrap_or("")
        .trim_end_matches(['.', ' ']);
    let labels: Vec<&str> = domain.split('.').collect();
    let well_formed =
        |l: &&str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if labels.len() >= 2 && labels[labels.len() - 2..].iter().all(well_formed) {
        labels[labels.len() - 2..].join(".").to_ascii_lowercase()
    } else {
        EXAMPLE_PROVIDER.to_string()
    }
}

/// Percent-encode an address for a URL path segment (`@` stays).
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let address = t.input_str("address")?.to_string();
    let e = &case.expected;
    let es = |k: &str| e.get(k).and_then(Value::as_str);
    let valid = case.result == amp_vectors::Verdict::Valid;
    let provider = match es("provider") {
        Some(p) if valid => p.to_string(),
        _ => provider_of(&address),
    };
    let sender = format!("sender@{SENDER_TENANT}.{provider}");
    let full = match (valid, es("form")) {
        (true, Some("full")) => es("address").map(str::to_string),
        (true, _) => {
            es("name").map(|n| format!("{n}@{}.{provider}", es("tenant").unwrap_or(SENDER_TENANT)))
        }
        (false, _) => None,
    };
    // An invalid address that still names an agent (`alice@`, `alice@acme..p.io`) gets that
    // agent registered in the sender's tenant as a bystander: a provider that reads only the
    // text before `@` delivers to it, which the trial then sees (not only the 200 answer).
    let bystander = (!valid)
        .then(|| address.split_once('@').map(|(n, _)| n.trim()))
        .flatten()
        .filter(|n| !n.is_empty() && !n.contains('@'))
        .filter(|n| amp_core::address::parse_any(n).is_ok())
        .map(|n| format!("{n}@{SENDER_TENANT}.{provider}"));
    let q = Question {
        provider,
        sender,
        agents: full.iter().chain(bystander.iter()).cloned().collect(),
        to: address.clone(),
        decision: if valid { "local" } else { "refuse" }.to_string(),
        address: full.clone(),
        status: (!valid).then_some(400),
        code: (!valid).then(|| "invalid_field".to_string()),
    };
    let (outcome, m) = routing::judge(ctx, t, &q).await?;
    if !matches!(outcome, Outcome::Pass) || es("form") == Some("short") {
        return Ok(outcome);
    }
    // Resolve the address as written (AGT-003): the normalised form, or a refusal.
    let resp = ctx
        .get(
            &format!("/agents/resolve/{}", path_segment(&m.to)),
            Some(&m.sender),
        )
        .await?;
    let resolved = resp.pointer("/address").and_then(Value::as_str);
    match (&m.address, resp.is_success()) {
        (Some(want), true) if resolved.is_some_and(|r| r == want) => Ok(Outcome::Pass),
        (Some(want), true) => verdict::deviation(
            t,
            format!(
                "GET /agents/resolve/{} answered the address {resolved:?}, not the normalised \
                 {want}",
                m.to
            ),
        ),
        (Some(want), false) => verdict::deviation(
            t,
            format!(
                "GET /agents/resolve/{} was refused ({}); it must resolve to {want}",
                m.to,
                super::wire::answer(&resp)
            ),
        ),
        (None, true) => verdict::deviation(
            t,
            format!(
                "GET /agents/resolve/{} resolved the malformed address to {resolved:?}",
                m.to
            ),
        ),
        (None, false) => Ok(Outcome::Pass),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_and_path_helpers() {
        assert_eq!(provider_of("alice@acme..crabmail.ai"), "crabmail.ai");
        assert_eq!(provider_of("alice@acme.crabmail.ai."), "crabmail.ai");
        assert_eq!(provider_of("alice@"), "crabmail.ai");
        assert_eq!(provider_of("bad name"), "crabmail.ai");
        assert_eq!(provider_of("bob@team.crab_mail.ai"), "crabmail.ai");
        assert_eq!(provider_of("bob@acme.crabm\u{e4}il.ai"), "crabmail.ai");
        assert_eq!(provider_of("carol@ops.acme.example.com"), "example.com");
        assert_eq!(path_segment(" a b@c.d/é"), "%20a%20b@c.d%2F%C3%A9");
    }
}
