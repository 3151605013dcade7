//! The route pipeline shared by `POST /route` and WebSocket `route` frames (spec 04, 05;
//! SIG-002..016, RTE-002..011, IDEM-004/005, ADDR-001..009): suspension check, idempotency,
//! strict parsing with amp-core's limits, `from` (C-11), signature, the routing decision
//! (amp-core `routing::decide`), recipient checks, screening, attachment claims, then
//! [`AppState::deliver`](crate::service::delivery).

use crate::defects::Defect;
use crate::error::ApiError;
use crate::policy::IdempotencyMemory;
use crate::service::AppState;
use crate::store::idempotency::IdemRecord;
use crate::wire::{AgentRef, RouteOutcome, Trust};
use amp_core::envelope::{Envelope, Limits, RouteRequest};
use amp_core::routing::{RouteDecision, RoutingContext, decide};
use amp_core::signing::{Priority, PublicKey};
use amp_core::{MessageId, PayloadHash, PayloadProfile};
use serde_json::Value;

impl AppState {
    /// The one routing path for REST and WS `route` frames: validate, verify, build the
    /// envelope, deliver. `body` is the already-parsed (strict) route body.
    pub async fn route(&self, sender: &AgentRef, body: &Value) -> Result<RouteOutcome, ApiError> {
        self.route_sync(sender, body, false, false)
    }

    /// [`AppState::route`] for a request that claims to come from a mesh host
    /// (`X-Forwarded-From`); only the `mesh-header-trusted` defect treats it differently.
    pub(crate) async fn route_mesh(
        &self,
        sender: &AgentRef,
        body: &Value,
    ) -> Result<RouteOutcome, ApiError> {
        self.route_sync(
            sender,
            body,
            self.has(Defect::MeshHeaderTrusted),
            self.has(Defect::MeshHeaderSkipsAuth),
        )
    }

    /// A route answer saying "queued" for a message that goes nowhere (the defects that accept
    /// what they cannot deliver).
    fn queued_nowhere(&self) -> RouteOutcome {
        let now = self.clock().now_unix();
        let id = MessageId::random(u64::try_from(now).unwrap_or(0));
        RouteOutcome {
            id: id.as_str().to_string(),
            status: "queued".into(),
            method: "relay".into(),
            delivered_at: None,
            basis: "queued".into(),
        }
    }

    /// Whether `to` names this provider (its domain ends the address, or it is a short form).
    fn hosts_address(&self, to: &str) -> bool {
        let domain = self.config().provider_domain.to_ascii_lowercase();
        match to.trim().to_ascii_lowercase().split_once('@') {
            None => true,
            Some((_, rest)) => !rest.contains('.') || rest.ends_with(&format!(".{domain}")),
        }
    }

    fn route_sync(
        &self,
        sender: &AgentRef,
        body: &Value,
        trust_mesh_from: bool,
        mesh_unsigned_ok: bool,
    ) -> Result<RouteOutcome, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::invalid_request("route body must be a JSON object"))?;
        // SUS-001: a suspended sender is refused before anything else.
        crate::service::moderation::check_sender(self, sender)?;

        // Idempotency (IDEM-004/005): same key + same body → the original response.
        let idem_key = obj
            .get("idempotency_key")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(k) = &idem_key
            && !self.has(Defect::IdempotencyIgnored)
        {
            let db = self.lock();
            if let Some(rec) = db.idempotency.get(&sender.agent_id, k) {
                if &rec.request == body {
                    return Ok(rec.outcome.clone());
                }
                return Err(ApiError::new(
                    409,
                    "duplicate_idempotency_key",
                    "this idempotency_key was already used with a different request body: use a fresh key for a new message",
                )
                .with_field("idempotency_key"));
            }
        }

        let req = self.parse_route_request(body)?;

        // SIG-013 / C-11: `from`, when present, must be the authenticated agent.
        let mut from = sender.address.clone();
        // `from-overwritten` (the overwrite reading of C-11): a client `from` is ignored.
        let client_from = req
            .from
            .as_deref()
            .filter(|_| !self.has(Defect::FromOverwritten));
        if let Some(f) = client_from
            && !f.eq_ignore_ascii_case(&sender.address)
        {
            if self.has(Defect::HonourSpoofedFrom) || trust_mesh_from {
                from = f.to_string();
            } else {
                return Err(ApiError::forbidden(format!(
                    "`from` ({f}) is not the authenticated agent ({}): omit `from`, the provider fills it in",
                    sender.address
                ))
                .with_field("from"));
            }
        }

        // Signature (SIG-002, SIG-015, SIG-016, REV-002).
        let signature = match req.signature.as_deref() {
            Some(s) => {
                self.verify_route_signature(sender, &req, &from, s)?;
                s.to_string()
            }
            None if self.has(Defect::AcceptUnsigned) || mesh_unsigned_ok => String::new(),
            // `unsigned-foreign-queued`: signatures are only demanded for local recipients.
            None if self.has(Defect::UnsignedForeignQueued) && !self.hosts_address(&req.to) => {
                return Ok(self.queued_nowhere());
            }
            None => {
                return Err(ApiError::new(
                    422,
                    "signature_missing",
                    "route requests must carry `signature`: Base64 Ed25519 signature over the canonical string (SIG-002)",
                )
                .with_field("signature"));
            }
        };

        // Recipient (AGT-003).
        let recipient = self.resolve_recipient(sender, &req.to)?;
        let now = self.clock().now_unix();
        let Some(recipient) = recipient else {
            // `unknown-recipient-accepted`: answer as if queued, deliver nowhere.
            return Ok(self.queued_nowhere());
        };

        // SUS-002: nothing new for a suspended recipient.
        crate::service::moderation::check_recipient(self, &recipient)?;
        let envelope = self.build_envelope(&req, &from, &recipient, signature, now);
        let trust = if recipient.tenant == sender.tenant
            && recipient
                .address
                .ends_with(&format!(".{}", self.config().provider_domain))
        {
            Trust::Verified
        } else {
            Trust::External
        };
        let mut payload = req.payload.clone();
        if self.has(Defect::ContextModified)
            && let Some(ctx) = payload.get_mut("context")
        {
            strip_nulls_and_empty(ctx);
        }
        if self.has(Defect::PayloadNullsStripped)
            && let Some(o) = payload.as_object_mut()
        {
            o.retain(|_, v| !v.is_null());
        }
        // Content screening (QTN-003): a held message is answered 202 quarantined (RTE-004).
        let held = crate::service::moderation::screen(
            self,
            sender,
            &recipient,
            &envelope,
            &payload,
            trust,
            req.options
                .as_ref()
                .and_then(|o| o.receipt)
                .unwrap_or(false),
        )?;
        if let Some(h) = &held
            && !self.has(Defect::QuarantineDelivered)
        {
            return Ok(h.clone());
        }
        // Attachments (ATT-006, ATT-011, RTE-006..009): checked and reserved before delivery.
        let claim = crate::service::attachments::claim_for_route(self, sender, &req.payload)?;
        let outcome = match self.deliver(
            &recipient,
            Some(&sender.agent_id),
            envelope,
            payload,
            trust,
            req.options
                .as_ref()
                .and_then(|o| o.receipt)
                .unwrap_or(false),
        ) {
            Ok(o) => {
                claim.bind(self, &o.id, &recipient);
                o
            }
            Err(e) => {
                claim.release(self);
                return Err(e);
            }
        };
        let outcome = held.unwrap_or(outcome);

        if let Some(k) = idem_key
            && !self.has(Defect::IdempotencyIgnored)
        {
            let latest_only = self.policy().idempotency_memory == IdempotencyMemory::LatestOnly;
            self.lock().idempotency.remember(
                &sender.agent_id,
                k,
                IdemRecord {
                    request: body.clone(),
                    outcome: outcome.clone(),
                },
                latest_only,
            );
        }
        Ok(outcome)
    }

    /// Apply the limits (and the validation defects) and parse the route body with amp-core.
    fn parse_route_request(&self, body: &Value) -> Result<RouteRequest, ApiError> {
        let limits = Limits {
            http_body_bytes: self.config().max_body_bytes,
            subject_chars: self.policy().subject_max_chars,
            ..Limits::default()
        };
        let mut body = body.clone();
        if self.has(Defect::OptionsReceiptRefused)
            && body.pointer("/options/receipt") == Some(&Value::Bool(true))
        {
            return Err(ApiError::invalid_field(
                "options",
                "`options` is not supported by this provider",
            ));
        }
        if self.has(Defect::PriorityUnvalidated)
            && let Some(obj) = body.as_object_mut()
        {
            // Any priority text is accepted and treated as `normal` (signing and envelope),
            // because the canonical string can only carry the four defined values.
            let valid = obj
                .get("priority")
                .and_then(Value::as_str)
                .is_some_and(|p| p.parse::<Priority>().is_ok());
            if obj.contains_key("priority") && !valid {
                obj.remove("priority");
            }
        }
        RouteRequest::from_value(&body, &limits).map_err(|e| {
            let missing_type = e.code == "missing_field"
                && e.field.as_deref().is_some_and(|f| f.ends_with("type"));
            if missing_type && self.has(Defect::MissingFieldWrongCode) {
                ApiError::invalid_request("payload is incomplete")
            } else {
                ApiError::from(e)
            }
        })
    }

    fn verify_route_signature(
        &self,
        sender: &AgentRef,
        req: &RouteRequest,
        from: &str,
        sig: &str,
    ) -> Result<(), ApiError> {
        if self.has(Defect::AcceptBadSignature) {
            return Ok(());
        }
        let (current, revoked) = {
            let db = self.lock();
            let a = db
                .agents
                .get(&sender.agent_id)
                .ok_or_else(|| ApiError::unauthorized("sender no longer registered"))?;
            (a.public_key, a.revoked_public_keys.clone())
        };
        let strictness = self.policy().signature_strictness;
        let hash = self.verification_payload_hash(&req.payload)?;
        let mut fields = req.signing_fields(from, &hash);
        // `signature-base64url-accepted`: the URL-safe alphabet is read as the standard one.
        let translated;
        let sig = if self.has(Defect::SignatureBase64UrlAccepted) && sig.contains(['-', '_']) {
            translated = sig.replace('-', "+").replace('_', "/");
            translated.as_str()
        } else {
            sig
        };
        let verifies = |pk: &PublicKey, f: &amp_core::SigningFields| {
            let text = amp_core::canonical_string(f);
            amp_core::verify(pk, text.as_bytes(), sig, strictness).is_ok()
        };
        let priorities: Vec<Priority> = if self.has(Defect::UnsignedPriority) {
            // Priority effectively unsigned: any of the four values verifies.
            vec![
                fields.priority,
                Priority::Urgent,
                Priority::High,
                Priority::Normal,
                Priority::Low,
            ]
        } else {
            vec![fields.priority]
        };
        for p in &priorities {
            fields.priority = *p;
            if verifies(&current, &fields) {
                return Ok(());
            }
        }
        fields.priority = priorities[0];
        if revoked.iter().any(|k| verifies(k, &fields)) {
            if self.has(Defect::OldKeyValidAfterRotate) {
                return Ok(());
            }
            return Err(ApiError::new(
                403,
                "key_revoked",
                "the message is signed with a key that was rotated out or revoked: sign with the agent's current key",
            ));
        }
        Err(ApiError::new(
            403,
            "signature_invalid",
            "signature does not verify over from|to|subject|priority|in_reply_to|payload_hash with the sender's registered key",
        )
        .with_field("signature"))
    }

    /// The payload hash the route signature is verified with: the policy's profile
    /// (`payload-hash-insertion` moves it), or, in one place, what the payload-hash defects
    /// that change the computation produce instead.
    fn verification_payload_hash(&self, payload: &Value) -> Result<PayloadHash, ApiError> {
        let cannot = |e: amp_core::CanonError| {
            ApiError::invalid_field("payload", format!("payload cannot be hashed: {e}"))
        };
        if self.has(Defect::PayloadHashIntegerKeysFirst) {
            // A JavaScript object built from the sorted keys lists integer-like keys first.
            return amp_core::payload_hash(&js_object_order(payload), PayloadProfile::Insertion)
                .map_err(cannot);
        }
        let profile = self.policy().payload_profile;
        if self.has(Defect::PayloadHashProtoDropped) {
            return amp_core::payload_hash(&without_proto(payload), profile).map_err(cannot);
        }
        amp_core::payload_hash(payload, profile).map_err(cannot)
    }

    /// Resolve `to` with amp-core's routing decision (ADDR-001..009, RTE-023, AGT-003):
    /// `Ok(None)` only under the `unknown-recipient-accepted` defect. The mock delivers only
    /// locally: addresses of other providers and local networks are not found here.
    fn resolve_recipient(&self, sender: &AgentRef, to: &str) -> Result<Option<AgentRef>, ApiError> {
        if self.has(Defect::MixedCaseToRefused) && to.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ApiError::invalid_field("to", "addresses must be lowercase"));
        }
        let to = self.recipient_text_defects(to);
        let not_here = |what: String| {
            if self.has(Defect::UnknownRecipient400) {
                ApiError::new(400, "invalid_recipient", what).with_field("to")
            } else {
                ApiError::not_found(what).with_field("to")
            }
        };
        match self.route_decision(&sender.tenant, &to) {
            RouteDecision::Local { address } => Ok(self.resolve(&address)),
            RouteDecision::Refuse(r) if r.status != 404 => {
                Err(ApiError::new(r.status, r.code, r.reason).with_field("to"))
            }
            _ if self.has(Defect::UnknownRecipientAccepted) => Ok(None),
            RouteDecision::Refuse(r) => Err(not_here(format!(
                "{}: check the address with GET /agents/resolve/{{address}}",
                r.reason
            ))),
            RouteDecision::Federate { address, .. } | RouteDecision::Mesh { address, .. } => {
                Err(not_here(format!(
                    "no agent `{address}` on this provider: this mock delivers only to its own \
                     agents and does not forward to other providers or local networks"
                )))
            }
        }
    }

    /// amp-core's routing decision for `to` from a sender in `sender_tenant`.
    pub(crate) fn route_decision(&self, sender_tenant: &str, to: &str) -> RouteDecision {
        let ctx = RoutingContext {
            provider: &self.config().provider_domain,
            host: None,
            sender_tenant,
        };
        decide(&ctx, to, |a| self.resolve(a).is_some())
    }

    /// The routing defects, in one place: how a defective provider rewrites `to` before
    /// deciding (`short-address-wrong-tenant`, `two-label-domain-local`,
    /// `foreign-provider-delivered-locally`).
    fn recipient_text_defects(&self, to: &str) -> String {
        let Some((name, domain)) = to.split_once('@') else {
            return to.to_string();
        };
        let own = &self.config().provider_domain;
        let short_with_tenant = !domain.is_empty() && !domain.contains(['.', '@']);
        let own_domain = domain.eq_ignore_ascii_case(own);
        if (short_with_tenant && self.has(Defect::ShortAddressWrongTenant))
            || (own_domain && self.has(Defect::TwoLabelDomainLocal))
        {
            // `name` alone expands into the sender's tenant.
            return name.to_string();
        }
        // `malformed-to-delivered-by-name`: a `to` that is neither a full address nor a short
        // form goes to the name before `@`, in the sender's tenant.
        if self.has(Defect::MalformedToDeliveredByName)
            && amp_core::address::parse_any(to).is_err()
            && !name.is_empty()
        {
            return name.to_string();
        }
        let foreign = domain.contains('.')
            && !domain
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", own.to_ascii_lowercase()));
        if foreign
            && self.has(Defect::ForeignProviderDeliveredLocally)
            && let Some(tenant) = domain.split('.').next()
        {
            // Matches on name and tenant only: the provider part of the address is ignored.
            return format!("{name}@{tenant}.{own}");
        }
        to.to_string()
    }

    /// The `from` the envelope carries: the full address, or under `short-from-in-envelope`
    /// the `name@tenant` short form (the provider domain dropped).
    fn written_from(&self, from: &str) -> String {
        let domain = format!(".{}", self.config().provider_domain);
        match from.strip_suffix(&domain) {
            Some(short) if self.has(Defect::ShortFromInEnvelope) => short.to_string(),
            _ => from.to_string(),
        }
    }

    fn build_envelope(
        &self,
        req: &RouteRequest,
        from: &str,
        recipient: &AgentRef,
        signature: String,
        now: i64,
    ) -> Envelope {
        let keep = self.has(Defect::KeepClientId);
        let id = match (&req.id, keep) {
            (Some(cid), true) => cid.clone(),
            _ => MessageId::random(u64::try_from(now).unwrap_or(0))
                .as_str()
                .to_string(),
        };
        let timestamp = match (&req.timestamp, keep) {
            (Some(ts), true) => ts.clone(),
            _ => amp_core::format_rfc3339(now),
        };
        // MSG-011 / C-72: a reply joins the parent's thread; an unknown parent starts the
        // thread at the parent id (the best the provider can know).
        let thread_id = match &req.in_reply_to {
            Some(parent) if self.has(Defect::ReplyThreadParent) => parent.clone(),
            Some(parent) => self
                .lock()
                .threads
                .get(parent)
                .cloned()
                .unwrap_or_else(|| parent.clone()),
            None => id.clone(),
        };
        Envelope {
            version: amp_core::PROTOCOL_VERSION.to_string(),
            id,
            from: self.written_from(from),
            // Routing is case-insensitive (ADDR-005) but `to` is signed: deliver it exactly as the
            // sender signed it, or recipients could not verify (C-09). A short address is still
            // expanded (ADDR-009, C-10).
            to: if req.to.eq_ignore_ascii_case(&recipient.address)
                || self.has(Defect::ShortToNotExpanded)
            {
                req.to.clone()
            } else {
                recipient.address.clone()
            },
            subject: req.subject.clone(),
            priority: req.priority.unwrap_or_default(),
            timestamp,
            signature,
            thread_id,
            in_reply_to: req.in_reply_to.clone(),
            expires_at: None,
            idempotency_key: req.idempotency_key.clone(),
        }
    }
}

/// Remove `null` members and empty objects recursively (only the `context-modified` defect).
fn strip_nulls_and_empty(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for child in m.values_mut() {
                strip_nulls_and_empty(child);
            }
            m.retain(|_, c| !c.is_null() && !matches!(c, Value::Object(o) if o.is_empty()));
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls_and_empty),
        _ => {}
    }
}

/// `v` with every object's keys in the order a JavaScript object keeps them after being built
/// from sorted keys: integer-like keys (array indices) first in numeric order, then the rest
/// sorted by UTF-16 code units (the `payload-hash-integer-keys-first` defect).
fn js_object_order(v: &Value) -> Value {
    fn index(k: &str) -> Option<u32> {
        let n: u32 = k.parse().ok()?;
        (n.to_string() == k && n < u32::MAX).then_some(n)
    }
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| match (index(a), index(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.encode_utf16().cmp(b.encode_utf16()),
            });
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), js_object_order(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(js_object_order).collect()),
        other => other.clone(),
    }
}

/// `v` without any `__proto__` member (the `payload-hash-proto-dropped` defect).
fn without_proto(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "__proto__")
                .map(|(k, x)| (k.clone(), without_proto(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_proto).collect()),
        other => other.clone(),
    }
}
