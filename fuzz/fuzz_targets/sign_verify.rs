//! Canonical signing string + Ed25519 (SIG-007, SIG-010, SIG-011, SIG-015, SIG-016, C-05, C-08).
//!
//! With a key derived from a fuzzed seed, sign field set A, then:
//! * A verifies (strict and lax);
//! * any field set B whose signed fields differ from A's never verifies, unless the two
//!   canonical strings collide, which may only happen when a field contains `|` (C-08) and
//!   `canonical_string_is_ambiguous` must then say so;
//! * any change to the signature text never verifies in strict mode;
//! * the unsigned fields (`id`, `timestamp`, `thread_id`) and `from` being sent or not never
//!   matter: the same body with any values for them, through JSON text and
//!   `RouteRequest::from_value`, still verifies.
#![no_main]

use amp_core::canonical::{PayloadProfile, payload_hash};
use amp_core::envelope::{Limits, RouteRequest};
use amp_core::signing::{
    Priority, SecretKey, SigningFields, Strictness, canonical_string,
    canonical_string_is_ambiguous, sign_fields, verify_fields,
};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const PRIORITIES: [Priority; 4] = [
    Priority::Urgent,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

#[derive(Debug, Clone, Arbitrary)]
struct Fields {
    from: String,
    to: String,
    subject: String,
    priority: u8,
    in_reply_to: Option<String>,
    /// `payload.message`; `payload.type` is fixed so the body passes validation.
    message: String,
    extra: Vec<(String, String)>,
}

#[derive(Debug, Arbitrary)]
enum Change {
    From(String),
    To(String),
    Subject(String),
    Priority(u8),
    InReplyTo(Option<String>),
    Message(String),
    Extra(String, String),
    /// Flip one byte of one field (a near-miss is the interesting case).
    FlipByte {
        field: u8,
        index: u16,
        xor: u8,
    },
}

#[derive(Debug, Arbitrary)]
enum SigMutation {
    FlipChar { index: u8, to: u8 },
    Truncate(u8),
    Append(String),
    Whitespace(u8),
    UrlSafe,
    DropPadding,
    Replace(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    seed: [u8; 32],
    profile: u8,
    a: Fields,
    changes: Vec<Change>,
    sig_mutations: Vec<SigMutation>,
    id: Option<String>,
    timestamp: Option<String>,
    thread_id: Option<String>,
    send_from: bool,
}

fn payload(f: &Fields) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("notification"));
    m.insert("message".into(), json!(f.message));
    for (k, v) in f.extra.iter().take(4) {
        if k != "type" && k != "message" {
            m.insert(k.clone(), json!(v));
        }
    }
    Value::Object(m)
}

fn flip(s: &mut String, index: u16, xor: u8) {
    let mut bytes = std::mem::take(s).into_bytes();
    if !bytes.is_empty() {
        let i = usize::from(index) % bytes.len();
        bytes[i] ^= xor.max(1);
    } else {
        bytes.push(xor);
    }
    *s = String::from_utf8_lossy(&bytes).into_owned();
}

fn apply(f: &mut Fields, c: &Change) {
    match c {
        Change::From(s) => f.from = s.clone(),
        Change::To(s) => f.to = s.clone(),
        Change::Subject(s) => f.subject = s.clone(),
        Change::Priority(p) => f.priority = *p,
        Change::InReplyTo(s) => f.in_reply_to = s.clone(),
        Change::Message(s) => f.message = s.clone(),
        Change::Extra(k, v) => f.extra.insert(0, (k.clone(), v.clone())),
        Change::FlipByte { field, index, xor } => match field % 5 {
            0 => flip(&mut f.from, *index, *xor),
            1 => flip(&mut f.to, *index, *xor),
            2 => flip(&mut f.subject, *index, *xor),
            3 => flip(f.in_reply_to.get_or_insert_with(String::new), *index, *xor),
            _ => flip(&mut f.message, *index, *xor),
        },
    }
}

fn mutate_sig(sig: &str, m: &SigMutation) -> String {
    let mut s = sig.to_string();
    match m {
        SigMutation::FlipChar { index, to } => {
            let mut b = s.into_bytes();
            let i = usize::from(*index) % b.len().max(1);
            if let Some(c) = b.get_mut(i) {
                *c = *to;
            }
            s = String::from_utf8_lossy(&b).into_owned();
        }
        SigMutation::Truncate(n) => {
            let mut keep = s.len().saturating_sub(usize::from(*n % 8) + 1);
            while !s.is_char_boundary(keep) {
                keep -= 1;
            }
            s.truncate(keep);
        }
        SigMutation::Append(t) => s.push_str(t),
        SigMutation::Whitespace(at) => {
            // Earlier mutations may have left non-ASCII text: insert at a char boundary.
            let mut i = usize::from(*at) % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s.insert(i, if at % 2 == 0 { ' ' } else { '\n' });
        }
        SigMutation::UrlSafe => s = s.replace('+', "-").replace('/', "_"),
        SigMutation::DropPadding => s = s.trim_end_matches('=').to_string(),
        SigMutation::Replace(t) => s = t.clone(),
    }
    s
}

fuzz_target!(|input: Input| {
    let profile = PayloadProfile::ALL[usize::from(input.profile) % 4];
    let key = SecretKey::from_seed(input.seed);
    let pk = key.public_key();
    let a = &input.a;
    let hash_a = payload_hash(&payload(a), profile).expect("object payload hashes");
    let fields_a = SigningFields {
        from: &a.from,
        to: &a.to,
        subject: &a.subject,
        priority: PRIORITIES[usize::from(a.priority) % 4],
        in_reply_to: a.in_reply_to.as_deref(),
        payload_hash: &hash_a,
    };
    let sig = sign_fields(&key, &fields_a).to_base64();
    for mode in Strictness::ALL {
        assert!(
            verify_fields(&pk, &fields_a, &sig, mode).is_ok(),
            "own signature fails ({mode})"
        );
    }

    // B: A with the changes applied.
    let mut b = a.clone();
    for c in input.changes.iter().take(4) {
        apply(&mut b, c);
    }
    let hash_b = payload_hash(&payload(&b), profile).expect("object payload hashes");
    let fields_b = SigningFields {
        from: &b.from,
        to: &b.to,
        subject: &b.subject,
        priority: PRIORITIES[usize::from(b.priority) % 4],
        in_reply_to: b.in_reply_to.as_deref(),
        payload_hash: &hash_b,
    };
    let reply = |f: &SigningFields| f.in_reply_to.unwrap_or("").to_string();
    let differs = fields_a.from != fields_b.from
        || fields_a.to != fields_b.to
        || fields_a.subject != fields_b.subject
        || fields_a.priority != fields_b.priority
        || reply(&fields_a) != reply(&fields_b)
        || hash_a != hash_b;
    if differs {
        if canonical_string(&fields_a) == canonical_string(&fields_b) {
            assert!(
                canonical_string_is_ambiguous(&fields_a)
                    || canonical_string_is_ambiguous(&fields_b),
                "different fields, same canonical string, but not reported as ambiguous"
            );
        } else {
            for mode in Strictness::ALL {
                assert!(
                    verify_fields(&pk, &fields_b, &sig, mode).is_err(),
                    "signature over A verified for different fields B ({mode})"
                );
            }
        }
    }

    // Signature text mutations never verify in strict mode.
    let mut text = sig.clone();
    for m in input.sig_mutations.iter().take(3) {
        text = mutate_sig(&text, m);
    }
    if text != sig {
        assert!(
            verify_fields(&pk, &fields_a, &text, Strictness::Strict).is_err(),
            "mutated signature text {text:?} verified in strict mode"
        );
    }

    // Unsigned fields never matter: through the wire format and the route-body validator.
    let mut body = Map::new();
    body.insert("to".into(), json!(a.to));
    body.insert("subject".into(), json!(a.subject));
    body.insert("priority".into(), json!(fields_a.priority.as_str()));
    if let Some(r) = &a.in_reply_to {
        body.insert("in_reply_to".into(), json!(r));
    }
    body.insert("payload".into(), payload(a));
    body.insert("signature".into(), json!(sig));
    for (k, v) in [
        ("id", &input.id),
        ("timestamp", &input.timestamp),
        ("thread_id", &input.thread_id),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if input.send_from {
        body.insert("from".into(), json!(a.from));
    }
    let text = serde_json::to_vec(&Value::Object(body)).expect("serialisable");
    let Ok(req) = RouteRequest::from_body(&text, &Limits::default()) else {
        return; // A field failed validation (e.g. empty subject): not a signing question.
    };
    let hash_wire = payload_hash(&req.payload, profile).expect("validated payload hashes");
    assert_eq!(
        hash_wire, hash_a,
        "payload hash changed through the wire format"
    );
    let fields_wire = req.signing_fields(&a.from, &hash_wire);
    assert_eq!(canonical_string(&fields_wire), canonical_string(&fields_a));
    let sig_wire = req.signature.as_deref().expect("signature was sent");
    assert!(
        verify_fields(&pk, &fields_wire, sig_wire, Strictness::Strict).is_ok(),
        "unsigned fields changed the verdict"
    );
});
