//! Agents: registration (REG-001..007, C-58), profile and delivery settings (AGT-001/002,
//! REG-021), deregistration (REG-023), lookup by address (AGT-003, ADDR-005), API-key
//! authentication (API-002) and key rotation and revocation (REG-019/020/022, REV-001, C-20,
//! C-21).

use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::{fingerprint_of, hash_api_key, random_bytes, random_hex};
use crate::service::AppState;
use crate::ssrf::validate_webhook_url;
use crate::store::agents::{Agent, KeyRecord, NAME_BLOCK_SECS};
use crate::wire::AgentRef;
use amp_core::Address;
use amp_core::signing::{KeyError, PublicKey, SecretKey, Strictness};
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

    /// `POST {base}/register` (REG-001..007).
    pub fn register(&self, obj: &Map<String, Value>, base: &str) -> Result<Value, ApiError> {
        let tenant = req_str(obj, "tenant")?.to_ascii_lowercase();
        let name = req_str(obj, "name")?.to_ascii_lowercase();
        let pem = req_str(obj, "public_key")?;
        check_key_algorithm(obj)?;
        if !valid_name(&name) {
            return Err(ApiError::invalid_field(
                "name",
                "name must be 1-63 characters of A-Z a-z 0-9 - _ (ADDR-002)",
            ));
        }
        if !valid_tenant(&tenant) {
            return Err(ApiError::invalid_field(
                "tenant",
                "tenant must be dot-separated segments of 1-63 characters of A-Z a-z 0-9 - (ADDR-003)",
            ));
        }
        let address = format!("{name}@{tenant}.{}", self.config().provider_domain);
        if address.len() > 254 {
            return Err(ApiError::invalid_field(
                "name",
                "the resulting address would exceed 254 characters (ADDR-004): choose a shorter name or tenant",
            ));
        }
        amp_core::Address::parse(&address).map_err(|e| {
            ApiError::invalid_field("tenant", format!("address `{address}` is not valid: {e}"))
        })?;
        let alias = opt_str(obj, "alias")?.map(str::to_string);
        let public_key = parse_public_key(self, pem, "public_key")?;
        let delivery = parse_delivery(self, obj.get("delivery"), false)?;
        let metadata = opt_object_or_array(obj, "metadata", false)?;
        let capabilities = opt_object_or_array(obj, "capabilities", true)?;

        if let Some(resp) = reissue_for_own_key(self, &address, &public_key) {
            return resp;
        }
        let overwrite = self.has(Defect::NameCollisionOverwrites);
        // `recased-name-duplicate`: availability is checked with the name as sent.
        let recased = self.has(Defect::RecasedNameDuplicate) && req_str(obj, "name")? != name;
        if name_unavailable(self, &address) && !overwrite && !recased {
            let sugg = suggestions(self, &name, &tenant);
            return Err(ApiError::new(
                409,
                "name_taken",
                format!("`{address}` is already registered: pick another name (see suggestions)"),
            )
            .with_field("name")
            .with_extra("suggestions", json!(sugg)));
        }

        let now = self.clock().now_unix();
        let api_key = new_api_key();
        let webhook_url = delivery.webhook_url.flatten();
        let mut generated_secret = None;
        let webhook_secret = match delivery.webhook_secret.flatten() {
            Some(s) => Some(s),
            None if webhook_url.is_some() => {
                let s = format!("whsec_{}", random_hex::<24>());
                generated_secret = Some(s.clone());
                Some(s)
            }
            None => None,
        };
        let agent = Agent {
            agent_id: format!("agt_{}", random_hex::<12>()),
            name: name.clone(),
            tenant: tenant.clone(),
            tenant_id: tenant_id(&tenant),
            address: address.clone(),
            alias,
            public_key,
            public_key_pem: pem.to_string(),
            key_algorithm: "Ed25519".into(),
            fingerprint: fingerprint_of(&public_key),
            webhook_url,
            webhook_secret,
            prefer_websocket: delivery.prefer_websocket.unwrap_or(false),
            metadata,
            capabilities,
            registered_at: now,
            last_seen_at: now,
            api_key_plain: self.has(Defect::ApiKeyInMe).then(|| api_key.clone()),
            revoked_public_keys: Vec::new(),
        };
        {
            let mut db = self.lock();
            if let Some(old_id) = db.by_address.get(&address).cloned()
                && !recased
            {
                // Only reachable with `name-collision-overwrites`: the old agent is replaced.
                db.agents.remove(&old_id);
                db.api_keys.retain(|_, r| r.agent_id != old_id);
                db.mailboxes.remove(&old_id);
            }
            db.tombstones.remove(&address);
            db.by_address
                .insert(address.clone(), agent.agent_id.clone());
            db.api_keys.insert(
                hash_api_key(&api_key),
                KeyRecord {
                    agent_id: agent.agent_id.clone(),
                    valid_until: None,
                },
            );
            if db.first_agent.is_none() {
                db.first_agent = Some(agent.agent_id.clone());
            }
            db.agents.insert(agent.agent_id.clone(), agent.clone());
        }
        let mut resp = json!({
            "address": address,
            "short_address": format!("{name}@{tenant}"),
            "local_name": name,
            "agent_id": agent.agent_id,
            "tenant": tenant,
            "tenant_id": agent.tenant_id,
            "api_key": api_key,
            "provider": {
                "name": self.config().provider_domain,
                "endpoint": base,
                "route_url": format!("{base}/route"),
            },
            "fingerprint": agent.fingerprint,
            "registered_at": amp_core::format_rfc3339(now),
        });
        if let (Some(s), Some(m)) = (generated_secret, resp.as_object_mut()) {
            m.insert("webhook_secret".into(), json!(s));
        }
        Ok(resp)
    }

    /// `GET {base}/agents/me` (AGT-001, REG-005: never the API key or webhook secret).
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

    /// `PATCH {base}/agents/me` (REG-021).
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

    /// `DELETE {base}/agents/me` (REG-023).
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

    /// `GET {base}/agents?tenant=&search=&limit=&cursor=` (AGT-002, API-011).
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

    /// `GET {base}/agents/resolve/{address}` (AGT-003).
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

    /// `POST {base}/auth/rotate-key` (REG-019).
    pub fn rotate_api_key(&self, who: &AgentRef, presented_key: &str) -> Result<Value, ApiError> {
        let old = hash_api_key(presented_key);
        let now = self.clock().now_unix();
        let grace = self.policy().rotated_key_grace_secs;
        let until = now.saturating_add(grace);
        let new_key = new_api_key();
        {
            let mut db = self.lock();
            if grace <= 0 {
                db.api_keys.remove(&old);
            } else if let Some(r) = db.api_keys.get_mut(&old) {
                let cur = r.valid_until.unwrap_or(i64::MAX);
                r.valid_until = Some(cur.min(until));
            }
            db.api_keys.insert(
                hash_api_key(&new_key),
                KeyRecord {
                    agent_id: who.agent_id.clone(),
                    valid_until: None,
                },
            );
            if let Some(a) = db.agents.get_mut(&who.agent_id)
                && a.api_key_plain.is_some()
            {
                a.api_key_plain = Some(new_key.clone());
            }
        }
        Ok(json!({
            "api_key": new_key,
            "previous_key_valid_until": amp_core::format_rfc3339(until),
        }))
    }

    /// `POST {base}/auth/rotate-keys` (REG-022, REV-001).
    ///
    /// C-21: the proof's byte layout is unspecified. amp-mock's reading: `proof` is the standard
    /// padded Base64 Ed25519 signature, made with the OLD private key, over the exact UTF-8 bytes
    /// of the `new_public_key` PEM text as sent in this request.
    pub fn rotate_public_key(&self, who: &AgentRef, body: &[u8]) -> Result<Value, ApiError> {
        if let Some(resp) = regenerate_for_bodyless_rotation(self, who, body) {
            return resp;
        }
        let v = self.parse_strict_json(body)?;
        let obj = as_object(&v)?;
        let pem = req_str(obj, "new_public_key")?;
        check_key_algorithm(obj)?;
        let proof = req_str(obj, "proof")?;
        let new_pk = parse_public_key(self, pem, "new_public_key")?;
        let old = agent_record(self, who)?;
        if new_pk == old.public_key {
            return Err(ApiError::invalid_field(
                "new_public_key",
                "new_public_key equals the current key: generate a new key pair",
            ));
        }
        // `rotate-proof-hex-text`: the proof covers the hex text of the raw key (a C-21 reading).
        let signed = if self.has(Defect::RotateProofHexText) {
            hex::encode(new_pk.as_bytes()).into_bytes()
        } else {
            pem.as_bytes().to_vec()
        };
        if !self.has(Defect::RotateKeysNoProofCheck)
            && amp_core::verify(&old.public_key, &signed, proof, Strictness::Strict).is_err()
        {
            return Err(ApiError::new(
                403,
                "signature_invalid",
                "proof does not verify: sign the exact new_public_key PEM text with the OLD private key (Ed25519, Base64) (C-21)",
            )
            .with_field("proof"));
        }
        let now = self.clock().now_unix();
        let fp = fingerprint_of(&new_pk);
        {
            let mut db = self.lock();
            db.revoked_fingerprints.insert(old.fingerprint.clone(), now);
            if let Some(a) = db.agents.get_mut(&who.agent_id) {
                a.revoked_public_keys.push(a.public_key);
                a.public_key = new_pk;
                a.public_key_pem = pem.to_string();
                a.fingerprint = fp.clone();
            }
        }
        Ok(json!({"rotated": true, "fingerprint": fp, "revoked_fingerprint": old.fingerprint}))
    }

    /// `DELETE {base}/auth/revoke-key` (REG-020; C-20 also revokes the public key).
    pub fn revoke_keys(&self, who: &AgentRef) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        if !self.has(Defect::RevokedKeyWorks) {
            let mut db = self.lock();
            db.api_keys.retain(|_, r| r.agent_id != who.agent_id);
            if let Some(fp) = db.agents.get(&who.agent_id).map(|a| a.fingerprint.clone()) {
                db.revoked_fingerprints.insert(fp, now);
            }
        }
        Ok(json!({"revoked": true, "revoked_at": amp_core::format_rfc3339(now)}))
    }
}

/// `reregister-own-key-issues-key`: a registration of a taken name with that agent's own public
/// key is answered like a first registration, with a fresh API key for the existing agent.
fn reissue_for_own_key(
    state: &AppState,
    address: &str,
    key: &PublicKey,
) -> Option<Result<Value, ApiError>> {
    if !state.has(Defect::ReregisterOwnKeyIssuesKey) {
        return None;
    }
    let mut db = state.lock();
    let agent_id = db.by_address.get(address).cloned()?;
    let agent = db
        .agents
        .get(&agent_id)
        .filter(|a| a.public_key == *key)?
        .clone();
    let api_key = new_api_key();
    db.api_keys.insert(
        hash_api_key(&api_key),
        KeyRecord {
            agent_id: agent_id.clone(),
            valid_until: None,
        },
    );
    Some(Ok(json!({
        "address": agent.address,
        "agent_id": agent_id,
        "tenant": agent.tenant,
        "api_key": api_key,
        "fingerprint": agent.fingerprint,
    })))
}

fn agent_record(state: &AppState, agent: &AgentRef) -> Result<Agent, ApiError> {
    state
        .lock()
        .agents
        .get(&agent.agent_id)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("agent no longer registered"))
}

/// `rotate-keys-bodyless-regenerates`: a rotation request without a usable `new_public_key`
/// (empty, `{}` or unparsable body) makes the provider generate a key pair itself and replace
/// the agent's key with it (a legacy "server-side key generation" path).
fn regenerate_for_bodyless_rotation(
    state: &AppState,
    who: &AgentRef,
    body: &[u8],
) -> Option<Result<Value, ApiError>> {
    let has_key = serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("new_public_key").is_some());
    if !state.has(Defect::RotateKeysBodylessRegenerates) || has_key {
        return None;
    }
    let new_pk = SecretKey::generate().public_key();
    let fp = fingerprint_of(&new_pk);
    let mut db = state.lock();
    let a = db.agents.get_mut(&who.agent_id)?;
    let old_fp = std::mem::replace(&mut a.fingerprint, fp.clone());
    a.revoked_public_keys.push(a.public_key);
    a.public_key = new_pk;
    a.public_key_pem = new_pk.to_spki_pem();
    Some(Ok(
        json!({"rotated": true, "fingerprint": fp, "revoked_fingerprint": old_fp}),
    ))
}

pub(crate) fn parse_limit(
    raw: Option<&String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field(
                "limit",
                format!("`limit` must be an integer from 1 to {max}"),
            )),
        },
    }
}

fn as_object(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| ApiError::invalid_request("request body must be a JSON object"))
}

fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_field(
            field,
            format!("`{field}` must be a string"),
        )),
    }
}

fn req_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match opt_str(obj, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::missing_field(field)),
    }
}

/// ADDR-002: agent name 1–63 of `[A-Za-z0-9_-]`.
fn valid_name(n: &str) -> bool {
    (1..=63).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// ADDR-003: tenant = dot-separated segments of 1–63 `[A-Za-z0-9-]`.
fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.split('.').all(|s| {
            (1..=63).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn tenant_id(tenant: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "ten_{}",
        &hex::encode(Sha256::digest(tenant.as_bytes()))[..16]
    )
}

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "daring", "eager", "gentle", "golden", "happy", "jolly",
    "keen", "lively", "lucky", "mellow", "nimble", "quiet", "rapid", "silver", "sunny", "swift",
];
const NOUNS: &[&str] = &[
    "badger", "comet", "falcon", "harbor", "heron", "lantern", "maple", "meadow", "otter", "pine",
    "river", "robin", "summit", "tiger", "willow", "beacon", "canyon", "ember", "fjord", "glacier",
];

/// REG-007: human-memorable alternatives `<name>-<adjective>-<noun>` that are free.
fn suggestions(state: &AppState, name: &str, tenant: &str) -> Vec<String> {
    let mut out = Vec::new();
    let seed = random_bytes::<16>();
    for i in 0..40usize {
        if out.len() == 3 {
            break;
        }
        let a = ADJECTIVES[(seed[i % 16] as usize + i) % ADJECTIVES.len()];
        let n = NOUNS[(seed[(i + 7) % 16] as usize + i * 3) % NOUNS.len()];
        let cand = format!("{name}-{a}-{n}");
        if cand.len() > 63 {
            continue;
        }
        let addr = format!("{cand}@{tenant}.{}", state.config().provider_domain);
        if !out.contains(&cand) && !name_unavailable(state, &addr) {
            out.push(cand);
        }
    }
    out
}

fn name_unavailable(state: &AppState, address: &str) -> bool {
    let now = state.clock().now_unix();
    let db = state.lock();
    db.by_address.contains_key(address) || db.tombstones.get(address).is_some_and(|t| *t > now)
}

/// Parse a registration public key strictly (REG-006). Only Ed25519 (C-58).
fn parse_public_key(state: &AppState, pem: &str, field: &str) -> Result<PublicKey, ApiError> {
    let bad = |why: String| {
        ApiError::new(
            400,
            "invalid_request",
            format!("{field} is not an acceptable Ed25519 SPKI public key PEM: {why}"),
        )
        .with_field(field)
    };
    match PublicKey::from_spki_pem(pem) {
        Ok(pk) if pk.is_weak() && !state.has(Defect::AcceptSmallOrderKey) => Err(bad(
            "small-order / identity key (trivially forgeable); generate a fresh key".into(),
        )),
        Ok(pk) => Ok(pk),
        Err(KeyError::PrivateKeyGiven) if state.has(Defect::AcceptPrivateKeyPem) => {
            SecretKey::from_pkcs8_pem(pem)
                .map(|sk| sk.public_key())
                .map_err(|e| bad(e.to_string()))
        }
        Err(KeyError::SmallOrder) if state.has(Defect::AcceptSmallOrderKey) => {
            // Planted defect: take the raw key bytes without the small-order check.
            PublicKey::spki_pem_raw_bytes(pem)
                .and_then(|raw| PublicKey::from_bytes(&raw))
                .map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

fn check_key_algorithm(obj: &Map<String, Value>) -> Result<(), ApiError> {
    let alg = req_str(obj, "key_algorithm")?;
    if alg.eq_ignore_ascii_case("ed25519") {
        Ok(())
    } else {
        // C-58: RSA/ECDSA signing is underspecified; amp-mock supports Ed25519 only.
        Err(ApiError::invalid_field(
            "key_algorithm",
            format!("key_algorithm `{alg}` is not supported: use Ed25519 (C-58)"),
        ))
    }
}

struct DeliveryUpdate {
    webhook_url: Option<Option<url::Url>>,
    webhook_secret: Option<Option<String>>,
    prefer_websocket: Option<bool>,
}

fn parse_delivery(
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

fn opt_object_or_array(
    obj: &Map<String, Value>,
    field: &str,
    want_array: bool,
) -> Result<Option<Value>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Array(_)) if want_array => Ok(Some(v.clone())),
        Some(v @ Value::Object(_)) if !want_array => Ok(Some(v.clone())),
        Some(_) => Err(ApiError::invalid_field(
            field,
            format!(
                "`{field}` must be {}",
                if want_array { "an array" } else { "an object" }
            ),
        )),
    }
}

fn new_api_key() -> String {
    format!("amp_test_sk_{}", random_hex::<24>())
}

impl AppState {
    /// The first agent registered, while it exists (only the `no-auth-pending` defect reads it).
    pub(crate) fn first_agent(&self) -> Option<AgentRef> {
        let db = self.lock();
        let id = db.first_agent.as_ref()?;
        db.agents.get(id).map(Agent::as_ref)
    }
}
