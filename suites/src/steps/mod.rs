//! Steps: the helpers cases are written with, shared across section modules (routing and
//! observing a message, judging a refusal, making an attachment, playing a federation peer, …).
//! A helper used by the cases of one module only lives in that module instead.

pub(crate) mod admin;
pub(crate) mod agents;
pub(crate) mod attachments;
pub(crate) mod authority;
pub(crate) mod discovery;
pub(crate) mod federation;
pub(crate) mod keys;
pub(crate) mod ratelimit;
pub(crate) mod receipts;
pub(crate) mod refusal;
pub(crate) mod registration;
pub(crate) mod relay;
pub(crate) mod routing;
pub(crate) mod websocket;
