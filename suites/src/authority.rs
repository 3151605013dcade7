//! Attacks from every position on the inputs that carry identity or authority: a registration
//! of an existing name, key rotation and revocation, the recipient's provider in `to`, the mesh
//! header of spec 06a, and the ack / read / pickup of a message. Each case tries the input unauthenticated, as another
//! registered agent, and with an empty or malformed body where there is one, and then shows,
//! with a request signed by the rightful owner, that nothing changed (keys, API keys, queues,
//! deliveries). A control by the owner at the end proves the ids and paths were the right ones.
//!
//! Federation deliveries from a made-up provider (no peer configuration needed) live with the
//! other federation cases (`federation.deliver.no-peer`).

use crate::refusal::refused;
use crate::relay::queued;
use crate::routing::{
    delivered, entry_id, not_delivered, pending_list, route_ok, route_via_mesh_header, subject,
};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Method, Need, Outcome, Resp, Section, WsEvent,
    expect, fail, pass,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A provider domain no target hosts (RFC 2606 `.invalid`).
const ELSEWHERE: &str = "amp-elsewhere.invalid";

/// Route a signed message from `a` to `b` and wait until `b` holds it: after this, anything
/// routed before it that was going to reach `b` has had its chance (the control of a
/// "not delivered" check).
async fn control_delivered(ctx: &mut Ctx, a: &Agent, b: &Agent) -> Result<String, Failure> {
    let body = ctx
        .message(a, &b.address)
        .subject(subject(ctx, "control"))
        .signed()?;
    let id = route_ok(ctx, a, &body, "a control message from a registered agent").await?;
    delivered(ctx, b, &id).await?;
    Ok(id)
}

/// Whether message `id` is still in `owner`'s queue (the owner's own signed view).
async fn still_queued(ctx: &mut Ctx, owner: &Agent, id: &str) -> Result<bool, Failure> {
    let msgs = pending_list(ctx, owner, "").await?;
    Ok(msgs.iter().any(|m| entry_id(m) == Some(id)))
}

fn code(resp: &Resp) -> &str {
    resp.error_code().unwrap_or("")
}

// ------------------------------------------------------------------------------------------
// Registration of an existing name with the owner's own public key (REG-007)
// ------------------------------------------------------------------------------------------

async fn name_taken_own_key(ctx: &mut Ctx) -> CaseResult {
    let victim = ctx.agent().await?;
    let other = ctx.agent().await?;
    // The public key is public: anyone can resolve it. The attacker re-registers the victim's
    // name with it, once anonymously and once carrying another agent's API key.
    let body = json!({
        "tenant": victim.tenant,
        "name": victim.name,
        "public_key": victim.public_key_pem(),
        "key_algorithm": "Ed25519",
    });
    let anonymous = ctx.register_raw(&body).await?;
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| Failure::Error(format!("cannot serialise the registration: {e}")))?;
    let as_other = ctx
        .request(
            Method::POST,
            "/register",
            &[("Content-Type", "application/json")],
            Some(bytes),
            Some(&other),
        )
        .await?;
    for (who, resp) in [("anonymously", &anonymous), ("as another agent", &as_other)] {
        if let Some(key) = resp.pointer("/api_key").and_then(Value::as_str) {
            let r = amp_client::Req::new(Method::GET, ctx.target().url("/agents/me"))
                .bearer(&amp_runner::Secret::new(key.to_string()));
            let me = ctx.send(r).await?;
            let takes_over = me.is_success()
                && me
                    .pointer("/address")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.eq_ignore_ascii_case(&victim.address));
            return fail(format!(
                "re-registering the taken name `{}` with its owner's public key {who} was \
                 answered HTTP {} with a new API key{} (REG-007: 409 name_taken, the existing \
                 agent's key and API key unchanged)",
                victim.name,
                resp.status,
                if takes_over {
                    " that authenticates as the existing agent: anyone who knows a public key \
                     takes over its agent"
                } else {
                    ""
                }
            ));
        }
        refused(ctx, resp, 409, "name_taken", "REG-007").map_err(|e| match e {
            Failure::Fail(m) => Failure::Fail(format!(
                "re-registering the taken name with its owner's public key {who}: {m}"
            )),
            other => other,
        })?;
    }
    // Nothing changed: the owner's API key still authenticates as the owner.
    let me = ctx.get("/agents/me", Some(&victim)).await?;
    expect::that(
        me.is_success()
            && me
                .pointer("/address")
                .and_then(Value::as_str)
                .is_some_and(|a| a.eq_ignore_ascii_case(&victim.address)),
        format!(
            "after the refused re-registrations the owner's API key answers HTTP {} on GET \
             /agents/me (REG-007: the existing API key keeps working)",
            me.status
        ),
    )?;
    // ... and its registered key still signs messages the provider accepts.
    let body = ctx
        .message(&victim, &other.address)
        .subject(subject(ctx, "owner after the attempts"))
        .signed()?;
    route_ok(
        ctx,
        &victim,
        &body,
        "a message signed by the owner's own key",
    )
    .await?;
    pass()
}

// ------------------------------------------------------------------------------------------
// Key rotation and revocation without credentials or with broken bodies (REG-022, REG-020)
// ------------------------------------------------------------------------------------------

async fn rotate_keys_malformed(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // A well-formed rotation with a correct proof, sent without credentials.
    let new = ctx.new_key();
    let pem = new.public_key().to_spki_pem();
    let proof = a.key.sign(pem.as_bytes()).to_base64();
    let valid = json!({"new_public_key": pem, "key_algorithm": "Ed25519", "proof": proof});
    let anon = ctx.post_json("/auth/rotate-keys", &valid, None).await?;
    let revoke = ctx.delete("/auth/revoke-key", None).await?;
    let mut problems = Vec::new();
    for (what, resp) in [
        ("POST /auth/rotate-keys without credentials", &anon),
        ("DELETE /auth/revoke-key without credentials", &revoke),
    ] {
        if resp.is_success() {
            problems.push(format!(
                "{what} answered HTTP {} (API-002: 401)",
                resp.status
            ));
        }
    }
    // The agent's own requests that name no new key: each must be refused, none may rotate.
    let broken: [(&str, &[u8]); 4] = [
        ("an empty body", b""),
        ("`{}`", b"{}"),
        ("a malformed body", b"{\"new_public_key\": "),
        (
            "a body without `proof`",
            b"{\"key_algorithm\": \"Ed25519\"}",
        ),
    ];
    for (what, bytes) in broken {
        let resp = ctx
            .post_raw(
                "/auth/rotate-keys",
                bytes.to_vec(),
                "application/json",
                Some(&a),
            )
            .await?;
        if !(400..500).contains(&resp.status) {
            problems.push(format!(
                "POST /auth/rotate-keys with {what} answered HTTP {} {}; a rotation needs the \
                 new public key and a proof by the old key (REG-022)",
                resp.status,
                code(&resp)
            ));
        }
    }
    // Nothing changed: the directory still holds the agent's own key, its API key works and
    // its key still signs messages the provider accepts.
    let resolved = ctx
        .get(&format!("/agents/resolve/{}", a.address), Some(&b))
        .await?;
    let still_own = resolved
        .pointer("/public_key")
        .and_then(Value::as_str)
        .and_then(|p| amp_core::PublicKey::from_spki_pem(p).ok())
        == Some(a.key.public_key());
    if resolved.is_success() && !still_own {
        problems.push(
            "after the refused rotations the address resolves to another public key: the \
             agent's key was replaced without its proof (REG-022)"
                .to_string(),
        );
    }
    let me = ctx.get("/agents/me", Some(&a)).await?;
    if !me.is_success() {
        problems.push(format!(
            "after the attempts the agent's API key answers HTTP {} on GET /agents/me",
            me.status
        ));
    }
    expect::no_problems(
        &problems,
        "key rotation and revocation (REG-022, REG-020, API-002)",
    )?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "key unchanged"))
        .signed()?;
    route_ok(
        ctx,
        &a,
        &body,
        "a message signed by the agent's unchanged key",
    )
    .await?;
    pass()
}

// ------------------------------------------------------------------------------------------
// `to` on another provider never lands in a local inbox (RTE-023)
// ------------------------------------------------------------------------------------------

/// `b`'s own name and tenant on a provider this target is not.
fn elsewhere_twin(b: &Agent) -> Result<String, Failure> {
    let Some((name, _)) = b.address.split_once('@') else {
        return Err(Failure::Error(format!(
            "registered address `{}` has no @",
            b.address
        )));
    };
    Ok(format!("{name}@{}.{ELSEWHERE}", b.tenant))
}

async fn to_other_provider(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // b's own name and tenant, on a provider this target is not.
    let elsewhere = elsewhere_twin(&b)?;
    let s = subject(ctx, "for another provider");
    let body = ctx.message(&a, &elsewhere).subject(s.clone()).signed()?;
    let resp = ctx.route(&a, &body).await?;
    ctx.note(format!(
        "routing to {elsewhere} answered HTTP {} {}",
        resp.status,
        code(&resp)
    ));
    if !resp.is_success() {
        // Refused: nothing can have reached b, whatever the provider's delivery channel.
        not_delivered(ctx, &b, &s, "RTE-023").await?;
        return pass();
    }
    control_delivered(ctx, &a, &b).await?;
    not_delivered(
        ctx,
        &b,
        &s,
        "RTE-023: a `to` on another provider is federated, never delivered to the local agent \
         with the same name and tenant",
    )
    .await?;
    Ok(Outcome::Info(format!(
        "the message to {elsewhere} was accepted (HTTP {}, status {:?}) and did not reach the \
         local namesake",
        resp.status,
        resp.pointer("/status")
            .and_then(Value::as_str)
            .unwrap_or("")
    )))
}

/// SIG-002: signatures are REQUIRED for cross-provider messages (SIG-003 relaxes only local
/// delivery), so an unsigned message to another provider is refused whatever `--signing` says.
async fn unsigned_other_provider(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let elsewhere = elsewhere_twin(&b)?;
    let s = subject(ctx, "unsigned, for another provider");
    let body = ctx.message(&a, &elsewhere).subject(s.clone()).unsigned();
    let resp = ctx.route(&a, &body).await?;
    if resp.is_success() || !(400..500).contains(&resp.status) {
        return fail(format!(
            "an unsigned message to `{elsewhere}` on another provider answered HTTP {} {}; \
             signatures are required for cross-provider messages (SIG-002: 422 \
             signature_missing, or any refusal)",
            resp.status,
            code(&resp)
        ));
    }
    if resp.status == 422 {
        crate::refusal::code_matches(ctx, &resp, "signature_missing", "SIG-002");
    } else {
        ctx.note(format!(
            "refused with HTTP {} {} before the signature was looked at (the provider does not \
             forward to that domain)",
            resp.status,
            code(&resp)
        ));
    }
    not_delivered(ctx, &b, &s, "SIG-002").await?;
    pass()
}

// ------------------------------------------------------------------------------------------
// The mesh header without credentials (MESH-012, API-002)
// ------------------------------------------------------------------------------------------

/// Host ids a mesh peer of the target could claim in `X-Forwarded-From` (06a): a made-up one,
/// and the ones the target publishes itself (the first label of the well-known `provider` when
/// it extends `/info`'s, `mesh.self_host_id` of `/health`).
async fn mesh_host_ids(ctx: &mut Ctx) -> Result<Vec<String>, Failure> {
    let mut ids = vec!["mesh-host.amp-conformance.invalid".to_string()];
    let info_provider = ctx
        .info()
        .ok()
        .and_then(|i| i.get("provider"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let url = ctx.target().origin_url("/.well-known/agent-messaging.json");
    let well_known = ctx.get(&url, None).await?;
    if let (Some(wk), Some(info)) = (
        well_known.pointer("/provider").and_then(Value::as_str),
        info_provider,
    ) && let Some(host) = wk.strip_suffix(&format!(".{info}"))
        && !host.is_empty()
    {
        ids.push(host.to_string());
    }
    let health = ctx.get("/health", None).await?;
    if let Some(h) = health.pointer("/mesh/self_host_id").and_then(Value::as_str) {
        ids.push(h.to_string());
    }
    ids.dedup();
    Ok(ids)
}

async fn mesh_header_unauthenticated(ctx: &mut Ctx) -> CaseResult {
    let victim = ctx.agent().await?;
    let b = ctx.agent().await?;
    let stranger = ctx.new_key();
    let hosts = mesh_host_ids(ctx).await?;
    let mut subjects = Vec::new();
    for host in &hosts {
        let s = subject(ctx, "mesh, no credentials, unsigned");
        let unsigned = ctx
            .message(&victim, &b.address)
            .subject(s.clone())
            .field("from", json!(victim.address.clone()))
            .unsigned();
        subjects.push(s);
        let s = subject(ctx, "mesh, no credentials, stranger key");
        let forged = ctx
            .message(&victim, &b.address)
            .subject(s.clone())
            .field("from", json!(victim.address.clone()))
            .signed_by(&stranger)?;
        subjects.push(s);
        for (what, body) in [
            ("an unsigned message", &unsigned),
            ("a message signed by a key nobody registered", &forged),
        ] {
            let resp = route_via_mesh_header(ctx, body, host, None).await?;
            // An accepted request is the failure: the provider said it took the forgery.
            if resp.is_success() || !(400..500).contains(&resp.status) {
                return fail(format!(
                    "POST /route without Authorization but with `X-Forwarded-From: {host}` and \
                     `from` = `{}` ({what}) answered HTTP {} {}; a mesh header is no \
                     credential (MESH-012, API-002: 401 unauthorized)",
                    victim.address,
                    resp.status,
                    code(&resp)
                ));
            }
        }
    }
    // Every attempt was refused: nothing of them may sit in the recipient's queue.
    for s in &subjects {
        not_delivered(ctx, &b, s, "MESH-012").await?;
    }
    pass()
}

// ------------------------------------------------------------------------------------------
// Another agent's queue: pickup, batch ack, WS ack, read receipt
// ------------------------------------------------------------------------------------------

async fn pending_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &victim, "someone else's mail").await?;
    // Every spelling a provider might use to pick a queue, anonymously and as the intruder.
    let addr = victim.address.clone();
    let agent_id = victim.agent_id.clone().unwrap_or_else(|| addr.clone());
    let queries = [
        format!("?agent={addr}"),
        format!("?address={addr}"),
        format!("?to={addr}"),
        format!("?agent_id={agent_id}"),
    ];
    for q in &queries {
        let path = format!("/messages/pending{q}");
        let anon = ctx.get(&path, None).await?;
        if anon.is_success() {
            return fail(format!(
                "GET {path} without credentials answered HTTP {} (API-002: 401 unauthorized)",
                anon.status
            ));
        }
        let resp = ctx.get(&path, Some(&intruder)).await?;
        let leaked = resp
            .pointer("/messages")
            .and_then(Value::as_array)
            .is_some_and(|msgs| msgs.iter().any(|m| entry_id(m) == Some(id.as_str())));
        if leaked {
            return fail(format!(
                "GET {path} as another agent listed message {id} queued for `{addr}`: pickup \
                 must be scoped to the authenticated agent (RTE-015, API-002)"
            ));
        }
    }
    expect::that(
        still_queued(ctx, &victim, &id).await?,
        format!("message {id} left the owner's queue after other agents asked for it (RTE-015)"),
    )?;
    pass()
}

async fn batch_ack_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &victim, "batch ack target").await?;
    let ids = json!({"ids": [id.clone()]});
    let anon = ctx.post_json("/messages/pending/ack", &ids, None).await?;
    if anon.is_success() {
        return fail(format!(
            "POST /messages/pending/ack without credentials answered HTTP {} (API-002: 401)",
            anon.status
        ));
    }
    let foreign = ctx
        .post_json("/messages/pending/ack", &ids, Some(&intruder))
        .await?;
    ctx.note(format!(
        "another agent's batch ack answered HTTP {} {}",
        foreign.status,
        foreign.text()
    ));
    expect::that(
        still_queued(ctx, &victim, &id).await?,
        format!(
            "another agent's POST /messages/pending/ack {{ids: [{id}]}} (HTTP {}) removed the \
             message from its recipient's queue: acks are scoped to the authenticated agent \
             (RTE-018)",
            foreign.status
        ),
    )?;
    // The owner's own requests with nothing to ack: empty list, no list, broken JSON.
    let empty = ctx
        .post_json("/messages/pending/ack", &json!({"ids": []}), Some(&victim))
        .await?;
    let missing = ctx
        .post_json("/messages/pending/ack", &json!({}), Some(&victim))
        .await?;
    let broken = ctx
        .post_raw(
            "/messages/pending/ack",
            b"{\"ids\": [".to_vec(),
            "application/json",
            Some(&victim),
        )
        .await?;
    expect::that(
        still_queued(ctx, &victim, &id).await?,
        format!(
            "a batch ack naming no id removed message {id} (empty list: HTTP {}, no `ids`: \
             HTTP {}, malformed body: HTTP {}); only the listed ids are acknowledged (RTE-018)",
            empty.status, missing.status, broken.status
        ),
    )?;
    for (what, resp) in [
        ("without `ids`", &missing),
        ("with a malformed body", &broken),
    ] {
        if !(400..500).contains(&resp.status) {
            return fail(format!(
                "POST /messages/pending/ack {what} answered HTTP {} {}; a request that names \
                 nothing to acknowledge is refused with 400 (RTE-018, API-008)",
                resp.status,
                code(resp)
            ));
        }
    }
    // Control: the owner's batch ack of the id removes it.
    let own = ctx
        .post_json("/messages/pending/ack", &ids, Some(&victim))
        .await?;
    expect::success(&own)?;
    expect::that(
        !still_queued(ctx, &victim, &id).await?,
        format!("the owner's own batch ack of {id} did not remove it (RTE-018)"),
    )?;
    pass()
}

/// Wait up to `window` for a frame of type `kind` about message `id` on `conn`.
async fn frame_about(
    conn: &mut amp_runner::WsConn,
    kind: &str,
    id: &str,
    window: Duration,
) -> bool {
    let deadline = Instant::now() + window;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ev = conn.recv(left).await;
        match &ev {
            WsEvent::Text { .. } => {
                let about = ev
                    .json()
                    .and_then(|f| f.pointer("/data/id"))
                    .and_then(Value::as_str)
                    == Some(id);
                if about && ev.frame_type() == Some(kind) {
                    return true;
                }
            }
            WsEvent::Binary(_) => {}
            WsEvent::Closed { .. } | WsEvent::Timeout | WsEvent::Error(_) => return false,
        }
    }
}

async fn ws_ack_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &victim, "ws ack target").await?;
    let mut conn = ctx.ws(&intruder).await?;
    for frame in [
        json!({"type": "message.ack", "id": id}),
        json!({"type": "ack", "id": id}),
    ] {
        conn.send_json(&frame).await?;
    }
    // Any answer (an error frame, or nothing) is fine; what counts is the owner's queue.
    let window = ctx.timing().observe_window;
    ctx.need_time(window);
    frame_about(&mut conn, "error", &id, window).await;
    conn.close().await;
    expect::that(
        still_queued(ctx, &victim, &id).await?,
        format!(
            "another agent's WebSocket ack of message {id} removed it from its recipient's \
             queue: acks are scoped to the authenticated agent (NOTIFY-009, WS-008)"
        ),
    )?;
    let own = ctx.ack(&victim, &id).await?;
    expect::success(&own)?;
    pass()
}

async fn read_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let body = ctx
        .message(&a, &victim.address)
        .subject(subject(ctx, "read receipt target"))
        .field("options", json!({"receipt": true}))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message asking for receipts").await?;
    delivered(ctx, &victim, &id).await?;
    // The sender listens for receipts while others try to mark its message read.
    let mut conn = ctx.ws(&a).await?;
    let path = format!("/messages/{id}/read");
    let anon = ctx.post_json(&path, &json!({}), None).await?;
    let foreign = ctx.post_json(&path, &json!({}), Some(&intruder)).await?;
    for (who, resp) in [
        ("without credentials", &anon),
        ("as another agent", &foreign),
    ] {
        if resp.is_success() {
            return fail(format!(
                "POST {path} {who} answered HTTP {} {}; only the recipient may mark its \
                 message read (RTE-022, API-002)",
                resp.status,
                resp.text()
            ));
        }
    }
    let window = ctx.timing().observe_window;
    ctx.need_time(window * 2);
    if frame_about(&mut conn, "message.read", &id, window).await {
        return fail(format!(
            "the sender received a `message.read` receipt for {id} although only other agents \
             tried to mark it read (RTE-022)"
        ));
    }
    // Control: the recipient's own read produces the receipt, so the channel was watched.
    let own = ctx.post_json(&path, &json!({}), Some(&victim)).await?;
    expect::success(&own)?;
    let seen = frame_about(&mut conn, "message.read", &id, window).await;
    conn.close().await;
    if !seen {
        return Ok(Outcome::Skip(format!(
            "the recipient's own read of {id} produced no `message.read` frame on the \
             sender's socket within {} ms, so a forged read could not be observed (RTE-022)",
            window.as_millis()
        )));
    }
    pass()
}

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "register.name-taken.own-key",
        title: "Re-registering a taken name with its owner's public key issues nothing",
        clauses: &["REG-007"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "A registration of an existing name with that agent's own (public) key, \
                      anonymous or carrying another agent's API key, answers 409 name_taken \
                      with no API key, and the owner's API key keeps working.",
        run: |ctx| Box::pin(name_taken_own_key(ctx)),
    },
    Case {
        id: "keys.rotate-keys.malformed",
        title: "Key rotation and revocation need credentials, a new key and a proof",
        clauses: &["REG-022", "REG-020", "API-002"],
        level: Level::Must,
        section: Section::Keys,
        needs: &[],
        expectation: "rotate-keys and revoke-key without credentials, and rotate-keys with an \
                      empty, `{}`, malformed or proof-less body, are refused; afterwards the \
                      agent resolves to its own key, its API key works and its key signs.",
        run: |ctx| Box::pin(rotate_keys_malformed(ctx)),
    },
    Case {
        id: "route.to.other-provider",
        title: "A `to` on another provider never lands in a local inbox",
        clauses: &["RTE-023"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A message to `<b's name>@<b's tenant>.amp-elsewhere.invalid` is refused \
                      or forwarded, never delivered to the local agent b.",
        run: |ctx| Box::pin(to_other_provider(ctx)),
    },
    Case {
        id: "route.unsigned.other-provider",
        title: "An unsigned message to another provider is refused",
        clauses: &["SIG-002"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route body without `signature` to an address on another provider is \
                      refused (422 signature_missing, or refused earlier), under every \
                      --signing reading.",
        run: |ctx| Box::pin(unsigned_other_provider(ctx)),
    },
    Case {
        id: "route.from.mesh-header.unauthenticated",
        title: "X-Forwarded-From is no credential",
        clauses: &["MESH-012", "API-002"],
        level: Level::Must,
        section: Section::Security,
        needs: &[],
        expectation: "POST /route without Authorization, with X-Forwarded-From and `from` set to \
                      a registered agent (unsigned, or signed by an unknown key), is refused \
                      and never delivered.",
        run: |ctx| Box::pin(mesh_header_unauthenticated(ctx)),
    },
    Case {
        id: "relay.pending.foreign",
        title: "No query parameter lists another agent's queue",
        clauses: &["RTE-015", "API-002"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "GET /messages/pending?agent=|address=|to=|agent_id=<another agent> is \
                      refused anonymously and never lists that agent's messages to a caller.",
        run: |ctx| Box::pin(pending_foreign(ctx)),
    },
    Case {
        id: "relay.ack.foreign-batch",
        title: "A batch ack removes only the caller's listed messages",
        clauses: &["RTE-018", "API-002"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "Batch acks of another agent's id (anonymous or authenticated), and the \
                      owner's own acks of an empty list, no list or a malformed body, leave \
                      the message queued; the owner's ack of the id removes it.",
        run: |ctx| Box::pin(batch_ack_foreign(ctx)),
    },
    Case {
        id: "ws.ack.foreign",
        title: "A WebSocket ack cannot remove another agent's message",
        clauses: &["NOTIFY-009", "WS-008"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "`message.ack` and `ack` frames naming another agent's message id leave it \
                      in that agent's queue.",
        run: |ctx| Box::pin(ws_ack_foreign(ctx)),
    },
    Case {
        id: "relay.read.foreign",
        title: "Only the recipient can mark a message read",
        clauses: &["RTE-022", "API-002"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[Need::Capability("websockets")],
        expectation: "POST /messages/{id}/read anonymously or as another agent is refused and \
                      the sender receives no `message.read` until the recipient reads it.",
        run: |ctx| Box::pin(read_foreign(ctx)),
    },
];
