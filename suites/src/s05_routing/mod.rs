//! Spec file 05-routing. Routing: the route endpoint, relay queue, WebSocket, webhooks, attachments at route time, who may touch a message.
//!
//! Every case here cites a clause of 05-routing first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

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
