//! Rate budget classes (RL-001..003, NOTIFY-005): each route spends the budget the router
//! attached to it, whatever its path looks like.

mod common;

use amp_mock::{MockConfig, RateLimits};
use common::*;

fn limits(api: u32, register: u32, pending: u32) -> RateLimits {
    RateLimits {
        api_requests_per_minute: api,
        messages_per_minute: api,
        register_per_minute: register,
        anonymous_per_minute: api,
        pending_per_minute: pending,
    }
}

async fn with_limits(l: RateLimits) -> Mock {
    mock_with(MockConfig {
        rate_limits: l,
        ..config(&[])
    })
    .await
}

#[tokio::test]
async fn register_spends_its_own_budget_not_the_api_one() {
    let m = with_limits(limits(100, 2, 100)).await;
    m.register("acme", "a1").await;
    let second = m.register("acme", "a2").await;
    let third = m
        .post(
            "/register",
            None,
            &serde_json::json!({"tenant": "acme", "name": "a3", "public_key": new_key().public_key().to_spki_pem(), "key_algorithm": "Ed25519"}),
        )
        .await;
    assert_eq!((third.status, third.err()), (429, "rate_limited"));
    assert_eq!(third.headers["x-ratelimit-limit"], "2");
    // The ordinary budget is untouched by registrations.
    let me = m.get("/agents/me", Some(&second.api_key)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.headers["x-ratelimit-limit"], "100");
}

#[tokio::test]
async fn pickup_has_a_lower_budget_on_top_of_the_api_one() {
    let m = with_limits(limits(100, 100, 2)).await;
    let a = m.register("acme", "alice").await;
    let key = Some(a.api_key.as_str());
    for _ in 0..2 {
        assert_eq!(m.get("/messages/pending", key).await.status, 200);
    }
    let refused = m.get("/messages/pending", key).await;
    assert_eq!((refused.status, refused.err()), (429, "rate_limited"));
    assert_eq!(refused.headers["x-ratelimit-limit"], "2");
    // Other relay routes spend only the per-key budget.
    let ack = m
        .post(
            "/messages/pending/ack",
            key,
            &serde_json::json!({"ids": []}),
        )
        .await;
    assert_eq!(ack.status, 200);
    assert_eq!(ack.headers["x-ratelimit-limit"], "100");
    assert_eq!(m.get("/messages/pending/count", key).await.status, 200);
}

#[tokio::test]
async fn count_keeps_a_floor_when_the_key_budget_is_spent() {
    let m = with_limits(limits(3, 100, 100)).await;
    let a = m.register("acme", "alice").await;
    let key = Some(a.api_key.as_str());
    let mut spent = false;
    for _ in 0..10 {
        if m.get("/agents/me", key).await.status == 429 {
            spent = true;
            break;
        }
    }
    assert!(spent, "the per-key budget of 3 never ran out");
    let count = m.get("/messages/pending/count", key).await;
    assert_eq!(count.status, 200, "NOTIFY-005 floor: {}", count.text);
    assert_eq!(m.get("/agents/me", key).await.status, 429);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_spend_the_api_budget() {
    let m = with_limits(limits(2, 100, 100)).await;
    let unknown = m.get("/no-such-endpoint", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.headers["x-ratelimit-limit"], "2");
    let wrong_method = m.delete("/messages/pending/count", None).await;
    assert_eq!(wrong_method.status, 405);
    assert!(wrong_method.is_spec_error(), "{}", wrong_method.text);
    assert_eq!(wrong_method.headers["x-ratelimit-limit"], "2");
    let refused = m.get("/no-such-endpoint", None).await;
    assert_eq!((refused.status, refused.err()), (429, "rate_limited"));
}
