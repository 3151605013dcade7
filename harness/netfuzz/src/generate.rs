//! Operation generation: `arbitrary::Unstructured` over a ChaCha byte stream seeded from
//! `(seed, lane)`, so the same seed gives the same operations on every machine.
//!
//! The weights favour the sequences that find delivery bugs (route → pending → ack → ack
//! again) while keeping every mutation class frequent enough to be hit within a few hundred
//! requests.

use crate::ops::*;
use arbitrary::{Result, Unstructured};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{Map, Value, json};

/// Bytes of randomness handed to `arbitrary` per operation (plenty for the largest one).
const CHUNK: usize = 4096;

/// Deterministic operation source for one lane.
pub struct Generator {
    rng: ChaCha8Rng,
    buf: Vec<u8>,
    agents: u8,
}

/// Derive the 32-byte ChaCha seed (and agent key seeds) for `(seed, lane, purpose)`.
pub fn derive_seed(seed: u64, lane: u32, purpose: &str) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"amp-netfuzz/v1\0");
    h.update(seed.to_le_bytes());
    h.update(lane.to_le_bytes());
    h.update(purpose.as_bytes());
    h.finalize().into()
}

/// Number of agents a lane registers (2–4), fixed by the seed.
pub fn agent_count(seed: u64, lane: u32) -> u8 {
    2 + derive_seed(seed, lane, "agents")[0] % 3
}

impl Generator {
    pub fn new(seed: u64, lane: u32, agents: u8) -> Generator {
        Generator {
            rng: ChaCha8Rng::from_seed(derive_seed(seed, lane, "ops")),
            buf: vec![0; CHUNK],
            agents: agents.max(1),
        }
    }

    /// The next operation.
    pub fn next_op(&mut self) -> Op {
        self.rng.fill_bytes(&mut self.buf);
        let mut u = Unstructured::new(&self.buf);
        // An exhausted stream yields defaults, never an error that matters; fall back to a
        // harmless pending poll in the impossible case.
        op(&mut u, self.agents).unwrap_or(Op::Pending {
            agent: 0,
            limit: None,
        })
    }
}

fn agent(u: &mut Unstructured, n: u8) -> Result<u8> {
    u.int_in_range(0..=n - 1)
}

pub(crate) fn op(u: &mut Unstructured, n: u8) -> Result<Op> {
    Ok(match u.int_in_range(0..=99u8)? {
        0..=41 => Op::Route(Box::new(route(u, n, None)?)),
        42..=45 => Op::Resend {
            sender: agent(u, n)?,
        },
        46..=63 => Op::Pending {
            agent: agent(u, n)?,
            limit: pending_limit(u)?,
        },
        64..=67 => Op::AckSeen {
            agent: agent(u, n)?,
        },
        68..=79 => Op::Ack {
            agent: agent(u, n)?,
            target: ack_target(u)?,
        },
        80..=83 => {
            let k = u.int_in_range(1..=5)?;
            let mut targets = Vec::with_capacity(k);
            for _ in 0..k {
                targets.push(ack_target(u)?);
            }
            Op::AckBatch {
                agent: agent(u, n)?,
                targets,
            }
        }
        84..=93 => Op::Raw(raw(u, n)?),
        _ => Op::Ws(ws(u, n)?),
    })
}

/// Page sizes across the allowed range (RTE-015): the provider's default, small pages, the
/// maximum.
fn pending_limit(u: &mut Unstructured) -> Result<Option<u8>> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => None,
        1 => Some(u.int_in_range(1..=10)?),
        2 => Some(u.int_in_range(11..=99)?),
        _ => Some(100),
    })
}

fn ack_target(u: &mut Unstructured) -> Result<AckTarget> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=6 => AckTarget::Seen { n: u.arbitrary()? },
        7 | 8 => AckTarget::OtherAgents { n: u.arbitrary()? },
        _ => AckTarget::Unknown { id: pick_id(u)? },
    })
}

fn pick_id(u: &mut Unstructured) -> Result<String> {
    const IDS: &[&str] = &[
        "msg_1700000000_0011223344556677",
        "msg_0_0",
        "",
        "..",
        "%2e%2e",
        "msg_1700000000_zzzzzzzzzzzzzzzz",
        "🦀",
        "a b",
        "msg_99999999999999999999_00",
    ];
    if u.ratio(2, 3)? {
        Ok((*u.choose(IDS)?).to_string())
    } else {
        short_string(u, 40)
    }
}

/// Strings with the usual suspects: astral characters, combining marks, RTL overrides,
/// zero-width characters, separators, NUL, quotes, backslashes, and the `|` of the canonical
/// string (C-08).
pub(crate) fn edge_string(u: &mut Unstructured) -> Result<String> {
    const PIECES: &[&str] = &[
        "hello",
        "Hi",
        "a",
        "Z",
        " ",
        "|",
        "||",
        "\"",
        "\\",
        "/",
        "\n",
        "\t",
        "\r\n",
        "\u{0}",
        "\u{1f}",
        "\u{7f}",
        "é",
        "e\u{301}",
        "\u{200b}",
        "\u{200d}",
        "\u{202e}",
        "\u{2028}",
        "\u{feff}",
        "\u{fffd}",
        "\u{ffff}",
        "🦀",
        "👩‍👩‍👧",
        "𝕏",
        "日本語",
        "ß",
        "İ",
        "<script>",
        "%00",
        "null",
        "{}",
        "[]",
        "0",
        "-0",
        "1e400",
    ];
    let k = u.int_in_range(1..=5)?;
    let mut s = String::new();
    for _ in 0..k {
        s.push_str(u.choose(PIECES)?);
    }
    Ok(s)
}

fn short_string(u: &mut Unstructured, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    Ok(s.chars().take(max).collect())
}

fn subject(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=5 => format!("fuzz {}", u.int_in_range(0..=9999u32)?),
        6..=8 => edge_string(u)?,
        _ => {
            let s = short_string(u, 80)?;
            if s.is_empty() { "x".into() } else { s }
        }
    })
}

fn json_scalar(u: &mut Unstructured) -> Result<Value> {
    Ok(match u.int_in_range(0..=8u8)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.int_in_range(-1000i64..=1000)?),
        3 => json!(u.arbitrary::<i64>()?),
        4 => json!(u.arbitrary::<u64>()?),
        5 => {
            const F: &[f64] = &[
                0.5,
                -0.0,
                1e21,
                1e-7,
                9007199254740993.0,
                1.7976931348623157e308,
                5e-324,
                0.1,
            ];
            json!(*u.choose(F)?)
        }
        6 => json!(edge_string(u)?),
        7 => json!({}),
        _ => json!([]),
    })
}

fn json_value(u: &mut Unstructured, depth: u8) -> Result<Value> {
    if depth >= 3 || u.ratio(2, 3)? {
        return json_scalar(u);
    }
    let k = u.int_in_range(0..=3)?;
    if u.arbitrary()? {
        let mut a = Vec::new();
        for _ in 0..k {
            a.push(json_value(u, depth + 1)?);
        }
        Ok(Value::Array(a))
    } else {
        let mut m = Map::new();
        for _ in 0..k {
            m.insert(edge_string(u)?, json_value(u, depth + 1)?);
        }
        Ok(Value::Object(m))
    }
}

/// A payload with string `type` and `message`, optional `context`, extra keys in a
/// non-sorted order (so profiles that forget to sort sign different bytes).
fn payload(u: &mut Unstructured) -> Result<Value> {
    let mut m = Map::new();
    if u.ratio(1, 3)? {
        m.insert("zeta".into(), json_scalar(u)?);
    }
    m.insert(
        "type".into(),
        json!(*u.choose(&["notification", "request", "response", "chat"])?),
    );
    let message = if u.ratio(1, 2)? {
        "hello".to_string()
    } else {
        edge_string(u)?
    };
    m.insert("message".into(), json!(message));
    if u.ratio(1, 3)? {
        let mut ctx = Map::new();
        for _ in 0..u.int_in_range(0..=3)? {
            ctx.insert(edge_string(u)?, json_value(u, 1)?);
        }
        m.insert("context".into(), Value::Object(ctx));
    }
    if u.ratio(1, 4)? {
        m.insert(edge_string(u)?, json_value(u, 1)?);
    }
    Ok(Value::Object(m))
}

fn priority(u: &mut Unstructured) -> Result<Option<String>> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=3 => None,
        4..=8 => Some((*u.choose(&["urgent", "high", "normal", "low"])?).to_string()),
        _ => Some((*u.choose(&["URGENT", "critical", "", " high"])?).to_string()),
    })
}

/// A route request; `sender` fixed for WebSocket routes (the connection's agent).
pub(crate) fn route(u: &mut Unstructured, n: u8, sender: Option<u8>) -> Result<RouteOp> {
    let sender = match sender {
        Some(s) => s,
        None => agent(u, n)?,
    };
    let to = match u.int_in_range(0..=19u8)? {
        0..=16 => To::Agent { n: agent(u, n)? },
        17 | 18 => To::AgentUpper { n: agent(u, n)? },
        _ => To::Missing {
            name: format!("nf-missing-{}", u.int_in_range(0..=999u16)?),
        },
    };
    let in_reply_to = if u.ratio(1, 5)? {
        Some(if u.arbitrary()? {
            "msg_1700000000_0011223344556677".to_string()
        } else {
            edge_string(u)?
        })
    } else {
        None
    };
    let idempotency_key = if u.ratio(1, 8)? {
        Some(format!("idem-{}", u.int_in_range(0..=7u8)?))
    } else {
        None
    };
    Ok(RouteOp {
        sender,
        to,
        subject: subject(u)?,
        priority: priority(u)?,
        in_reply_to,
        payload: payload(u)?,
        idempotency_key,
        mutation: mutation(u, n)?,
    })
}

fn mutation(u: &mut Unstructured, n: u8) -> Result<Mutation> {
    Ok(match u.int_in_range(0..=99u8)? {
        0..=39 => Mutation::None,
        40..=45 => Mutation::Unsigned,
        46..=57 => {
            const FIELDS: &[SignedField] = &[
                SignedField::To,
                SignedField::Subject,
                SignedField::Priority,
                SignedField::InReplyTo,
                SignedField::PayloadMessage,
                SignedField::PayloadType,
                SignedField::PayloadExtra,
            ];
            let field = *u.choose(FIELDS)?;
            let value = match field {
                SignedField::Priority => {
                    (*u.choose(&["urgent", "high", "low", "normal"])?).to_string()
                }
                SignedField::PayloadType => {
                    (*u.choose(&["request", "notification", "alert"])?).to_string()
                }
                _ => edge_string(u)?,
            };
            Mutation::AlterAfterSigning { field, value }
        }
        58..=69 => Mutation::Signature { text: sig_text(u)? },
        70..=74 => Mutation::SpoofFrom {
            n: agent(u, n)?,
            sign_as_spoofed: u.arbitrary()?,
        },
        75..=77 => Mutation::OtherKey { n: agent(u, n)? },
        78..=82 => {
            const KEYS: &[&str] = &[
                "id",
                "timestamp",
                "thread_id",
                "version",
                "x-extra",
                "expires_at",
            ];
            let mut fields = Vec::new();
            for _ in 0..u.int_in_range(1..=3)? {
                fields.push(((*u.choose(KEYS)?).to_string(), json_scalar(u)?));
            }
            Mutation::ExtraFields { fields }
        }
        83..=86 => {
            const FIELDS: &[&str] = &[
                "to",
                "subject",
                "priority",
                "in_reply_to",
                "payload",
                "payload.type",
                "payload.message",
                "payload.context",
                "options",
                "idempotency_key",
            ];
            Mutation::WrongType {
                field: (*u.choose(FIELDS)?).to_string(),
                value: json_scalar(u)?,
            }
        }
        87..=89 => {
            const FIELDS: &[&str] = &[
                "to",
                "subject",
                "payload",
                "payload.type",
                "payload.message",
            ];
            Mutation::Missing {
                field: (*u.choose(FIELDS)?).to_string(),
            }
        }
        90..=93 => {
            let (what, len) = match u.int_in_range(0..=5u8)? {
                0 => (SizeField::Subject, 256),
                1 => (SizeField::Subject, 257),
                2 => (SizeField::Message, 65_536),
                3 => (SizeField::Message, 65_537),
                4 => (SizeField::Body, 1_048_576),
                _ => (SizeField::Body, 1_048_577),
            };
            // Megabyte bodies are expensive: keep them rare.
            if matches!(what, SizeField::Body) && !u.ratio(1, 8)? {
                Mutation::Size {
                    what: SizeField::Subject,
                    len: 256,
                }
            } else {
                Mutation::Size { what, len }
            }
        }
        _ => Mutation::Text {
            edit: match u.int_in_range(0..=3u8)? {
                0 => TextEdit::DuplicateKey {
                    key: (*u.choose(&["subject", "to", "priority", "signature", "payload"])?)
                        .to_string(),
                    value: json!(edge_string(u)?),
                },
                1 => TextEdit::DuplicatePayloadKey {
                    key: (*u.choose(&["type", "message"])?).to_string(),
                },
                2 => TextEdit::Truncate {
                    len: u.int_in_range(0..=200)?,
                },
                _ => TextEdit::Insert {
                    at: u.arbitrary()?,
                    bytes: u
                        .choose(&[
                            &b","[..],
                            b"}",
                            b"{",
                            b"\"",
                            b"\\",
                            b"\xff",
                            b"\0",
                            b"NaN",
                            b" ",
                        ])?
                        .to_vec(),
                },
            },
        },
    })
}

fn sig_text(u: &mut Unstructured) -> Result<SigText> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 | 1 => SigText::BitFlip {
            byte: u.int_in_range(0..=63)?,
            bit: u.int_in_range(0..=7)?,
        },
        2 => SigText::UrlSafe,
        3 => SigText::NoPadding,
        4 => SigText::Whitespace { at: u.arbitrary()? },
        5 => SigText::Hex,
        6 => SigText::Truncate {
            len: u.int_in_range(0..=87)?,
        },
        7 => SigText::Garbage {
            text: if u.arbitrary()? {
                edge_string(u)?
            } else {
                "A".repeat(88)
            },
        },
        8 => SigText::WrongType {
            value: json_scalar(u)?,
        },
        _ => SigText::OtherMessage,
    })
}

/// A malformed body: generated, then forced to fail strict parsing.
fn raw(u: &mut Unstructured, n: u8) -> Result<RawOp> {
    let endpoint = *u.choose(&Endpoint::ALL)?;
    let body: Vec<u8> = match u.int_in_range(0..=11u8)? {
        0 => Vec::new(),
        1 => b"{".to_vec(),
        2 => b"{\"to\":".to_vec(),
        3 => b"{\"a\":1,\"a\":2}".to_vec(),
        4 => b"{\"n\":NaN}".to_vec(),
        5 => b"\xef\xbb\xbf{}".to_vec(),
        6 => b"{\"s\":\"\\ud800\"}".to_vec(),
        7 => {
            let d = u.int_in_range(100..=2000usize)?;
            let mut v = vec![b'['; d];
            v.extend(std::iter::repeat_n(b']', d.saturating_sub(1)));
            v
        }
        8 => b"{\"n\":1e999}".to_vec(),
        9 => b"{'single':'quotes'}".to_vec(),
        10 => b"{\"ids\":[\"x\"],}".to_vec(),
        _ => {
            let len = u.int_in_range(0..=64usize)?;
            u.bytes(len)?.to_vec()
        }
    };
    let mut body = body;
    if amp_core::json::parse_strict(&body).is_ok() {
        // Valid by accident: make it malformed so the oracle may demand a 400.
        body.extend_from_slice(b"}");
    }
    let auth = if u.ratio(3, 4)? {
        Some(agent(u, n)?)
    } else {
        None
    };
    let content_type = match u.int_in_range(0..=5u8)? {
        0..=3 => Some("application/json".to_string()),
        4 => Some("text/plain".to_string()),
        _ => None,
    };
    Ok(RawOp {
        endpoint,
        auth,
        content_type,
        body: RawBody::from_bytes(body),
    })
}

fn ws(u: &mut Unstructured, n: u8) -> Result<WsOp> {
    let me = agent(u, n)?;
    let k = u.int_in_range(0..=8)?;
    let mut frames = Vec::with_capacity(k + 1);
    // Mostly well-formed sessions (auth first), sometimes not; a token in the URL only with
    // a non-auth first frame (so a `connected` can only come from the URL).
    let token_in_url = u.ratio(1, 10)?;
    let mut k = k;
    if token_in_url {
        frames.push(WsFrame::Ping);
    } else if u.ratio(7, 10)? {
        frames.push(WsFrame::Auth);
    } else {
        // A bad start, kept short so the server's answer to it is what gets observed: an
        // invalid token (WS-005) or another frame type (WS-006), then maybe one more frame.
        frames.push(if u.ratio(2, 5)? {
            WsFrame::BadAuth {
                token: short_string(u, 40)?,
            }
        } else {
            WsFrame::Ping
        });
        k = k.min(1);
    }
    for _ in 0..k {
        frames.push(match u.int_in_range(0..=9u8)? {
            0 => WsFrame::Auth,
            1 => WsFrame::BadAuth {
                token: short_string(u, 40)?,
            },
            2 => WsFrame::Ping,
            3..=5 => WsFrame::Route {
                route: Box::new(route(u, n, Some(me))?),
            },
            6 | 7 => WsFrame::Ack {
                target: ack_target(u)?,
                legacy: u.arbitrary()?,
            },
            8 => WsFrame::Text {
                text: if u.arbitrary()? {
                    edge_string(u)?
                } else {
                    "{\"type\":".into()
                },
            },
            _ => {
                let len = u.int_in_range(0..=16)?;
                WsFrame::Binary {
                    bytes: u.bytes(len)?.to_vec(),
                }
            }
        });
    }
    Ok(WsOp {
        agent: me,
        subprotocol: u.arbitrary()?,
        token_in_url,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ops_and_ops_roundtrip_through_json() {
        for lane in 0..4 {
            let mut a = Generator::new(99, lane, 3);
            let mut b = Generator::new(99, lane, 3);
            for _ in 0..500 {
                let op = a.next_op();
                assert_eq!(op, b.next_op());
                let text = serde_json::to_string(&op).expect("serialise");
                let back: Op =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                assert_eq!(back, op, "{text}");
            }
        }
    }

    #[test]
    fn different_seeds_differ_and_agent_counts_are_2_to_4() {
        let a: Vec<Op> = (0..20)
            .scan(Generator::new(1, 0, 3), |g, _| Some(g.next_op()))
            .collect();
        let b: Vec<Op> = (0..20)
            .scan(Generator::new(2, 0, 3), |g, _| Some(g.next_op()))
            .collect();
        assert_ne!(a, b);
        for seed in 0..50 {
            assert!((2..=4).contains(&agent_count(seed, 0)));
        }
    }

    #[test]
    fn raw_bodies_are_never_strict_json() {
        let mut g = Generator::new(5, 0, 2);
        let mut raws = 0;
        for _ in 0..3000 {
            if let Op::Raw(r) = g.next_op() {
                raws += 1;
                assert!(
                    amp_core::json::parse_strict(&r.body.bytes()).is_err(),
                    "{r:?}"
                );
            }
        }
        assert!(raws > 100);
    }
}
