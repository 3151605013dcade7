//! One fuzzer WebSocket session as the oracle needs it: how it started decides what the server
//! may answer (WS-001, WS-005, WS-006), and which pushes it may mark as replays.

use crate::ops::{WsFrame, WsOp};
use std::collections::HashSet;

/// Where the session's authentication stands. Each state carries only what it needs, so a
/// session that is "authenticated without an auth frame" or "refused without a clause" cannot
/// be written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsAuth {
    /// The first frame is our valid auth frame and has not gone out yet: a `connected` now
    /// was not earned by it and breaks `early_connected` (WS-001 with the API key in the URL,
    /// else WS-006).
    AwaitingAuth { early_connected: &'static str },
    /// Our valid auth frame has gone out: `connected` is expected, and a connection that
    /// breaks is a finding.
    Authenticated,
    /// The first frame was not a valid auth frame. The server must close the session: a
    /// `connected` breaks `connected_breaks` (WS-001 with the key in the URL, WS-005 after a
    /// wrong token, else WS-006), staying open breaks `open_breaks` (WS-005 or WS-006), and a
    /// reset is a fair way to end it.
    Unauthenticated {
        connected_breaks: &'static str,
        open_breaks: &'static str,
    },
}

impl WsAuth {
    /// The state of a session about to send `op`'s frames.
    pub fn start(op: &WsOp) -> WsAuth {
        let first = op.frames.first();
        let bad_auth = matches!(first, Some(WsFrame::BadAuth { .. }));
        if matches!(first, Some(WsFrame::Auth)) {
            WsAuth::AwaitingAuth {
                early_connected: if op.token_in_url { "WS-001" } else { "WS-006" },
            }
        } else {
            let open_breaks = if bad_auth { "WS-005" } else { "WS-006" };
            WsAuth::Unauthenticated {
                connected_breaks: if op.token_in_url {
                    "WS-001"
                } else {
                    open_breaks
                },
                open_breaks,
            }
        }
    }

    /// `frame` went out.
    pub fn sent(&mut self, frame: &WsFrame) {
        if matches!(self, WsAuth::AwaitingAuth { .. }) && matches!(frame, WsFrame::Auth) {
            *self = WsAuth::Authenticated;
        }
    }

    /// The clause a `connected` frame from the server breaks now, if any, with what happened.
    pub fn connected_finding(&self) -> Option<(&'static str, &'static str)> {
        let clause = match *self {
            WsAuth::Authenticated => return None,
            WsAuth::AwaitingAuth { early_connected } => early_connected,
            WsAuth::Unauthenticated {
                connected_breaks, ..
            } => connected_breaks,
        };
        let what = match clause {
            "WS-001" => "WebSocket authenticated by the token in the URL, before any auth frame",
            "WS-005" => {
                "WebSocket answered `connected` after a first auth frame with an invalid token"
            }
            _ => "WebSocket answered `connected` although the first frame was not an auth frame",
        };
        Some((clause, what))
    }

    /// The session began with our valid auth frame: it must stay up, so a broken connection
    /// is a finding.
    pub fn must_stay_up(&self) -> bool {
        !matches!(self, WsAuth::Unauthenticated { .. })
    }
}

/// One open WebSocket session of a lane.
#[derive(Debug)]
pub struct WsSession {
    pub agent: usize,
    pub auth: WsAuth,
    /// Message ids this connection must mark as replays (queued before it opened).
    pub replayable: HashSet<String>,
    /// Message ids pushed on this connection so far.
    pub seen: HashSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(frames: Vec<WsFrame>, token_in_url: bool) -> WsOp {
        WsOp {
            agent: 0,
            subprotocol: true,
            token_in_url,
            frames,
        }
    }

    #[test]
    fn a_valid_auth_first_earns_connected_once_sent() {
        let mut s = WsAuth::start(&op(vec![WsFrame::Auth, WsFrame::Ping], false));
        assert_eq!(s.connected_finding().map(|f| f.0), Some("WS-006"));
        assert!(s.must_stay_up());
        s.sent(&WsFrame::Auth);
        assert_eq!(s, WsAuth::Authenticated);
        assert_eq!(s.connected_finding(), None);
        let s = WsAuth::start(&op(vec![WsFrame::Auth], true));
        assert_eq!(s.connected_finding().map(|f| f.0), Some("WS-001"));
    }

    #[test]
    fn a_bad_start_never_earns_connected() {
        let bad = WsFrame::BadAuth { token: "x".into() };
        let mut s = WsAuth::start(&op(vec![bad.clone(), WsFrame::Auth], false));
        s.sent(&bad);
        s.sent(&WsFrame::Auth);
        assert_eq!(
            s,
            WsAuth::Unauthenticated {
                connected_breaks: "WS-005",
                open_breaks: "WS-005"
            }
        );
        assert!(!s.must_stay_up());
        let s = WsAuth::start(&op(vec![WsFrame::Ping], true));
        assert_eq!(s.connected_finding().map(|f| f.0), Some("WS-001"));
        let s = WsAuth::start(&op(vec![], false));
        assert_eq!(s.connected_finding().map(|f| f.0), Some("WS-006"));
    }
}
