//! TODO-DOC section s05_routing

use amp_runner::Case;

mod attachments;
mod authority;
mod relay;
mod route;
mod suspension;
mod webhooks;
mod websocket;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [
        attachments::CASES,
        authority::CASES,
        relay::CASES,
        route::CASES,
        suspension::CASES,
        webhooks::CASES,
        websocket::CASES,
    ]
    .concat()
}
