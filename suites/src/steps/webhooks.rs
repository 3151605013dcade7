//! Webhook delivery (spec 05 "Webhook Delivery", 07 "Webhook Security", 12.5 retries).
//!
//! The suite registers a recipient whose `delivery.webhook_url` points at a loopback receiver of
//! its own ([`amp_client::Receiver`]) with a `webhook_secret` it chose, routes a message to it
//! over REST and inspects what arrives: headers, HMAC, body, and the retry behaviour for the
//! status codes the receiver is told to answer. These cases need a target that may deliver to
//! 127.0.0.1 (`Need::LoopbackWebhooks`).
//!
//! Timing: the spec retries a failed delivery after 30 s (WH-006). The retry case waits the
//! run's declared first-retry delay (`ctx.timing().webhook_first_retry`: the spec's 30 s, the
//! embedded mock's 0.3 s, or a `[timing]` section of `--config`) plus a margin, stops at the
//! first retry, and extends its case deadline for that wait (`Ctx::need_time`), so
//! `--case-timeout` never cuts it short. The "no retry after a 4xx" case calibrates itself: it
//! fails a second delivery with a 5xx at the same moment and watches the 4xx receiver until well
//! after that retry arrived, so it never needs to know the provider's schedule.
