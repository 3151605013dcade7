//! Prerequisites: what many cases rely on without testing it themselves.
//!
//! A case declares the prerequisites it needs (`Need::Prereq`); the runner establishes each one
//! once per run with a probe (`crate::probe`). When a probe fails, the cases that need it are
//! `blocked` (named after the probe and its reason) instead of failing their own clauses one by
//! one for a cause they never tested. This module is data only: it imports nothing of the runner.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A capability of the target that cases build on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prereq {
    /// An agent can be registered and its API key authenticates a request.
    Registration,
    /// A correctly signed message between two registered local agents is accepted by
    /// `POST /route`.
    RouteAccepted,
    /// A routed message to a local agent can be observed by the recipient through some channel
    /// the tester can watch (pending list, WebSocket push, webhook to a loopback receiver).
    DeliveryObservable,
    /// A WebSocket session authenticates with the first-frame `auth` message.
    WsSession,
}

impl Prereq {
    pub const ALL: [Prereq; 4] = [
        Prereq::Registration,
        Prereq::RouteAccepted,
        Prereq::DeliveryObservable,
        Prereq::WsSession,
    ];

    /// Stable kebab-case id (reports, `--run`-style references).
    pub fn as_str(self) -> &'static str {
        match self {
            Prereq::Registration => "registration",
            Prereq::RouteAccepted => "route-accepted",
            Prereq::DeliveryObservable => "delivery-observable",
            Prereq::WsSession => "ws-session",
        }
    }

    /// The id under which the probe's own transcript is reported (`probe.<id>`).
    pub fn probe_id(self) -> &'static str {
        match self {
            Prereq::Registration => "probe.registration",
            Prereq::RouteAccepted => "probe.route-accepted",
            Prereq::DeliveryObservable => "probe.delivery-observable",
            Prereq::WsSession => "probe.ws-session",
        }
    }

    /// The catalogue clause a failing probe bears on (a probe may name a more precise one in
    /// its reason, e.g. RTE-001 when the route answer names an unobservable method).
    pub fn clause(self) -> &'static str {
        match self {
            Prereq::Registration => "REG-002",
            Prereq::RouteAccepted => "RTE-002",
            Prereq::DeliveryObservable => "RTE-015",
            Prereq::WsSession => "WS-003",
        }
    }

    /// One line: what the probe establishes.
    pub fn description(self) -> &'static str {
        match self {
            Prereq::Registration => {
                "an agent can be registered and its API key authenticates a request"
            }
            Prereq::RouteAccepted => {
                "a correctly signed message between two registered agents is accepted"
            }
            Prereq::DeliveryObservable => {
                "a routed message to a local agent can be observed by the recipient \
                 (pending list, WebSocket push or loopback webhook)"
            }
            Prereq::WsSession => "a WebSocket session authenticates with the first-frame `auth`",
        }
    }

    /// Prerequisites this one builds on (probed first; their failure blocks this one too).
    pub fn depends_on(self) -> &'static [Prereq] {
        match self {
            Prereq::Registration => &[],
            Prereq::RouteAccepted => &[Prereq::Registration],
            Prereq::DeliveryObservable => &[Prereq::RouteAccepted],
            Prereq::WsSession => &[Prereq::Registration],
        }
    }
}

impl fmt::Display for Prereq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_kebab() {
        let mut seen = std::collections::HashSet::new();
        for p in Prereq::ALL {
            assert!(seen.insert(p.as_str()));
            assert_eq!(p.probe_id(), format!("probe.{}", p.as_str()));
            let json = serde_json::to_string(&p).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            // dependencies come earlier in ALL, so probing in ALL order never waits on a later one
            let pos = |q: Prereq| Prereq::ALL.iter().position(|x| *x == q);
            for d in p.depends_on() {
                assert!(pos(*d) < pos(p));
            }
        }
    }
}
