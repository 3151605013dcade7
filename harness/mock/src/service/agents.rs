//! Agents: API-key authentication (API-002), lookup by address (AGT-003, ADDR-005), the agent's
//! own record and delivery settings (AGT-001/002, REG-005, REG-021) and deregistration
//! (REG-023). Registration is in [`super::registration`], keys in [`super::keys`].

use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::{hash_api_key, random_hex};
use crate::service::AppState;
use crate::service::fields::{opt_object_or_array, parse_limit};
use crate::ssrf::validate_webhook_url;
use crate::store::agents::{Agent, NAME_BLOCK_SECS};
use crate::wire::AgentRef;
use amp_core::Address;
use amp_core::signing::PublicKey;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

impl AppState {
    /// Authenticate a bearer API key (API-002). Unknown, revoked, expired-after-rotation and
    /// deregistered keys → 401 unauthorized.
    pub fn authenticate(&self, api_key: &str) -> Result<AgentRef, ApiError> {
        let now = self.clock().now_unix();
        let hash = hash_api_key(api_key);
        let mut db = self.lock();
        let rec = db.api_keys.get(&hash).cloned().ok_or_else(|| {
            ApiError::unauthorized(
                "API key unknown, revoked or expired: send `Authorization: Bearer <api_key>` with the key from registration or rotate-key",
            )
        })?;
        if let Some(until) = rec.valid_until
            && now >= until
        {
            db.api_keys.remove(&hash);
            return Err(ApiError::unauthorized(
                "this API key was rotated and its 24 h grace period is over: use the new key",
            ));
        }
        let agent = db.agents.get_mut(&rec.agent_id).ok_or_else(|| {
            ApiError::unauthorized("the agent for this API key no longer exists: register again")
        })?;
        agent.last_seen_at = now;
        Ok(agent.as_ref())
    }

    /// Look up a registered agent by address (case-insensitive, ADDR-005).
    pub fn resolve(&self, address: &Address) -> Option<AgentRef> {
        self.resolve_str(address.as_str())
    }

    /// Like [`AppState::resolve`] for an address string.
    pub fn resolve_str(&self, address: &str) -> Option<AgentRef> {
        let db = self.lock();
        let id = db.by_address.get(&address.to_ascii_lowercase())?;
        db.agents.get(id).map(Agent::as_ref)
    }

    /// SHA-256 hex of the agent's current API key (used only by the `webhook-hmac-wrong-key`
    /// defect, which keys the HMAC with it).
    pub fn api_key_hash(&self, agent: &AgentRef) -> Option<String> {
        let db = self.lock();
        db.api_keys
            .iter()
            .find(|(_, r)| r.agent_id == agent.agent_id && r.valid_until.is_none())
            .map(|(h, _)| h.clone())
    }

    /// Registered public key of an agent (federation and tests).
    pub fn public_key_of(&self, agent: &AgentRef) -> Option<PublicKey> {
        self.lock()
            .agents
            .get(&agent.agent_id)
            .map(|a| a.public_key)
    }

    /// Is this public-key fingerprint on the revocation list (REV-001/002)?
    pub fn is_revoked_fingerprint(&self, fingerprint: &str) -> bool {
        self.lock().revoked_fingerprints.contains_key(fingerprint)
    }

    /// The first agent registered, while it exists (only the `no-auth-pending` defect reads it).
    pub(crate) fn first_agent(&self) -> Option<AgentRef> {
        let db = self.lock();
        let id = db.first_agent.as_ref()?;
        db.agents.get(id).map(Agent::as_ref)
    }

    /// The operation behind `GET {base}/agents/me` (AGT-001, REG-005: never the API key or webhook secret).
    pub fn agent_profile(&self, who: &AgentRef) -> Result<Value, ApiError> {
        let a = agent_record(self, who)?;
        let mut m = Map::new();
        m.insert("agent_id".into(), json!(a.agent_id));
        m.insert("address".into(), json!(a.address));
        m.insert(
            "short_address".into(),
            json!(format!("{}@{}", a.name, a.tenant)),
        );
        m.insert("name".into(), json!(a.name));
        m.insert("tenant".into(), json!(a.tenant));
        m.insert("tenant_id".into(), json!(a.tenant_id));
        m.insert("alias".into(), json!(a.alias));
        m.insert(
            "delivery".into(),
            json!({
                "webhook_url": a.webhook_url.as_ref().map(url::Url::as_str),
                "prefer_websocket": a.prefer_websocket,
            }),
        );
        m.insert("public_key".into(), json!(a.public_key_pem));
        m.insert("key_algorithm".into(), json!(a.key_algorithm));
        m.insert("fingerprint".into(), json!(a.fingerprint));
        m.insert(
            "registered_at".into(),
            json!(amp_core::format_rfc3339(a.registered_at)),
        );
        m.insert(
            "last_seen_at".into(),
            json!(amp_core::format_rfc3339(a.last_seen_at)),
        );
        if let Some(md) = &a.metadata {
            m.insert("metadata".into(), md.clone());
        }
        if let Some(c) = &a.capabilities {
            m.insert("capabilities".into(), c.clone());
        }
        if let Some(k) = &a.api_key_plain {
            m.insert("api_key".into(), json!(k));
        }
        Ok(Value::Object(m))
    }

    /// The operation behind `PATCH {base}/agents/me` (REG-021).
    pub fn update_agent(
        &self,
        who: &AgentRef,
        obj: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        for immutable in ["name", "tenant", "public_key", "key_algorithm", "address"] {
            if obj.contains_key(immutable) {
                return Err(ApiError::invalid_field(
                    immutable,
                    format!(
                        "`{immutable}` cannot be changed: use rotate-keys for keys, register a new agent for a new name"
                    ),
                ));
            }
        }
        let alias = match obj.get("alias") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => return Err(ApiError::invalid_field("alias", "`alias` must be a string")),
        };
        let delivery = parse_delivery(self, obj.get("delivery"), true)?;
        let metadata = opt_object_or_array(obj, "metadata", false)?;
        let capabilities = opt_object_or_array(obj, "capabilities", true)?;
        let mut db = self.lock();
        let a = db
            .agents
            .get_mut(&who.agent_id)
            .ok_or_else(|| ApiError::unauthorized("agent no longer registered"))?;
        if let Some(al) = alias {
            a.alias = al;
        }
        let mut generated_secret = None;
        if let Some(u) = delivery.webhook_url {
            if u.is_some() && a.webhook_secret.is_none() && delivery.webhook_secret.is_none() {
                // Shown once, like at registration, so the agent can verify webhook HMACs.
                let s = format!("whsec_{}", random_hex::<24>());
                generated_secret = Some(s.clone());
                a.webhook_secret = Some(s);
            }
            a.webhook_url = u;
        }
        if let Some(s) = delivery.webhook_secret {
            a.webhook_secret = s;
        }
        if let Some(p) = delivery.prefer_websocket {
            a.prefer_websocket = p;
        }
        if metadata.is_some() {
            a.metadata = metadata;
        }
        if capabilities.is_some() {
            a.capabilities = capabilities;
        }
        let address = a.address.clone();
        drop(db);
        let mut resp = json!({"updated": true, "address": address});
        if let (Some(s), Some(m)) = (generated_secret, resp.as_object_mut()) {
            m.insert("webhook_secret".into(), json!(s));
        }
        Ok(resp)
    }

    /// The operation behind `DELETE {base}/agents/me` (REG-023).
    pub fn deregister(&self, who: &AgentRef) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        if !self.has(Defect::DeregisteredKeyWorks) {
            let mut db = self.lock();
            if let Some(a) = db.agents.remove(&who.agent_id) {
                db.revoked_fingerprints.insert(a.fingerprint.clone(), now);
            }
            db.by_address.remove(&who.address);
            db.api_keys.retain(|_, r| r.agent_id != who.agent_id);
            db.mailboxes.remove(&who.agent_id);
            db.tombstones
                .insert(who.address.clone(), now.saturating_add(NAME_BLOCK_SECS));
            db.idempotency.forget_agent(&who.agent_id);
        }
        Ok(json!({
            "deregistered": true,
            "address": who.address,
            "deregistered_at": amp_core::format_rfc3339(now),
        }))
    }

    /// The operation behind `GET {base}/agents?tenant=&search=&limit=&cursor=` (AGT-002, API-011).
    pub fn list_agents(
        &self,
        who: &AgentRef,
        q: &HashMap<String, String>,
    ) -> Result<Value, ApiError> {
        let tenant = q
            .get("tenant")
            .map(|t| t.to_ascii_lowercase())
            .unwrap_or_else(|| who.tenant.clone());
        if tenant != who.tenant {
            return Err(ApiError::forbidden(
                "agents can list only their own tenant: omit `tenant` or pass your own",
            ));
        }
        let limit = parse_limit(q.get("limit"), 50, 100)?;
        let offset = match q.get("cursor") {
            None => 0usize,
            Some(c) => c.parse::<usize>().map_err(|_| {
                ApiError::invalid_field(
                    "cursor",
                    "unknown cursor: use `cursor` from a previous page",
                )
            })?,
        };
        let offset = if self.has(Defect::AgentsCursorIgnored) {
            0
        } else {
            offset
        };
        let search = q.get("search").map(|s| s.to_ascii_lowercase());
        let mut rows: Vec<(String, Option<String>, String)> = {
            let db = self.lock();
            db.agents
                .values()
                .filter(|a| a.tenant == tenant)
                .filter(|a| {
                    search.as_ref().is_none_or(|s| {
                        a.name.contains(s.as_str())
                            || a.alias
                                .as_ref()
                                .is_some_and(|al| al.to_ascii_lowercase().contains(s.as_str()))
                    })
                })
                .map(|a| (a.address.clone(), a.alias.clone(), a.agent_id.clone()))
                .collect()
        };
        rows.sort();
        let total = rows.len();
        let page: Vec<Value> = rows
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(addr, alias, id)| json!({"address": addr, "alias": alias, "online": self.live().is_online(id)}))
            .collect();
        let end = offset.saturating_add(page.len());
        let has_more = end < total;
        Ok(json!({
            "agents": page,
            "total": total,
            "cursor": if has_more { Value::String(end.to_string()) } else { Value::Null },
            "has_more": has_more,
        }))
    }

    /// The operation behind `GET {base}/agents/resolve/{address}` (AGT-003).
    pub fn resolve_address(&self, who: &AgentRef, address: &str) -> Result<Value, ApiError> {
        // The same reading of the address as routing (amp-core's decision, ADDR-001..009): short
        // forms expand in the caller's tenant, malformed addresses are refused.
        let found = match self.route_decision(&who.tenant, address) {
            amp_core::RouteDecision::Local { address } => self
                .resolve(&address)
                .and_then(|r| self.lock().agents.get(&r.agent_id).cloned()),
            amp_core::RouteDecision::Refuse(r) if r.status == 400 => {
                return Err(ApiError::new(r.status, r.code, r.reason).with_field("address"));
            }
            _ => None,
        };
        let a = found.ok_or_else(|| {
            ApiError::not_found(format!(
                "no agent `{address}` is registered on this provider"
            ))
        })?;
        let mut m = Map::new();
        m.insert("address".into(), json!(a.address));
        m.insert("alias".into(), json!(a.alias));
        m.insert("public_key".into(), json!(a.public_key_pem));
        m.insert("key_algorithm".into(), json!(a.key_algorithm));
        m.insert("fingerprint".into(), json!(a.fingerprint));
        m.insert("online".into(), json!(self.live().is_online(&a.agent_id)));
        if let Some(c) = &a.capabilities {
            m.insert("capabilities".into(), c.clone());
        }
        Ok(Value::Object(m))
    }
}

pub(super) fn agent_record(state: &AppState, agent: &AgentRef) -> Result<Agent, ApiError> {
    state
        .lock()
        .agents
        .get(&agent.agent_id)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("agent no longer registered"))
}

/// The `delivery` object of a registration or update: `None` = not sent, `Some(None)` = cleared.
pub(super) struct DeliveryUpdate {
    pub(super) webhook_url: Option<Option<url::Url>>,
    pub(super) webhook_secret: Option<Option<String>>,
    pub(super) prefer_websocket: Option<bool>,
}

pub(super) fn parse_delivery(
    state: &AppState,
    v: Option<&Value>,
    at_patch: bool,
) -> Result<DeliveryUpdate, ApiError> {
    let mut out = DeliveryUpdate {
        webhook_url: None,
        webhook_secret: None,
        prefer_websocket: None,
    };
    let Some(v) = v else { return Ok(out) };
    if v.is_null() {
        return Ok(out);
    }
    let d = v
        .as_object()
        .ok_or_else(|| ApiError::invalid_field("delivery", "`delivery` must be an object"))?;
    match d.get("webhook_url") {
        None => {}
        Some(Value::Null) => out.webhook_url = Some(None),
        Some(Value::String(u)) => {
            let unvalidated = state.has(Defect::WebhookPrivateUrlAccepted)
                || (at_patch && state.has(Defect::PatchWebhookUnvalidated));
            let url = if unvalidated {
                url::Url::parse(u).map_err(|e| {
                    ApiError::invalid_field("delivery.webhook_url", format!("not a URL: {e}"))
                })?
            } else {
                validate_webhook_url(u, state.config().allow_loopback_webhooks)
                    .map_err(|e| ApiError::invalid_field("delivery.webhook_url", e.to_string()))?
            };
            out.webhook_url = Some(Some(url));
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "delivery.webhook_url",
                "`delivery.webhook_url` must be a string",
            ));
        }
    }
    match d.get("webhook_secret") {
        None => {}
        Some(Value::Null) => out.webhook_secret = Some(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 512 => {
            out.webhook_secret = Some(Some(s.clone()))
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "delivery.webhook_secret",
                "`delivery.webhook_secret` must be a non-empty string of at most 512 bytes",
            ));
        }
    }
    match d.get("prefer_websocket") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => out.prefer_websocket = Some(*b),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "delivery.prefer_websocket",
                "`delivery.prefer_websocket` must be a boolean",
            ));
        }
    }
    Ok(out)
}
