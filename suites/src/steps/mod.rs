//! Steps shared by cases of several sections.

pub(crate) mod admin;
pub(crate) mod agents;
pub(crate) mod attachments;
pub(crate) mod authority;
pub(crate) mod card;
pub(crate) mod discovery;
pub(crate) mod errors;

pub(crate) mod federation;
pub(crate) mod keys;
pub(crate) mod ratelimit;
pub(crate) mod receipts;
pub(crate) mod refusal;
pub(crate) mod registration;
pub(crate) mod relay;
pub(crate) mod routing;
pub(crate) mod webhooks;
pub(crate) mod websocket;
