//! What live trials share within one run: agents created on first use and reused by every
//! trial (a provider sees a handful of registrations, not one per vector), and mailboxes whose
//! pickups are batched (one `GET /messages/pending` serves every trial waiting on that agent,
//! and what it returns is acknowledged at once so the next pickup sees newer messages).
//!
//! Rate limits: each agent's requests are paced by the client under the advertised per-key
//! budget; pickups are additionally kept under RL-003's 30 per minute per agent here, and
//! messages are spread over several senders and recipients.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amp_core::SecretKey;
use amp_runner::{Agent, Ctx, Failure, Method, Prereq, Receiver, Secret};
use serde_json::{Value, json};
use tokio::sync::{Mutex as AsyncMutex, OnceCell};

use super::verdict::Stop;

/// Senders and recipients the message trials rotate over.
const SENDERS: usize = 4;
const RECIPIENTS: usize = 4;

/// RL-003 limits `GET /messages/pending` to 30 per minute per agent; the suite stays a little
/// under it (a provider's window need not line up with the suite's clock).
const PICKUPS_PER_MINUTE: f64 = 27.0;
/// While fewer pickups than this are left in an agent's budget, pickups are spaced by
/// [`MIN_PICKUP_GAP`] and shared by the trials waiting meanwhile.
const PICKUP_RESERVE: f64 = 12.0;
/// Largest page RTE-015 pickups ask for.
const PAGE: usize = 100;
/// How long a correct provider may take to queue an accepted message (as in routing.rs).
pub(crate) const DELIVERY_WAIT: Duration = crate::steps::routing::DELIVERY_WAIT;
/// First pause between two pickups while waiting for a message; it doubles up to
/// [`MAX_POLL`], so a message that never comes costs a handful of pickups, not one per pause.
const POLL: Duration = Duration::from_millis(150);
const MAX_POLL: Duration = Duration::from_secs(1);
/// Once an agent's pickup budget runs low, its pickups are at least this far apart: a trial
/// that needs a pickup after its route waits for the next one and shares it with every trial
/// waiting meanwhile (routing trials check the mailboxes of every agent their vector names,
/// so otherwise each trial would spend one pickup per agent).
const MIN_PICKUP_GAP: Duration = Duration::from_millis(400);

type Slot<T> = Arc<OnceCell<Result<Arc<T>, String>>>;

/// A webhook-delivery recipient and the loopback receiver its deliveries land on.
pub(crate) struct WebhookSink {
    pub agent: Arc<Agent>,
    pub receiver: Receiver,
    pub secret: String,
    /// Unix time (fractional seconds) when the receiver started: the receipt time of a
    /// delivery is this plus its `at`.
    pub started_unix: f64,
}

/// The run's shared agents (`Ctx::run_scoped::<Pool>()`).
#[derive(Default)]
pub(crate) struct Pool {
    senders: [OnceCell<Result<Arc<Agent>, String>>; SENDERS],
    recipients: [OnceCell<Result<Arc<Agent>, String>>; RECIPIENTS],
    next: AtomicUsize,
    keyed: Mutex<HashMap<String, Slot<Agent>>>,
    named: Mutex<HashMap<String, Slot<Agent>>>,
    mailboxes: Mutex<HashMap<String, Arc<Mailbox>>>,
    webhook: OnceCell<Result<Arc<WebhookSink>, String>>,
    peer_user: std::sync::OnceLock<Arc<SecretKey>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn slot<T>(map: &Mutex<HashMap<String, Slot<T>>>, key: &str) -> Slot<T> {
    lock(map).entry(key.to_string()).or_default().clone()
}

fn cached<T>(r: &Result<Arc<T>, String>) -> Result<Arc<T>, Stop> {
    r.clone()
        .map_err(|why| Stop::Blocked(Prereq::Registration, why))
}

fn registration_failed(what: &str, e: Failure) -> String {
    format!("could not register {what}: {}", e.reason())
}

/// The agent in `cell`, registered in the run's tenant on first use.
async fn member(
    cell: &OnceCell<Result<Arc<Agent>, String>>,
    ctx: &mut Ctx,
    role: &str,
) -> Result<Arc<Agent>, Stop> {
    cached(
        cell.get_or_init(|| async move {
            ctx.note(format!(
                "registering a {role} agent shared by the live vector trials"
            ));
            ctx.agent()
                .await
                .map(Arc::new)
                .map_err(|e| registration_failed(&format!("a shared {role} agent"), e))
        })
        .await,
    )
}

impl Pool {
    pub fn of(ctx: &Ctx) -> Arc<Pool> {
        ctx.run_scoped::<Pool>()
    }

    /// A sender/recipient pair for the next message trial (rotating, so no agent carries the
    /// whole run's traffic).
    pub async fn pair(&self, ctx: &mut Ctx) -> Result<(Arc<Agent>, Arc<Agent>), Stop> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let from = self.sender(ctx, n).await?;
        let to = self.recipient(ctx, n / SENDERS).await?;
        Ok((from, to))
    }

    /// Sender `n` (mod the pool size) in the run's tenant.
    pub async fn sender(&self, ctx: &mut Ctx, n: usize) -> Result<Arc<Agent>, Stop> {
        member(&self.senders[n % SENDERS], ctx, "sender").await
    }

    /// Recipient `n` (mod the pool size) in the run's tenant.
    pub async fn recipient(&self, ctx: &mut Ctx, n: usize) -> Result<Arc<Agent>, Stop> {
        member(&self.recipients[n % RECIPIENTS], ctx, "recipient").await
    }

    /// An agent in the run's tenant registered with exactly this public key (SPKI PEM), so
    /// a vector's own key signs for it. `key_hex` identifies the key.
    pub async fn keyed(&self, ctx: &mut Ctx, key_hex: &str, pem: &str) -> Result<Arc<Agent>, Stop> {
        let cell = slot(&self.keyed, key_hex);
        let ctx = &mut *ctx;
        let r = cell
            .get_or_init(|| async move {
                let name = ctx.unique_name("vkey");
                let tenant = ctx.tenant();
                ctx.note(format!(
                    "registering `{name}` with the vector key {key_hex} (shared by the trials \
                     that use this key)"
                ));
                let body = json!({
                    "tenant": tenant,
                    "name": name,
                    "public_key": pem,
                    "key_algorithm": "Ed25519",
                });
                let resp = match ctx.register_raw(&body).await {
                    Ok(r) => r,
                    Err(e) => return Err(registration_failed("an agent with the vector key", e)),
                };
                if !resp.is_success() {
                    return Err(format!(
                        "registration with the vector key {key_hex} was refused (HTTP {} {})",
                        resp.status,
                        resp.error_code().unwrap_or("")
                    ));
                }
                let s = |k: &str| resp.pointer(&format!("/{k}")).and_then(Value::as_str);
                match (s("address"), s("api_key")) {
                    (Some(address), Some(key)) => Ok(Arc::new(Agent {
                        address: address.to_string(),
                        api_key: Secret::new(key),
                        // A placeholder, never used: the trial signs with the vector's own
                        // key (a public test key), so no secret key is made for it.
                        key: SecretKey::from_seed([0x5a; 32]),
                        agent_id: s("agent_id").map(str::to_string),
                        fingerprint: s("fingerprint").map(str::to_string),
                        tenant,
                        name,
                        registration: Value::Null,
                    })),
                    _ => Err(format!(
                        "registration with the vector key answered HTTP {} without `address` and \
                         `api_key` (REG-002)",
                        resp.status
                    )),
                }
            })
            .await;
        cached(r)
    }

    /// The agent `name@tenant` (registered on first use).
    pub async fn named(&self, ctx: &mut Ctx, name: &str, tenant: &str) -> Result<Arc<Agent>, Stop> {
        let cell = slot(&self.named, &format!("{name}@{tenant}"));
        let ctx = &mut *ctx;
        let r = cell
            .get_or_init(|| async move {
                ctx.note(format!(
                    "registering `{name}` in tenant `{tenant}` (shared by the trials that name it)"
                ));
                let n = name.to_string();
                ctx.agent_with(tenant, move |b| b["name"] = json!(n))
                    .await
                    .map(Arc::new)
                    .map_err(|e| registration_failed(&format!("`{name}` in tenant `{tenant}`"), e))
            })
            .await;
        cached(r)
    }

    /// The key of the federation peer's users (one per run: every federated trial's sender
    /// signs with it).
    pub fn peer_user_key(&self, ctx: &Ctx) -> Arc<SecretKey> {
        self.peer_user
            .get_or_init(|| Arc::new(ctx.new_key()))
            .clone()
    }

    /// The batched mailbox of `agent`.
    pub fn mailbox(&self, agent: &Arc<Agent>) -> Arc<Mailbox> {
        lock(&self.mailboxes)
            .entry(agent.address.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Mailbox::new(agent.clone())))
            .clone()
    }

    /// The target's provider domain, as its registrations show it: the registered address of
    /// a pool agent minus `name@tenant.`.
    pub async fn domain(&self, ctx: &mut Ctx) -> Result<String, Stop> {
        let a = self.sender(ctx, 0).await?;
        let lower = a.address.to_ascii_lowercase();
        let prefix = format!("{}.", a.tenant.to_ascii_lowercase());
        let domain = lower.split_once('@').map(|x| x.1).unwrap_or("");
        match domain.strip_prefix(&prefix) {
            Some(d) if d.contains('.') => Ok(d.to_string()),
            _ => Err(Stop::Blocked(
                Prereq::Registration,
                format!(
                    "the registered address `{}` does not have the form name@{}.<provider>, so \
                     the target's provider domain is unknown",
                    a.address, a.tenant
                ),
            )),
        }
    }

    /// A recipient whose deliveries go to a loopback webhook receiver with a known secret.
    pub async fn webhook(&self, ctx: &mut Ctx) -> Result<Arc<WebhookSink>, Stop> {
        let ctx = &mut *ctx;
        let r = self
            .webhook
            .get_or_init(|| async move {
                let receiver = Receiver::start(None)
                    .await
                    .map_err(|e| format!("cannot start the webhook receiver: {e}"))?;
                let started_unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                let secret = format!("whsec_{}", ctx.unique_name("vectors").replace('-', ""));
                ctx.redactor().add("webhook_secret", &secret);
                let (url, s) = (receiver.url(), secret.clone());
                ctx.note("registering a webhook recipient shared by the webhook_hmac trials");
                let tenant = ctx.tenant();
                let agent = ctx
                    .agent_with(&tenant, move |b| {
                        b["delivery"] = json!({"webhook_url": url, "webhook_secret": s});
                    })
                    .await
                    .map_err(|e| registration_failed("a webhook recipient", e))?;
                Ok(Arc::new(WebhookSink {
                    agent: Arc::new(agent),
                    receiver,
                    secret,
                    started_unix,
                }))
            })
            .await;
        cached(r)
    }
}

/// Everything picked up for one agent, acknowledged as soon as it was seen.
pub(crate) struct Mailbox {
    agent: Arc<Agent>,
    inbox: AsyncMutex<Inbox>,
}

impl Inbox {
    /// Pickups left in the budget now (the bucket refilled up to this instant).
    fn budget(&self) -> f64 {
        let per_sec = PICKUPS_PER_MINUTE / 60.0;
        (self.tokens + self.refilled.elapsed().as_secs_f64() * per_sec).min(PICKUPS_PER_MINUTE)
    }
}

struct Inbox {
    entries: Vec<Value>,
    /// When the most recent pickup was sent.
    last_pickup: Option<Instant>,
    /// Pickup budget (token bucket under RL-003).
    tokens: f64,
    refilled: Instant,
}

impl Mailbox {
    fn new(agent: Arc<Agent>) -> Mailbox {
        Mailbox {
            agent,
            inbox: AsyncMutex::new(Inbox {
                entries: Vec::new(),
                last_pickup: None,
                tokens: PICKUPS_PER_MINUTE,
                refilled: Instant::now(),
            }),
        }
    }

    /// Wait (up to `wait`) until an entry satisfying `pred` has been picked up.
    pub async fn find(
        &self,
        ctx: &mut Ctx,
        pred: impl Fn(&Value) -> bool,
        wait: Duration,
    ) -> Result<Option<Value>, Stop> {
        let deadline = Instant::now() + wait;
        let mut pause = POLL;
        loop {
            {
                let mut inbox = self.inbox.lock().await;
                if let Some(m) = inbox.entries.iter().find(|m| pred(m)) {
                    return Ok(Some(m.clone()));
                }
                if Self::wait_for(&inbox, Instant::now()).is_zero() {
                    self.pick_up(ctx, &mut inbox).await?;
                }
                if let Some(m) = inbox.entries.iter().find(|m| pred(m)) {
                    return Ok(Some(m.clone()));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Every picked-up entry satisfying `pred`, after a pickup sent later than `since` (so a
    /// message accepted before `since` would be among them).
    pub async fn matching_since(
        &self,
        ctx: &mut Ctx,
        pred: impl Fn(&Value) -> bool,
        since: Instant,
    ) -> Result<Vec<Value>, Stop> {
        loop {
            let mut inbox = self.inbox.lock().await;
            let wait = Self::wait_for(&inbox, since);
            if wait.is_zero() {
                if inbox.last_pickup.is_none_or(|t| t < since) {
                    self.pick_up(ctx, &mut inbox).await?;
                }
                return Ok(inbox.entries.iter().filter(|m| pred(m)).cloned().collect());
            }
            drop(inbox);
            tokio::time::sleep(wait).await;
        }
    }

    /// How long until a pickup later than `since` can be had (zero: one happened, or one may
    /// be sent now).
    pub async fn pickup_wait(&self, since: Instant) -> Duration {
        Self::wait_for(&*self.inbox.lock().await, since)
    }

    fn wait_for(inbox: &Inbox, since: Instant) -> Duration {
        match inbox.last_pickup {
            Some(t) if t >= since => Duration::ZERO,
            Some(t) if inbox.budget() < PICKUP_RESERVE => {
                MIN_PICKUP_GAP.saturating_sub(t.elapsed())
            }
            _ => Duration::ZERO,
        }
    }

    /// One pickup (more pages while `remaining` says so), then acknowledge what came.
    async fn pick_up(&self, ctx: &mut Ctx, inbox: &mut Inbox) -> Result<(), Stop> {
        for _ in 0..10 {
            Self::pace(inbox).await;
            inbox.last_pickup = Some(Instant::now());
            let resp = ctx
                .get(
                    &format!("/messages/pending?limit={PAGE}"),
                    Some(&self.agent),
                )
                .await?;
            let Some(list) = resp
                .pointer("/messages")
                .and_then(Value::as_array)
                .filter(|_| resp.status == 200)
            else {
                return Err(Stop::Blocked(
                    Prereq::DeliveryObservable,
                    format!(
                        "GET /messages/pending answered HTTP {} without a `messages` array \
                         (RTE-015), so delivery cannot be observed",
                        resp.status
                    ),
                ));
            };
            let ids: Vec<String> = list
                .iter()
                .filter_map(|m| crate::steps::routing::entry_id(m).map(str::to_string))
                .collect();
            inbox.entries.extend(list.iter().cloned());
            let more = resp
                .pointer("/remaining")
                .and_then(Value::as_u64)
                .is_some_and(|r| r > 0);
            if !ids.is_empty() {
                self.ack(ctx, &ids).await?;
            }
            if !more || ids.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// `POST /messages/pending/ack` (RTE-018), or one DELETE per id if the batch is refused.
    async fn ack(&self, ctx: &mut Ctx, ids: &[String]) -> Result<(), Stop> {
        let resp = ctx
            .post_json(
                "/messages/pending/ack",
                &json!({"ids": ids}),
                Some(&self.agent),
            )
            .await?;
        if resp.is_success() {
            return Ok(());
        }
        for id in ids {
            ctx.request(
                Method::DELETE,
                &format!("/messages/pending/{id}"),
                &[],
                None,
                Some(&self.agent),
            )
            .await?;
        }
        Ok(())
    }

    async fn pace(inbox: &mut Inbox) {
        let per_sec = PICKUPS_PER_MINUTE / 60.0;
        inbox.tokens = inbox.budget();
        inbox.refilled = Instant::now();
        if inbox.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - inbox.tokens) / per_sec);
            tokio::time::sleep(wait).await;
            inbox.tokens = 1.0;
            inbox.refilled = Instant::now();
        }
        inbox.tokens -= 1.0;
    }
}
