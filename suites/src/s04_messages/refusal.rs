//! Refusals as data: "two agents, an accepted control message, the same message with one
//! mutation, expect (status, code), and the mutated message is not delivered".
//!
//! Every row of [`ROWS`] is one conformance case. A spec maintainer adds such a case by adding
//! a row (id, clauses, level, the [`Mutation`], the expected refusal) and the defect row that
//! the case must kill; no async code. [`run`] is the one script all rows share:
//!
//! 1. two fresh agents `a` and `b`; `a` routes a plain signed message to `b` (the parent);
//! 2. the control: a low-priority reply to the parent, shaped like the mutated message but
//!    without the mutation, must be accepted, so a target that refuses everything cannot pass;
//! 3. the mutated message is routed and judged by [`expect_refusal`]: a wrong status fails, the
//!    right status with another error code is one run-wide finding per code pair (never a
//!    different verdict), and the message must not reach the recipient.

use crate::steps::refusal::expect_refusal;
use crate::steps::routing::{not_delivered, route_ok, sign_text, subject};
use amp_core::signing::Priority;
use amp_core::{Signature, payload_hash};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Resp, SigningPolicy, fail, judge_reading, pass,
};
use serde_json::{Value, json};

/// A field of the signed canonical string (SIG-007) that a mutation changes after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedField {
    Subject,
    Priority,
    Payload,
    To,
    InReplyTo,
}

/// What is done to the control message to make the refused one. "Before signing" mutations
/// produce a message that is correctly signed over invalid content; "after signing" ones
/// change a message whose signature was correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// No `signature` field at all.
    Unsigned,
    /// One bit of the signature flipped: well-formed Base64 of 64 bytes that cannot verify.
    FlipSignatureBit,
    /// Signed by a key the sender never registered.
    SignedByStranger,
    /// A signed field changed after signing.
    AfterSigning(SignedField),
    /// `payload.type` left out (signed as sent).
    PayloadWithoutType,
    /// A subject one character over the 256-character limit (control: exactly 256).
    SubjectOverLimit,
    /// priority `critical`, signed over that text (control: `low`).
    PriorityUnknown,
    /// `payload.message` one byte over 64 KiB (control: exactly 65,536 bytes).
    MessageOverLimit,
}

/// The refusal a row expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This status; the spec's error code for it (another code is a finding, not a failure).
    Error { status: u16, code: &'static str },
    /// Any 4xx: the spec names no status or code (the contradiction record says so).
    AnyClientError { contradiction: &'static str },
}

/// What an accepted mutated message means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfAccepted {
    /// The requirement is broken.
    Fails,
    /// SIG-003: a provider MAY accept unsigned messages from its own local agents; judged by
    /// the declared `--signing` reading (C-40).
    LocalUnsignedReading,
}

/// One refusal case.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub id: &'static str,
    pub title: &'static str,
    /// Catalogue ids; the first is the clause the refusal proves.
    pub clauses: &'static [&'static str],
    pub level: Level,
    pub mutation: Mutation,
    pub expect: Expect,
    pub if_accepted: IfAccepted,
    /// One sentence: what a correct provider does.
    pub expectation: &'static str,
}

const fn error(status: u16, code: &'static str) -> Expect {
    Expect::Error { status, code }
}

/// The refusal cases. Keep ids stable: reports and expected-failure files name them.
pub static ROWS: &[Refusal] = &[
    Refusal {
        id: "route.unsigned",
        title: "A route request without signature is refused",
        clauses: &["SIG-002", "SIG-003"],
        level: Level::Must,
        mutation: Mutation::Unsigned,
        expect: error(422, "signature_missing"),
        if_accepted: IfAccepted::LocalUnsignedReading,
        expectation: "A route body without `signature` answers 422 signature_missing and is \
                      not delivered; a provider MAY accept it from its own local agents \
                      (SIG-003: declare --signing local-relaxed, C-40).",
    },
    Refusal {
        id: "route.signature.invalid",
        title: "A corrupted signature is refused",
        clauses: &["SIG-015"],
        level: Level::Must,
        mutation: Mutation::FlipSignatureBit,
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A signature with one flipped bit answers 403 signature_invalid and is \
                      not delivered.",
    },
    Refusal {
        id: "route.signature.other-key",
        title: "A signature by a key other than the sender's registered key is refused",
        clauses: &["SIG-015"],
        level: Level::Must,
        mutation: Mutation::SignedByStranger,
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A message signed with an unregistered key answers 403 \
                      signature_invalid.",
    },
    Refusal {
        id: "route.signature.tampered-subject",
        title: "Changing the subject after signing invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        mutation: Mutation::AfterSigning(SignedField::Subject),
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A signed message whose subject was changed answers 403 \
                      signature_invalid.",
    },
    Refusal {
        id: "route.signature.tampered-priority",
        title: "Escalating the priority after signing invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        mutation: Mutation::AfterSigning(SignedField::Priority),
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A message signed with priority low and sent as urgent answers 403 \
                      signature_invalid.",
    },
    Refusal {
        id: "route.signature.tampered-payload",
        title: "Changing one payload byte after signing invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        mutation: Mutation::AfterSigning(SignedField::Payload),
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A signed message whose payload.message gained one character answers \
                      403 signature_invalid.",
    },
    Refusal {
        id: "route.signature.tampered-to",
        title: "Re-addressing a signed message invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        mutation: Mutation::AfterSigning(SignedField::To),
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A message signed for one recipient and sent to another answers 403 \
                      signature_invalid and the other recipient receives nothing.",
    },
    Refusal {
        id: "route.signature.tampered-in-reply-to",
        title: "Re-threading a signed reply invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        mutation: Mutation::AfterSigning(SignedField::InReplyTo),
        expect: error(403, "signature_invalid"),
        if_accepted: IfAccepted::Fails,
        expectation: "A reply signed for one parent and sent with another in_reply_to answers \
                      403 signature_invalid.",
    },
    Refusal {
        id: "route.subject.too-long",
        title: "Subjects over 256 characters are refused",
        clauses: &["MSG-003"],
        level: Level::Must,
        mutation: Mutation::SubjectOverLimit,
        expect: error(400, "invalid_field"),
        if_accepted: IfAccepted::Fails,
        expectation: "A 256-character subject is accepted; 257 characters answer 400 \
                      invalid_field.",
    },
    Refusal {
        id: "route.priority.invalid",
        title: "Unknown priority values are refused",
        clauses: &["MSG-004"],
        level: Level::Must,
        mutation: Mutation::PriorityUnknown,
        expect: error(400, "invalid_field"),
        if_accepted: IfAccepted::Fails,
        expectation: "priority `low` is accepted; `critical` (signed as sent) answers 400 \
                      invalid_field.",
    },
    Refusal {
        id: "route.payload.missing-type",
        title: "A payload without type is refused as a missing field",
        clauses: &["MSG-008"],
        level: Level::Must,
        mutation: Mutation::PayloadWithoutType,
        expect: error(400, "missing_field"),
        if_accepted: IfAccepted::Fails,
        expectation: "A payload lacking `type` answers 400 missing_field.",
    },
    Refusal {
        id: "route.message.too-large",
        title: "payload.message over 64 KB is refused",
        clauses: &["MSG-014"],
        level: Level::Must,
        mutation: Mutation::MessageOverLimit,
        expect: Expect::AnyClientError {
            contradiction: "C-44",
        },
        if_accepted: IfAccepted::Fails,
        expectation: "A 65,536-byte payload.message is accepted; 65,537 bytes are refused \
                      with a 4xx (code unspecified, C-44) and not delivered.",
    },
];

/// Every row as a [`Case`] (all run through [`run`], which finds its row by case id).
pub(crate) fn cases() -> Vec<Case> {
    ROWS.iter()
        .map(|r| Case {
            id: r.id,
            title: r.title,
            clauses: r.clauses,
            level: r.level,
            module: module_path!(),
            needs: &[],
            expectation: r.expectation,
            run: |ctx| Box::pin(run(ctx)),
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The shared script
// ------------------------------------------------------------------------------------------

/// The mutated message as sent, and where it must not show up.
struct Mutated {
    body: Value,
    /// Recipient to check (`None` = `b`).
    recipient: Option<Agent>,
    /// The subject the recipient would see.
    subject: String,
}

/// The subject of the control and mutated messages: run-unique, and for
/// [`Mutation::SubjectOverLimit`] exactly `len` characters long.
fn sized_subject(ctx: &Ctx, len: usize) -> String {
    let mut s = format!("{} ", ctx.unique_name("s"));
    while s.len() < len {
        s.push('a');
    }
    s
}

/// The control message of `m` (what the mutated message is, minus the mutation).
fn control(ctx: &Ctx, m: Mutation, a: &Agent, b: &Agent, parent: &str) -> Result<Value, Failure> {
    let mb = ctx
        .message(a, &b.address)
        .priority(Some(Priority::Low))
        .in_reply_to(parent);
    let mb = match m {
        Mutation::SubjectOverLimit => mb.subject(sized_subject(ctx, 256)),
        Mutation::MessageOverLimit => mb
            .subject(subject(ctx, "64 KiB body"))
            .payload(json!({"type": "notification", "message": "a".repeat(65_536)})),
        _ => mb.subject(subject(ctx, "control")),
    };
    mb.signed()
}

/// Build the mutated message (`control_id` is the accepted control, a valid other parent).
async fn mutated(
    ctx: &mut Ctx,
    m: Mutation,
    a: &Agent,
    b: &Agent,
    parent: &str,
    control_id: &str,
) -> Result<Mutated, Failure> {
    let s = match m {
        Mutation::SubjectOverLimit => sized_subject(ctx, 257),
        _ => subject(ctx, "mutated"),
    };
    let mb = ctx
        .message(a, &b.address)
        .subject(s.clone())
        .priority(Some(Priority::Low))
        .in_reply_to(parent);
    let plain = |body| Mutated {
        body,
        recipient: None,
        subject: s.clone(),
    };
    Ok(match m {
        Mutation::Unsigned => plain(mb.unsigned()),
        Mutation::FlipSignatureBit => {
            let mut bytes = a.key.sign(mb.canonical()?.as_bytes()).to_bytes();
            bytes[10] ^= 0x01;
            plain(mb.signature(Signature::from_bytes(bytes).to_base64()))
        }
        Mutation::SignedByStranger => {
            let stranger = ctx.new_key();
            plain(mb.signed_by(&stranger)?)
        }
        Mutation::PayloadWithoutType => {
            plain(mb.payload(json!({"message": "no type here"})).signed()?)
        }
        Mutation::SubjectOverLimit => plain(mb.signed()?),
        Mutation::MessageOverLimit => plain(
            mb.payload(json!({"type": "notification", "message": "a".repeat(65_537)}))
                .signed()?,
        ),
        Mutation::PriorityUnknown => {
            let payload = json!({"type": "notification", "message": "hello from amp-conformance"});
            let hash = payload_hash(&payload, ctx.profile())
                .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
            // Signed over the invalid text exactly as sent (SIG-007 layout), so the only thing
            // wrong is the priority value itself.
            let canonical = format!("{}|{}|{s}|critical|{parent}|{hash}", a.address, b.address);
            let sig = sign_text(&a.key, &canonical);
            plain(json!({
                "to": b.address, "subject": s, "priority": "critical",
                "in_reply_to": parent, "payload": payload, "signature": sig,
            }))
        }
        Mutation::AfterSigning(field) => {
            let mut body = mb.signed()?;
            let mut out = Mutated {
                body: Value::Null,
                recipient: None,
                subject: s.clone(),
            };
            match field {
                SignedField::Subject => {
                    out.subject = format!("{s} (edited)");
                    body["subject"] = json!(out.subject.clone());
                }
                SignedField::Priority => body["priority"] = json!("urgent"),
                SignedField::Payload => {
                    body["payload"]["message"] = json!("hello from amp-conformance!");
                }
                SignedField::To => {
                    let other = ctx.agent().await?;
                    body["to"] = json!(other.address.clone());
                    out.recipient = Some(other);
                }
                SignedField::InReplyTo => body["in_reply_to"] = json!(control_id),
            }
            out.body = body;
            out
        }
    })
}

/// How the mutation reads in a verdict.
fn describe(m: Mutation) -> &'static str {
    match m {
        Mutation::Unsigned => "a route body without `signature`",
        Mutation::FlipSignatureBit => "a signature with one flipped bit",
        Mutation::SignedByStranger => "a message signed with a key the sender never registered",
        Mutation::AfterSigning(SignedField::Subject) => "a subject edited after signing",
        Mutation::AfterSigning(SignedField::Priority) => {
            "a priority escalated from low to urgent after signing"
        }
        Mutation::AfterSigning(SignedField::Payload) => {
            "a payload.message with one character appended after signing"
        }
        Mutation::AfterSigning(SignedField::To) => "a message re-addressed after signing",
        Mutation::AfterSigning(SignedField::InReplyTo) => {
            "a reply re-pointed at another message after signing"
        }
        Mutation::PayloadWithoutType => "a payload without `type`",
        Mutation::SubjectOverLimit => "a 257-character subject",
        Mutation::PriorityUnknown => "priority `critical`",
        Mutation::MessageOverLimit => "a 65,537-byte payload.message",
    }
}

/// The one script every row runs.
pub async fn run(ctx: &mut Ctx) -> CaseResult {
    let id = ctx.case_id();
    let Some(row) = ROWS.iter().find(|r| r.id == id) else {
        return Err(Failure::Error(format!("no refusal row for case `{id}`")));
    };
    let clause = row.clauses[0];
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let parent_body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "parent"))
        .signed()?;
    let parent = route_ok(ctx, &a, &parent_body, "the parent message").await?;
    let control_body = control(ctx, row.mutation, &a, &b, &parent)?;
    let control_id = route_ok(
        ctx,
        &a,
        &control_body,
        "the same message without the mutation",
    )
    .await?;
    let m = mutated(ctx, row.mutation, &a, &b, &parent, &control_id).await?;
    let what = describe(row.mutation);
    let resp = if row.mutation == Mutation::MessageOverLimit {
        // Over a size limit: a target that hangs up without answering fails the clause.
        ctx.route_oversized(&a, &m.body, clause).await?
    } else {
        ctx.route(&a, &m.body).await?
    };
    if resp.is_success() {
        return accepted(ctx, row, what, &resp);
    }
    match row.expect {
        Expect::Error { status, code } => expect_refusal(ctx, &resp, status, code, clause, what)?,
        Expect::AnyClientError { contradiction } => {
            if !(400..500).contains(&resp.status) {
                return fail(format!(
                    "{what} must be refused with a 4xx ({clause}; the code is unspecified, \
                     {contradiction}), got HTTP {} {}",
                    resp.status,
                    resp.error_code().unwrap_or("")
                ));
            }
        }
    }
    let recipient = m.recipient.as_ref().unwrap_or(&b);
    not_delivered(ctx, recipient, &m.subject, clause).await?;
    match row.if_accepted {
        IfAccepted::Fails => pass(),
        // The refusal is the `required` reading: a run that declared the other one is told.
        IfAccepted::LocalUnsignedReading => judge_reading(
            ctx.contradictions().signing,
            SigningPolicy::Required,
            &format!("{what} between two agents of this provider was refused"),
        ),
    }
}

/// The verdict when the mutated message was accepted.
fn accepted(ctx: &Ctx, row: &Refusal, what: &str, resp: &Resp) -> CaseResult {
    let clause = row.clauses[0];
    let want = match row.expect {
        Expect::Error { status, code } => format!("HTTP {status} {code}"),
        Expect::AnyClientError { .. } => "a 4xx".to_string(),
    };
    match row.if_accepted {
        IfAccepted::Fails => fail(format!(
            "{what} was accepted (HTTP {}); it must be refused with {want} ({clause})",
            resp.status
        )),
        IfAccepted::LocalUnsignedReading => judge_reading(
            ctx.contradictions().signing,
            SigningPolicy::LocalRelaxed,
            &format!(
                "{what} between two agents of this provider was accepted (HTTP {}); SIG-003 \
                 lets a provider accept unsigned messages from trusted local agents, SIG-002 \
                 requires {want} wherever signing is required",
                resp.status
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn rows_are_unique_and_cite_their_clause_first() {
        let mut seen = BTreeSet::new();
        for r in ROWS {
            assert!(seen.insert(r.id), "duplicate refusal row {}", r.id);
            assert!(!r.clauses.is_empty(), "{} cites no clause", r.id);
            if let Expect::Error { status, .. } = r.expect {
                assert!((400..500).contains(&status), "{}: {status}", r.id);
            }
        }
        assert_eq!(cases().len(), ROWS.len());
    }
}
