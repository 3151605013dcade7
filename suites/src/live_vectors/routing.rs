//! `routing` vectors live (and, through [`judge`], `address` vectors). The vector's provider
//! becomes the target, its tenants and names the run's ([`super::mapping`]); amp-core's
//! routing decision over the mapped vector must equal the vector's decision, or the trial is
//! blocked. Then every agent the vector names is registered (once per run), the sender routes
//! a message to the mapped `to`, and the agents' pickups show where it went:
//!
//! - `local` X: accepted and delivered to X, to no one else;
//! - `refuse` 400: refused, delivered to no one (another 4xx is noted, not failed);
//! - `refuse` 404 (unregistered local address): refused 404, or queued for a later
//!   registration under C-37's `queue` reading, but never delivered to another agent;
//! - `federate` / `mesh`: not delivered to any local agent (where a foreign or local-network
//!   address goes cannot be observed from here; that it stays off the local mailboxes can).
//!
//! A signature over a short or mixed-case `to` that the provider refuses is retried over the
//! full lower-case address (C-09, C-10): accepted that way it is informational.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amp_core::routing::{RouteDecision, RoutingContext, decide};
use amp_core::{Address, payload_hash};
use amp_runner::{Agent, Ctx, Failure, Outcome, Prereq, UnknownRecipient, judge_reading};
use serde_json::{Value, json};

use super::Trial;
use super::mapping::{Mapper, tenant_of};
use super::pool::{DELIVERY_WAIT, Pool};
use super::verdict::{self, Stop, TrialResult};
use super::wire::{self, RawBody};

/// A routing question in the vector's own terms.
pub(super) struct Question {
    pub provider: String,
    pub sender: String,
    pub agents: Vec<String>,
    pub to: String,
    /// The vector's decision: `local`/`mesh`/`federate` with the full address, or `refuse`.
    pub decision: String,
    pub address: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
}

pub(super) async fn run(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(routing_trial(ctx, t).await)
}

/// A routing vector's input (`vectors/README.md`).
#[derive(serde::Deserialize)]
struct Input {
    provider: String,
    #[serde(default)]
    host: Option<String>,
    sender: String,
    agents: Vec<String>,
    to: String,
}

/// A routing vector's expected decision.
#[derive(serde::Deserialize)]
struct Expected {
    decision: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    code: Option<String>,
}

async fn routing_trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let unreadable =
        |e: serde_json::Error| Failure::Error(format!("{}: not a routing vector: {e}", t.name()));
    let i: Input = serde_json::from_value(Value::Object(case.input.clone())).map_err(unreadable)?;
    let e: Expected =
        serde_json::from_value(Value::Object(case.expected.clone())).map_err(unreadable)?;
    if i.host.is_some() {
        return verdict::not_judged(
            "the vector describes a mesh host's decision; the target is judged as a public \
             provider",
        );
    }
    let q = Question {
        provider: i.provider,
        sender: i.sender,
        agents: i.agents,
        to: i.to,
        decision: e.decision,
        address: e.address,
        status: e.status,
        code: e.code,
    };
    judge(ctx, t, &q).await.map(|(o, _)| o)
}

/// The mapped question and the agents registered for it.
pub(super) struct Mapped {
    pub to: String,
    pub address: Option<String>,
    pub sender: Arc<Agent>,
    /// Registered agents by mapped (lower-case) address.
    pub agents: Vec<(String, Arc<Agent>)>,
}

fn mapper(ctx: &Ctx, q: &Question, target: &str) -> Result<Mapper, Stop> {
    let provider = q.provider.to_ascii_lowercase();
    let sender_tenant = tenant_of(&q.sender, &provider)
        .ok_or_else(|| {
            Stop::Failed(Failure::Error(format!(
                "the vector's sender `{}` is not at its provider `{provider}`",
                q.sender
            )))
        })?
        .to_ascii_lowercase();
    let mut labels = BTreeSet::new();
    let own = q
        .agents
        .iter()
        .chain([&q.sender, &q.to])
        .filter_map(|a| tenant_of(a, &provider));
    let short =
        q.to.split_once('@')
            .filter(|(_, d)| !d.contains('.'))
            .map(|(_, d)| d);
    for tenant in own.chain(short) {
        labels.extend(
            tenant
                .split('.')
                .filter(|l| !l.is_empty())
                .map(str::to_ascii_lowercase),
        );
    }
    labels.remove(&sender_tenant);
    Ok(Mapper {
        provider,
        target: target.to_string(),
        sender_tenant,
        run_tenant: ctx.tenant(),
        tenant_labels: labels,
        suffix: ctx.run_id().to_string(),
    })
}

/// Does amp-core decide the mapped question as the vector decides the original?
fn same_meaning(q: &Question, m: &Mapper, to: &str, agents: &[String]) -> Result<(), String> {
    let sender_tenant = m.run_tenant.clone();
    let ctx = RoutingContext {
        provider: &m.target,
        host: None,
        sender_tenant: &sender_tenant,
    };
    let d = decide(&ctx, to, |a: &Address| {
        agents.iter().any(|x| x == a.as_str())
    });
    let want_address = q
        .address
        .as_deref()
        .map(|a| m.address(a).to_ascii_lowercase());
    let ok = d.word() == q.decision
        && match &d {
            RouteDecision::Refuse(r) => {
                Some(r.status) == q.status && Some(r.code) == q.code.as_deref()
            }
            other => other.address().map(Address::as_str) == want_address.as_deref(),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "mapped onto the target (`to` = {to:?}) amp-core decides `{}`{} instead of the \
             vector's `{}`",
            d.word(),
            d.address().map(|a| format!(" {a}")).unwrap_or_default(),
            q.decision
        ))
    }
}

/// Map `q` onto the target, check the mapping kept its meaning, register its agents.
///
/// The agents a vector names besides the sender and the expected recipient are bystanders
/// (they show where the message must not go). A bystander the provider will not register in
/// another tenant (REG-009 lets a provider restrict tenants; a single-organisation provider
/// hosts one) is left out when the decision over the agents that remain is still the vector's;
/// an agent the question needs in such a tenant blocks the trial, reported once for the run
/// (finding `vector:tenant-refused`). A name the vector says is valid that the provider refuses
/// to register in the run's own tenant is the vector's point: a deviation of its clause.
pub(super) async fn prepare(ctx: &mut Ctx, t: &Trial, q: &Question) -> Result<Mapped, Stop> {
    let pool = Pool::of(ctx);
    let target = pool.domain(ctx).await?;
    let m = mapper(ctx, q, &target)?;
    let to = m.address(&q.to);
    let mut names: Vec<String> = q
        .agents
        .iter()
        .map(|a| m.address(a).to_ascii_lowercase())
        .collect();
    let sender_address = m.address(&q.sender).to_ascii_lowercase();
    if !names.contains(&sender_address) {
        names.push(sender_address.clone());
    }
    same_meaning(q, &m, &to, &names)
        .map_err(|why| Stop::NotJudged(format!("not judged: {why}")))?;
    let address = q
        .address
        .as_deref()
        .map(|a| m.address(a).to_ascii_lowercase());
    let mut agents = Vec::new();
    let mut left_out = Vec::new();
    for full in &names {
        let (name, domain) = full.split_once('@').unwrap_or((full, ""));
        let tenant = tenant_of(full, &target).unwrap_or(domain);
        let a = match pool.named(ctx, name, tenant).await {
            Ok(a) => a,
            Err(Stop::Blocked(Prereq::Registration, why)) => {
                let needed = *full == sender_address || address.as_ref() == Some(full);
                match refusal_of(&why, tenant, &m.run_tenant) {
                    Refusal::OtherTenant if !needed => {
                        ctx.note(format!(
                            "left out the bystander {full}: the provider did not register it \
                             ({why})"
                        ));
                        left_out.push(full.clone());
                        continue;
                    }
                    Refusal::OtherTenant => return Err(tenant_refused(ctx, &m, full, &why)),
                    Refusal::Name if needed => {
                        return Err(verdict::deviation_stop(
                            t,
                            format!(
                                "the provider refused to register the name `{name}` in the \
                                 run's own tenant ({why}), so it cannot deliver to {full}, an \
                                 address the vector says is valid"
                            ),
                        ));
                    }
                    _ => return Err(Stop::Blocked(Prereq::Registration, why)),
                }
            }
            Err(other) => return Err(other),
        };
        if !a.address.eq_ignore_ascii_case(full) {
            return Err(Stop::Blocked(
                Prereq::Registration,
                format!(
                    "registering `{name}` in tenant `{tenant}` gave the address `{}`, not \
                     `{full}`",
                    a.address
                ),
            ));
        }
        agents.push((full.clone(), a));
    }
    if !left_out.is_empty() {
        let kept: Vec<String> = agents.iter().map(|(a, _)| a.clone()).collect();
        if let Err(why) = same_meaning(q, &m, &to, &kept) {
            let first = left_out.first().cloned().unwrap_or_default();
            return Err(tenant_refused(
                ctx,
                &m,
                &first,
                &format!("without the agents left out, {why}"),
            ));
        }
    }
    let sender = agents
        .iter()
        .find(|(a, _)| *a == sender_address)
        .map(|(_, a)| a.clone())
        .ok_or_else(|| Stop::Failed(Failure::Error("the sender was not registered".into())))?;
    Ok(Mapped {
        to,
        address,
        sender,
        agents,
    })
}

/// Why the registration of a vector's agent was refused, as far as the trial can tell.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Refused (4xx) in a tenant other than the run's, where the run's own tenant works.
    OtherTenant,
    /// Refused (4xx) in the run's own tenant, where other names register: the name.
    Name,
    /// Anything else (transport, 5xx, rate limit): the prerequisite is simply missing.
    Other,
}

/// Classify a registration failure from the runner's reason (`… HTTP <status> <code> …`).
fn refusal_of(why: &str, tenant: &str, run_tenant: &str) -> Refusal {
    let status = why
        .split("HTTP ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(s) if (400..500).contains(&s) && s != 429 => {
            if tenant.eq_ignore_ascii_case(run_tenant) {
                Refusal::Name
            } else {
                Refusal::OtherTenant
            }
        }
        _ => Refusal::Other,
    }
}

/// The trial needs an agent in a tenant the provider will not register: blocked, and one
/// finding for the run (not one failure per vector).
fn tenant_refused(ctx: &Ctx, m: &Mapper, full: &str, why: &str) -> Stop {
    ctx.finding(
        "vector:tenant-refused",
        "REG-009",
        format!(
            "the provider registers the live vector trials' agents only in the run's tenant \
             `{}`: another tenant was refused ({why}); providers may restrict tenants (REG-009), \
             so the routing and address vectors whose question needs an agent in another tenant \
             are blocked, not failed",
            m.run_tenant
        ),
    );
    Stop::Blocked(
        Prereq::Registration,
        format!("the vector needs {full}, in a tenant the provider does not register: {why}"),
    )
}

/// The route body from the mapped sender to `to`, signed over `signed_to`.
fn body(
    ctx: &Ctx,
    t: &Trial,
    from: &Agent,
    to: &str,
    signed_to: &str,
) -> Result<(RawBody, String), Stop> {
    let subject = wire::unique_subject(ctx, t);
    let payload = json!({"type": "notification", "message": "routing vector"});
    let hash = payload_hash(&payload, ctx.profile())
        .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
    let canonical = wire::canonical_text(&from.address, signed_to, &subject, "normal", "", &hash);
    let body = RawBody::default()
        .string("to", to)
        .string("subject", &subject)
        .raw("payload", &payload.to_string())
        .string(
            "signature",
            &from.key.sign(canonical.as_bytes()).to_base64(),
        );
    Ok((body, subject))
}

/// Which registered agents received a message with `subject` (after `since`).
async fn receivers(
    ctx: &mut Ctx,
    m: &Mapped,
    subject: &str,
    since: Instant,
    expect: Option<&str>,
) -> Result<Vec<String>, Stop> {
    let pool = Pool::of(ctx);
    let matches = |e: &Value| crate::steps::routing::entry_subject(e) == Some(subject);
    if let Some(x) = expect
        && let Some((_, a)) = m.agents.iter().find(|(addr, _)| addr == x)
    {
        pool.mailbox(a).find(ctx, matches, DELIVERY_WAIT).await?;
    }
    // Wait once for the slowest mailbox's next pickup, so the pickups below are sent together
    // (and shared with the trials waiting meanwhile) instead of one wait per agent.
    let mut wait = Duration::ZERO;
    for (_, a) in &m.agents {
        wait = wait.max(pool.mailbox(a).pickup_wait(since).await);
    }
    tokio::time::sleep(wait).await;
    let mut got = Vec::new();
    for (addr, a) in &m.agents {
        if !pool
            .mailbox(a)
            .matching_since(ctx, matches, since)
            .await?
            .is_empty()
        {
            got.push(addr.clone());
        }
    }
    Ok(got)
}

/// Route the mapped question and grade what happened. Also returns the mapping, for callers
/// that check more (the address trials resolve the address too).
pub(super) async fn judge(
    ctx: &mut Ctx,
    t: &Trial,
    q: &Question,
) -> Result<(Outcome, Mapped), Stop> {
    let m = prepare(ctx, t, q).await?;
    let primary = t.clauses.first().copied().unwrap_or("RTE-023");
    let (b, subject) = body(ctx, t, &m.sender, &m.to, &m.to)?;
    ctx.note(format!("route to {:?} (the vector's {:?})", m.to, q.to));
    let since = Instant::now();
    let resp = wire::route(ctx, &m.sender, &b).await?;
    let answer = wire::answer(&resp);
    let elsewhere = |got: &[String], except: Option<&str>| -> Option<String> {
        got.iter().find(|a| Some(a.as_str()) != except).cloned()
    };
    let outcome = match q.decision.as_str() {
        "local" => {
            let want = m.address.clone().unwrap_or_default();
            if resp.status == 403 && m.to != want {
                // C-09/C-10: the signature covered `to` as written; try the full form.
                let (b2, subject2) = body(ctx, t, &m.sender, &m.to, &want)?;
                let since2 = Instant::now();
                let resp2 = wire::route(ctx, &m.sender, &b2).await?;
                let got = receivers(ctx, &m, &subject2, since2, Some(&want)).await?;
                if resp2.is_success() && got == [want.clone()] {
                    Outcome::Info(format!(
                        "a signature over `to` as written ({:?}) was refused ({answer}) and one \
                         over the full address {want} accepted: the provider verifies the \
                         expanded, lower-cased address (C-09/C-10)",
                        m.to
                    ))
                } else {
                    return Err(fail(format!(
                        "a message to {:?} was refused ({answer}) whether signed over `to` as \
                         written or over {want}; it must reach {want} ({primary})",
                        m.to
                    )));
                }
            } else if !resp.is_success() {
                return Err(fail(format!(
                    "a message to {:?} was refused ({answer}); it must be delivered to {want} \
                     ({primary})",
                    m.to
                )));
            } else {
                let got = receivers(ctx, &m, &subject, since, Some(&want)).await?;
                if let Some(other) = elsewhere(&got, Some(&want)) {
                    return Err(fail(format!(
                        "a message to {:?} was delivered to {other}; it must reach {want} only \
                         ({primary})",
                        m.to
                    )));
                }
                if got.is_empty() {
                    return Err(Stop::Blocked(
                        Prereq::DeliveryObservable,
                        format!(
                            "the message to {:?} was accepted ({answer}) but no agent's pickup \
                             showed it within {} s",
                            m.to,
                            DELIVERY_WAIT.as_secs()
                        ),
                    ));
                }
                Outcome::Pass
            }
        }
        "refuse" => {
            let got = receivers(ctx, &m, &subject, since, None).await?;
            if let Some(who) = elsewhere(&got, None) {
                return Err(fail(format!(
                    "a message to {:?} was delivered to {who}; the vector refuses it with {} {} \
                     ({primary})",
                    m.to,
                    q.status.unwrap_or(0),
                    q.code.as_deref().unwrap_or("")
                )));
            }
            let want_status = q.status.unwrap_or(400);
            if resp.status == want_status && resp.error_code() == q.code.as_deref() {
                Outcome::Pass
            } else if resp.is_success() && want_status == 404 {
                observable(
                    ctx,
                    format!(
                        "a message to the unregistered address {:?} was accepted ({answer})",
                        m.to
                    ),
                )
                .await?;
                judge_reading(
                    ctx.contradictions().unknown_recipient,
                    UnknownRecipient::Queue,
                    &format!(
                        "a message to the unregistered address {:?} was accepted ({answer}) and \
                         delivered to no registered agent",
                        m.to
                    ),
                )?
            } else if resp.is_success() {
                return Err(fail(format!(
                    "a message to the malformed address {:?} was accepted ({answer}); it must be \
                     refused with {want_status} ({primary})",
                    m.to
                )));
            } else if (400..500).contains(&resp.status) {
                Outcome::Info(format!(
                    "refused as the vector says, but with {answer} instead of {want_status} {} \
                     (the spec names no code for this refusal)",
                    q.code.as_deref().unwrap_or("")
                ))
            } else {
                return Err(fail(format!(
                    "a message to {:?} must be refused with {want_status}, got {answer}",
                    m.to
                )));
            }
        }
        _ => {
            // federate / mesh: must not land in a local mailbox.
            if resp.is_success() {
                observable(
                    ctx,
                    format!("a message to {:?} was accepted ({answer})", m.to),
                )
                .await?;
            }
            let got = receivers(ctx, &m, &subject, since, None).await?;
            if let Some(who) = elsewhere(&got, None) {
                return Err(fail(format!(
                    "a message to {:?}, an address of {} ({}), was delivered to the local agent \
                     {who} ({primary})",
                    m.to,
                    if q.decision == "mesh" {
                        "a local network"
                    } else {
                        "another provider"
                    },
                    q.address.as_deref().unwrap_or("")
                )));
            }
            ctx.note(format!(
                "answered {answer} and delivered to no local agent (where it went beyond this \
                 provider cannot be observed)"
            ));
            Outcome::Pass
        }
    };
    Ok((outcome, m))
}

/// "Delivered to no local agent" means something only if deliveries can be seen: an empty
/// pickup proves nothing when the run's probe found routed messages unobservable (e.g. a
/// provider that delivers with `method: local` into its own host). A refusal needs no such
/// proof; an accepted message does, else the trial is blocked by that probe.
async fn observable(ctx: &Ctx, what: String) -> Result<(), Stop> {
    match ctx.require(Prereq::DeliveryObservable).await {
        Ok(_) => Ok(()),
        Err(Failure::Blocked {
            prerequisite,
            reason,
        }) => Err(Stop::Blocked(
            prerequisite,
            format!("{what}; where it went cannot be observed: {reason}"),
        )),
        Err(f) => Err(Stop::Failed(f)),
    }
}

fn fail(what: String) -> Stop {
    Stop::Failed(Failure::Fail(what))
}

#[cfg(test)]
mod tests {
    use super::{Refusal, refusal_of};

    #[test]
    fn registration_refusals_are_told_apart() {
        let why = |s: &str| {
            format!(
                "could not register `bob-1` in tenant `t`: could not register a test agent `ampc-1-2` in tenant `t`: HTTP {s} (check the tenant/registration options of the run)"
            )
        };
        // (reason, tenant, run tenant, kind): another tenant refused while the run's own works
        // is a tenant restriction (REG-009); the run's own tenant refused is the name; rate
        // limits, server errors and transport failures say nothing about the vector.
        let table = [
            (
                why("400 invalid_field"),
                "beta-1",
                "acme",
                Refusal::OtherTenant,
            ),
            (
                why("403 tenant_access_denied"),
                "beta-1",
                "ACME",
                Refusal::OtherTenant,
            ),
            (why("400 invalid_field"), "acme", "acme", Refusal::Name),
            (why("429 rate_limited"), "acme", "acme", Refusal::Other),
            (why("503 unavailable"), "beta-1", "acme", Refusal::Other),
            (
                "connection refused".to_string(),
                "beta-1",
                "acme",
                Refusal::Other,
            ),
        ];
        for (reason, tenant, run_tenant, kind) in table {
            assert_eq!(refusal_of(&reason, tenant, run_tenant), kind, "{reason}");
        }
    }
}
