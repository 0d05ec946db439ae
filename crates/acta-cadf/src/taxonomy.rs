//! The CADF taxonomies that strict mode checks, as pycadf lists them.
//!
//! pycadf accepts any value that starts with a taxonomy term, so one root stands for all the terms under
//! it (`read` covers `read/list`, `authenticate` covers `authenticate/login`, `service` covers
//! `service/security/account/user`).

/// The roots of pycadf's action taxonomy.
pub(crate) const ACTION_ROOTS: [&str; 25] = [
    "backup",
    "capture",
    "create",
    "configure",
    "read",
    "update",
    "delete",
    "monitor",
    "start",
    "stop",
    "deploy",
    "undeploy",
    "enable",
    "disable",
    "send",
    "receive",
    "authenticate",
    "revoke",
    "renew",
    "restore",
    "evaluate",
    "allow",
    "deny",
    "notify",
    "unknown",
];

/// The roots of pycadf's resource taxonomy.
pub(crate) const RESOURCE_ROOTS: [&str; 6] = ["storage", "compute", "network", "service", "data", "unknown"];

/// The CADF event types.
pub(crate) const EVENT_TYPES: [&str; 3] = ["activity", "monitor", "control"];

pub(crate) fn is_action(action: &str) -> bool {
    ACTION_ROOTS.iter().any(|root| action.starts_with(root))
}

pub(crate) fn is_resource_type(type_uri: &str) -> bool {
    RESOURCE_ROOTS.iter().any(|root| type_uri.starts_with(root))
}
