//! Registration (spec 03; REG-001..007, ADDR-002..004, C-58): field checks, name availability
//! with suggestions, and the new agent's record and first API key.

use crate::config::OwnerKey;
use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::{fingerprint_of, hash_api_key, random_bytes, random_hex};
use crate::service::AppState;
use crate::service::agents::{declared_capabilities, opt_policy, parse_delivery};
use crate::service::fields::{opt_object_or_array, opt_str, req_str};
use crate::service::keys::{check_key_algorithm, new_api_key, parse_public_key};
use crate::store::agents::{Agent, KeyRecord};
use amp_core::signing::PublicKey;
use serde_json::{Map, Value, json};

impl AppState {
    /// The operation behind `POST {base}/register` (REG-001..007); `owner` is the account whose
    /// User Key authorised it (REG-011: its tenant when the body has none, `owner_id` added).
    pub fn register(
        &self,
        obj: &Map<String, Value>,
        base: &str,
        owner: Option<OwnerKey>,
    ) -> Result<Value, ApiError> {
        let tenant = match (&owner, obj.get("tenant")) {
            (Some(o), None | Some(Value::Null)) if !self.has(Defect::UserKeyTenantRequired) => {
                o.tenant.to_ascii_lowercase()
            }
            _ => req_str(obj, "tenant")?.to_ascii_lowercase(),
        };
        let name = req_str(obj, "name")?.to_ascii_lowercase();
        let pem = req_str(obj, "public_key")?;
        check_key_algorithm(obj)?;
        if !valid_name(&name)
            || (self.has(Defect::AgentNameUnderscoreRefused) && name.contains('_'))
        {
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
        if let Some(hosted) = &self.config().tenants
            && !hosted.iter().any(|t| t.eq_ignore_ascii_case(&tenant))
        {
            return Err(ApiError::new(
                403,
                "tenant_access_denied",
                format!(
                    "this provider hosts only the tenant(s) {}: register there (REG-008, REG-009)",
                    hosted.join(", ")
                ),
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
        let capabilities = declared_capabilities(self, obj)?;
        let communication_policy = opt_policy(obj)?;

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
        // REG-013: the agent's API key is never the owner's User Key (`agent-key-is-user-key`).
        let api_key = match &owner {
            Some(o) if self.has(Defect::AgentKeyIsUserKey) => o.user_key.clone(),
            _ => new_api_key(),
        };
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
            communication_policy,
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
            // `fingerprint-spki-der` answers the spki-der reading of C-19, `fingerprint-hex` a
            // form of no reading (nothing else moves).
            "fingerprint": if self.has(Defect::FingerprintSpkiDer) {
                agent.public_key.fingerprint(amp_core::FingerprintProfile::SpkiDer)
            } else if self.has(Defect::FingerprintHex) {
                use sha2::{Digest, Sha256};
                format!("SHA256:{}", hex::encode(Sha256::digest(agent.public_key.as_bytes())))
            } else {
                agent.fingerprint.clone()
            },
            "registered_at": amp_core::format_rfc3339(now),
        });
        if let (Some(s), Some(m)) = (generated_secret, resp.as_object_mut()) {
            m.insert("webhook_secret".into(), json!(s));
        }
        if let (Some(o), Some(m)) = (&owner, resp.as_object_mut()) {
            m.insert("owner_id".into(), json!(o.owner_id));
        }
        Ok(resp)
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
