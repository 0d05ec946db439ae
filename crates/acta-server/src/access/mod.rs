//! Who may do what: API keys and console sessions ([`auth`], [`session`]), the account and instances a
//! request acts in ([`scope`]), and the audit events of what keys do ([`audit`]).

pub mod audit;
pub mod auth;
pub mod scope;
pub mod session;
