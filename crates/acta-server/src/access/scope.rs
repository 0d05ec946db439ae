//! The account and instances a request acts in. Every account-owned read and write starts here: a key of an
//! account acts in its account (naming another is "not found"), a key narrowed to an instance sees that
//! instance only, and the platform admin names an account or acts in `default`.

use acta_store::{DEFAULT_ACCOUNT, Destination, Instance, InstanceScope, Store};

use crate::access::auth::Principal;
use crate::error::ApiError;

/// The account a request acts in: the key's own; the platform admin names one (`account=`) or gets `default`.
pub(crate) fn account_of(principal: &Principal, requested: Option<&str>) -> Result<String, ApiError> {
    match (&principal.key.account, requested) {
        (Some(own), Some(requested)) if own != requested => Err(ApiError::not_found("account")),
        (Some(own), _) => Ok(own.clone()),
        (None, Some(requested)) => Ok(requested.to_string()),
        (None, None) => Ok(DEFAULT_ACCOUNT.to_string()),
    }
}

/// The instances of the account the key may read, narrowed to `requested` when given.
pub(crate) async fn instances_in_scope(
    store: &Store,
    principal: &Principal,
    account: &str,
    requested: Option<&str>,
) -> Result<Vec<Instance>, ApiError> {
    let mut instances = store.meta().instances(account).await?;
    if let Some(own) = &principal.key.instance {
        instances.retain(|instance| &instance.id == own);
    }
    if let Some(requested) = requested.filter(|text| !text.is_empty()) {
        instances.retain(|instance| instance.id == requested || instance.name == requested);
        if instances.is_empty() {
            return Err(ApiError::not_found("instance"));
        }
    }
    Ok(instances)
}

/// The index scopes of instances.
pub(crate) fn scopes(instances: &[Instance]) -> Vec<InstanceScope> {
    instances
        .iter()
        .map(|instance| InstanceScope {
            instance: instance.id.clone(),
            account: instance.account.clone(),
            region: instance.region.clone(),
        })
        .collect()
}

/// Refuses unless the key may manage the account's instances, archives and keys.
pub(crate) fn require_account_manager(principal: &Principal) -> Result<(), ApiError> {
    principal.require("manager")?;
    if principal.key.instance.is_some() {
        return Err(ApiError::forbidden("a key narrowed to one instance cannot manage instances"));
    }
    Ok(())
}

/// Where a key's events go: into the instance it names (an account's key names an instance of its account,
/// another account's is not found and a key narrowed to another instance is refused; the platform admin names
/// any, in `account` when given); else into the key's account, or the account it names, each event routed
/// to an instance by its region; else, for the platform admin naming none, to the account of each event's
/// `logSourceCRN`.
pub(crate) async fn destination(
    store: &Store,
    principal: &Principal,
    requested_account: Option<&str>,
    requested_instance: Option<&str>,
) -> Result<Destination, ApiError> {
    let Some(requested_instance) = requested_instance else {
        return Ok(match (&principal.key.account, requested_account) {
            (None, None) => Destination::LogSource,
            _ => Destination::Account {
                account: account_of(principal, requested_account)?,
                fallback_instance: principal.key.instance.clone(),
            },
        });
    };
    let candidates = match (&principal.key.account, requested_account) {
        (None, None) => store.meta().all_instances().await?,
        _ => store.meta().instances(&account_of(principal, requested_account)?).await?,
    };
    // Ids are unique everywhere, names only within an account.
    let by_id = candidates.iter().find(|instance| instance.id == requested_instance);
    let by_name: Vec<&Instance> = candidates.iter().filter(|instance| instance.name == requested_instance).collect();
    let target = match (by_id, by_name.as_slice()) {
        (Some(instance), _) | (None, &[instance]) => instance.clone(),
        (None, []) => return Err(ApiError::not_found("instance")),
        (None, _) => {
            return Err(ApiError::bad_request(
                "ambiguous_instance",
                format!("instances of several accounts are named {requested_instance}: name it by id, or pass account"),
            ));
        }
    };
    if let Some(own) = &principal.key.instance
        && own != &target.id
    {
        return Err(ApiError::forbidden(format!(
            "this key may only store events in instance {own}, not {}",
            target.id
        )));
    }
    Ok(Destination::Instance(target))
}
