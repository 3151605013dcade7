//! The routing decision a provider takes for a route request's `to` (spec 02 "Short
//! Addresses", 05 "Routing Algorithm", 06 "Cross-Provider Message Flow", 06a "Routing
//! Algorithm", "Reserved Domains", "Short Address Expansion").
//!
//! [`decide`] is pure: the provider's configuration and its registered addresses are
//! parameters. The mock provider routes with it, the `routing` vectors pin it down, and the
//! live vector trials use it to check that mapping a vector onto a real provider kept the
//! vector's meaning.
//!
//! Rules, in order:
//! 1. `to` must be a full address or a short form (ADDR-001..004, ADDR-008): otherwise
//!    refused `400 invalid_field`. Whitespace is not trimmed, a trailing dot is an empty label,
//!    and a domain of exactly two labels is neither a full address (no scope) nor a short form.
//! 2. Short forms expand inside the provider (ADDR-009, MESH-011): `name` into the sender's
//!    tenant (on a mesh host that is the host id), `name@tenant` into that tenant. The result
//!    must again satisfy the full grammar (the 254-character bound, ADDR-004).
//! 3. Addresses are case-insensitive (ADDR-005): everything is compared lower-cased.
//! 4. The provider part is split off with the provider's own domain as a known suffix, so a
//!    provider domain of three labels is recognised; any other domain uses `last2` (C-15).
//! 5. Own provider: on a mesh host (06a) an address whose host label is not the own host is
//!    forwarded in the mesh (MESH-003); otherwise it is delivered locally when the address is
//!    registered, and refused `404 not_found` when it is not (AGT-003, the `reject` reading of
//!    C-37).
//! 6. Another provider under a local-network top-level domain (`.local`, `.internal`,
//!    `.localhost`; MESH-002, C-66) goes to the mesh, never to federation (06a "No external
//!    federation").
//! 7. Any other provider is federated to (RTE-023).

use crate::address::{Address, AddressError, AddressForm, ProviderSplit, parse_any};

/// What the deciding provider knows about itself.
#[derive(Debug, Clone, Copy)]
pub struct RoutingContext<'a> {
    /// The provider's own domain (`crabmail.ai`, `aimaestro.local`).
    pub provider: &'a str,
    /// The provider's own host id when it is a host of a local network (06a); `None` for a
    /// provider that is not part of a mesh.
    pub host: Option<&'a str>,
    /// The authenticated sender's tenant (its scope; the host id on a mesh host): short forms
    /// without a tenant expand into it.
    pub sender_tenant: &'a str,
}

/// Why a route request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status (API-008).
    pub status: u16,
    /// Error code (API-008).
    pub code: &'static str,
    /// The catalogue rule that failed.
    pub rule: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Deliver to this registered local agent.
    Local { address: Address },
    /// Forward inside the local network to `host` (MESH-003); never federated.
    Mesh { address: Address, host: String },
    /// Forward to another provider (RTE-023, spec 06).
    Federate { address: Address, provider: String },
    /// Refuse the request.
    Refuse(Refusal),
}

impl RouteDecision {
    /// `local`, `mesh`, `federate` or `refuse` (the vector files' `decision` words).
    pub fn word(&self) -> &'static str {
        match self {
            RouteDecision::Local { .. } => "local",
            RouteDecision::Mesh { .. } => "mesh",
            RouteDecision::Federate { .. } => "federate",
            RouteDecision::Refuse(_) => "refuse",
        }
    }

    /// The full address the decision routes to, if any.
    pub fn address(&self) -> Option<&Address> {
        match self {
            RouteDecision::Local { address }
            | RouteDecision::Mesh { address, .. }
            | RouteDecision::Federate { address, .. } => Some(address),
            RouteDecision::Refuse(_) => None,
        }
    }
}

fn malformed(e: &AddressError) -> RouteDecision {
    RouteDecision::Refuse(Refusal {
        status: 400,
        code: "invalid_field",
        rule: e.rule(),
        reason: format!("`to` is not an address: {e}"),
    })
}

/// The first label after the `@`: the host id of a mesh address (06a).
fn host_label(a: &Address) -> &str {
    a.domain().split('.').next().unwrap_or("")
}

/// Decide where a message to `to` goes. `registered` says whether a (lower-case, full) local
/// address has an agent here.
pub fn decide(
    ctx: &RoutingContext<'_>,
    to: &str,
    registered: impl Fn(&Address) -> bool,
) -> RouteDecision {
    let own = ctx.provider.to_ascii_lowercase();
    let split = ProviderSplit::Known(vec![own.clone()]);
    let address = match parse_any(to) {
        Err(e) => return malformed(&e),
        Ok(AddressForm::Short { name, tenant }) => {
            let tenant = tenant.unwrap_or_else(|| ctx.sender_tenant.to_ascii_lowercase());
            match Address::parse_with(&format!("{name}@{tenant}.{own}"), &split) {
                Ok(a) => a,
                Err(e) => return malformed(&e),
            }
        }
        Ok(AddressForm::Full(_)) => match Address::parse_with(to, &split) {
            Ok(a) => a,
            Err(e) => return malformed(&e),
        },
    };
    if address.provider() == own {
        if let Some(host) = ctx.host
            && !host_label(&address).eq_ignore_ascii_case(host)
        {
            let host = host_label(&address).to_string();
            return RouteDecision::Mesh { address, host };
        }
        if registered(&address) {
            return RouteDecision::Local { address };
        }
        return RouteDecision::Refuse(Refusal {
            status: 404,
            code: "not_found",
            rule: "AGT-003",
            reason: format!("no agent `{address}` is registered on this provider"),
        });
    }
    if address.is_local() {
        let host = host_label(&address).to_string();
        return RouteDecision::Mesh { address, host };
    }
    let provider = address.provider().to_string();
    RouteDecision::Federate { address, provider }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: RoutingContext<'static> = RoutingContext {
        provider: "crabmail.ai",
        host: None,
        sender_tenant: "acme",
    };

    fn reg(list: &'static [&'static str]) -> impl Fn(&Address) -> bool {
        move |a: &Address| list.contains(&a.as_str())
    }

    const AGENTS: &[&str] = &[
        "bob@acme.crabmail.ai",
        "bob@beta.crabmail.ai",
        "dev@github.acme.crabmail.ai",
    ];

    fn local(to: &str) -> String {
        match decide(&PUBLIC, to, reg(AGENTS)) {
            RouteDecision::Local { address } => address.as_str().to_string(),
            other => panic!("{to}: {other:?}"),
        }
    }

    #[test]
    fn short_forms_expand_in_the_sender_or_named_tenant() {
        assert_eq!(local("bob"), "bob@acme.crabmail.ai");
        assert_eq!(local("BOB"), "bob@acme.crabmail.ai");
        assert_eq!(local("bob@beta"), "bob@beta.crabmail.ai");
        assert_eq!(local("Bob@ACME.CrabMail.AI"), "bob@acme.crabmail.ai");
        assert_eq!(
            local("dev@github.acme.crabmail.ai"),
            "dev@github.acme.crabmail.ai"
        );
    }

    #[test]
    fn unknown_local_agents_are_not_found() {
        let d = decide(&PUBLIC, "carol", reg(AGENTS));
        let RouteDecision::Refuse(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!((r.status, r.code, r.rule), (404, "not_found", "AGT-003"));
    }

    #[test]
    fn malformed_addresses_are_refused_400() {
        for to in [
            "bob@crabmail.ai",
            "bob@acme.crabmail.ai.",
            " bob@acme.crabmail.ai",
            "bad name",
            "",
            "a@b@acme.crabmail.ai",
        ] {
            match decide(&PUBLIC, to, reg(AGENTS)) {
                RouteDecision::Refuse(r) => assert_eq!((r.status, r.code), (400, "invalid_field")),
                other => panic!("{to:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_providers_federate_and_local_networks_stay_in_the_mesh() {
        match decide(&PUBLIC, "bob@team.agents.corp.io", reg(AGENTS)) {
            RouteDecision::Federate { provider, .. } => assert_eq!(provider, "corp.io"),
            other => panic!("{other:?}"),
        }
        // The own domain as a prefix of a foreign one is foreign.
        match decide(&PUBLIC, "bob@acme.crabmail.ai.evil.example", reg(AGENTS)) {
            RouteDecision::Federate { provider, .. } => assert_eq!(provider, "evil.example"),
            other => panic!("{other:?}"),
        }
        for (to, host) in [
            ("agent@macbook.aimaestro.local", "macbook"),
            ("agent@ci.corp.internal", "ci"),
            ("agent@dev.box.localhost", "dev"),
        ] {
            match decide(&PUBLIC, to, reg(AGENTS)) {
                RouteDecision::Mesh { host: h, .. } => assert_eq!(h, host),
                other => panic!("{to}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_mesh_host_delivers_its_own_host_and_forwards_the_others() {
        let ctx = RoutingContext {
            provider: "aimaestro.local",
            host: Some("macbook"),
            sender_tenant: "macbook",
        };
        let regd = |a: &Address| a.as_str() == "agent-b@macbook.aimaestro.local";
        assert!(matches!(
            decide(&ctx, "agent-b", regd),
            RouteDecision::Local { .. }
        ));
        match decide(&ctx, "agent-b@server-01", regd) {
            RouteDecision::Mesh { address, host } => {
                assert_eq!(address.as_str(), "agent-b@server-01.aimaestro.local");
                assert_eq!(host, "server-01");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expansion_respects_the_length_bound() {
        let name = "n".repeat(63);
        let provider = format!("{}.{}.example", "p".repeat(63), "q".repeat(63));
        let ctx = RoutingContext {
            sender_tenant: "acme",
            provider: &provider,
            host: None,
        };
        let d = decide(&ctx, &format!("{name}@{}", "u".repeat(63)), |_| true);
        let RouteDecision::Refuse(r) = d else {
            panic!("{d:?}")
        };
        assert_eq!(r.rule, "ADDR-004");
    }
}
