//! Agent Cards (spec 02 › Agent Card; CARD-001..CARD-006, C-17, C-18, C-19, C-55).
//!
//! Who signs the card served by `GET /agents/me/card` is contradictory (C-17): the provider is
//! told to generate it, but it must verify against the agent's own key. The cases therefore
//! first upload a card the agent signed itself (`PUT /agents/me/card`, the optional CARD-006
//! path) and judge what GET serves afterwards; only when the target has no upload endpoint do
//! they judge the provider-generated card, following C-17's handling exactly: verifies against
//! `card.public_key` → pass; only against `/info.public_key` → warn citing C-17; neither → fail.
//!
//! The upload cases check CARD-004 from the provider's side: a provider that accepts a card
//! must verify it first, so a tampered, expired or wrongly fingerprinted card must be refused
//! and must not be served afterwards. Each has a positive baseline (a good card is accepted)
//! and skips when the target has no upload endpoint.
