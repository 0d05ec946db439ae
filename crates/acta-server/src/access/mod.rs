//! Who may do what: API keys and console sessions ([`auth`], [`session`]), the account and instances a
//! request acts in ([`scope`]), the audit events of what keys do ([`audit`]), and per-key rate limits ([`rate`]).

pub mod audit;
pub mod auth;
pub mod rate;
pub mod scope;
pub mod session;
