//! `acta bench generate`: realistic CADF events in the IBM Cloud Activity Tracker style.
//!
//! Event `i` of a run is a pure function of (seed, i, days, accounts, end, count): each event draws from its own
//! PRNG stream, so output is reproducible byte for byte and could be produced in any order or in parallel.
//! The PRNG is written here (SplitMix64) rather than taken from `rand`, whose `StdRng` algorithm may change
//! between versions: a benchmark data set must stay the same across upgrades to compare figures.
//!
//! What makes the events realistic for Acta's hot paths:
//! - many services, resource types and verbs, with IBM action names (`kms.secrets.delete`);
//! - accounts and, within an account, initiators drawn from a bounded Pareto law: a few produce most events;
//! - about 7.5% failures with 4xx/5xx reason codes and a reason for failure;
//! - 0.83-1.48 KB per event, about 1.1 KB on average (a target size drawn per event, approached by dropping
//!   optional members or adding resource tags);
//! - `eventTime` spread evenly over the last D days in ascending order with jitter, in IBM's `+0000` format;
//! - `logSourceCRN` with regions and accounts (global services under `global`);
//! - `requestData` as an object, as a JSON string (as several IBM services send it), or absent.
//!
//! One event, at position `count / 2`, targets [`NEEDLE_TARGET`] so that `acta bench query` has a needle.

use serde_json::{Map, Value, json};

/// The target name of the one needle event of a generated set.
pub(crate) const NEEDLE_TARGET: &str = "acta-bench-needle-7f3a9c";

/// Smallest and largest generated event, in bytes. Inside 0.8-1.5 KB whether a KB is 1000 or 1024 bytes.
pub(crate) const MIN_EVENT_BYTES: usize = 830;
/// See [`MIN_EVENT_BYTES`].
pub(crate) const MAX_EVENT_BYTES: usize = 1480;

/// The probability that an event is a failure (the issue asks for 5-10%).
const FAILURE_RATE: f64 = 0.075;

/// Pareto shape of accounts and of initiators within an account: a multi-tenant platform where the biggest
/// tenant sends about a third of the events and the top fifth about 85%.
const ACCOUNT_SKEW: f64 = 0.6;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// How many events.
    pub(crate) count: u64,
    /// Over how many days before `end_ns` event times are spread.
    pub(crate) days: u32,
    /// How many distinct accounts (IBM account ids in the CRNs).
    pub(crate) accounts: u32,
    /// The seed.
    pub(crate) seed: u64,
    /// The latest event time, unix ns.
    pub(crate) end_ns: i64,
}

/// SplitMix64: tiny, fast, and good enough for test data (it passes BigCrush as a stream).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` > 0). The modulo bias is below 2^-40 for the small `n` used here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Every caller passes a non-empty constant table.
        &items[self.below(items.len() as u64) as usize]
    }

    /// A rank in `0..n` from a bounded Pareto law with shape `alpha`: rank 0 is the most frequent. With
    /// `alpha` = 0.6 and 50 ranks, the top 20% of ranks draw about 84% of the samples and rank 0 about 38%.
    pub(crate) fn pareto_rank(&mut self, n: u32, alpha: f64) -> u32 {
        let n = n.max(1);
        let high = f64::from(n) + 1.0;
        let u = self.unit();
        // Inverse CDF of the Pareto law on [1, n+1).
        let x = (1.0 - u * (1.0 - high.powf(-alpha))).powf(-1.0 / alpha);
        ((x.floor() as u32).saturating_sub(1)).min(n - 1)
    }
}

/// A stable 64-bit hash of a few numbers, to derive names and ids that stay the same for a seed.
fn mix(parts: &[u64]) -> u64 {
    let mut state = SplitMix::new(0x5EED_AC7A);
    let mut out = 0u64;
    for part in parts {
        state.0 ^= *part;
        out = state.next_u64() ^ out.rotate_left(17);
    }
    out
}

fn hex(value: u64, digits: usize) -> String {
    let full = format!("{value:016x}{:016x}", mix(&[value]));
    full[..digits.min(32)].to_string()
}

/// A UUID-shaped id (version 4 layout) from two numbers.
fn uuid_from(a: u64, b: u64) -> String {
    let (x, y) = (mix(&[a, b, 1]), mix(&[a, b, 2]));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        ((y >> 48) & 0x3fff) | 0x8000,
        y & 0xffff_ffff_ffff
    )
}

struct Service {
    name: &'static str,
    display: &'static str,
    global: bool,
    /// Relative frequency.
    weight: u32,
    /// (resource type, verbs).
    resources: &'static [(&'static str, &'static [&'static str])],
}

const SERVICES: &[Service] = &[
    Service {
        name: "iam-identity",
        display: "IAM Identity Service",
        global: true,
        weight: 18,
        resources: &[
            ("user-apikey", &["login", "create", "delete", "update", "get", "lock", "unlock"]),
            ("serviceid", &["create", "update", "delete", "get"]),
            ("serviceid-apikey", &["login", "create", "delete"]),
            ("profile", &["create", "update", "delete", "login"]),
            ("account-settings", &["update", "get"]),
        ],
    },
    Service {
        name: "cloud-object-storage",
        display: "Cloud Object Storage",
        global: false,
        weight: 16,
        resources: &[
            ("bucket", &["create", "delete", "list", "read"]),
            ("object", &["read", "write", "delete", "list"]),
            ("bucket-acl", &["update", "read"]),
            ("bucket-lifecycle", &["update", "delete"]),
        ],
    },
    Service {
        name: "kms",
        display: "Key Protect",
        global: false,
        weight: 12,
        resources: &[
            ("secrets", &["create", "read", "delete", "wrap", "unwrap", "rotate", "list", "restore"]),
            ("policies", &["read", "write"]),
            ("instancepolicies", &["read", "write"]),
        ],
    },
    Service {
        name: "containers-kubernetes",
        display: "Kubernetes Service",
        global: false,
        weight: 9,
        resources: &[
            ("cluster", &["create", "delete", "update", "config"]),
            ("worker", &["reload", "replace", "reboot", "update"]),
            ("workerpool", &["create", "resize", "delete"]),
        ],
    },
    Service {
        name: "is",
        display: "VPC Infrastructure Services",
        global: false,
        weight: 10,
        resources: &[
            ("instance", &["create", "delete", "start", "stop", "reboot", "update"]),
            ("volume", &["create", "delete", "attach", "detach"]),
            ("security-group", &["create", "update", "delete"]),
            ("security-group-rule", &["create", "delete"]),
            ("floating-ip", &["create", "delete", "update"]),
        ],
    },
    Service {
        name: "iam-groups",
        display: "IAM Access Groups",
        global: true,
        weight: 5,
        resources: &[("group", &["create", "update", "delete"]), ("member", &["add", "remove"]), ("rule", &["create"])],
    },
    Service {
        name: "iam-am",
        display: "IAM Access Management",
        global: true,
        weight: 4,
        resources: &[("policy", &["create", "update", "delete"]), ("role", &["create", "delete"])],
    },
    Service {
        name: "databases-for-postgresql",
        display: "Databases for PostgreSQL",
        global: false,
        weight: 5,
        resources: &[
            ("deployment", &["create", "delete", "update", "read"]),
            ("backup", &["create", "restore"]),
            ("user", &["create", "update"]),
        ],
    },
    Service {
        name: "secrets-manager",
        display: "Secrets Manager",
        global: false,
        weight: 6,
        resources: &[("secret", &["create", "read", "rotate", "delete", "update"]), ("secret-group", &["create"])],
    },
    Service {
        name: "codeengine",
        display: "Code Engine",
        global: false,
        weight: 4,
        resources: &[("application", &["create", "update", "delete"]), ("job", &["create", "run", "delete"])],
    },
    Service {
        name: "resource-controller",
        display: "Resource Controller",
        global: true,
        weight: 4,
        resources: &[("instance", &["create", "update", "delete"]), ("key", &["create", "delete"])],
    },
    Service {
        name: "user-management",
        display: "User Management",
        global: true,
        weight: 2,
        resources: &[("user", &["invite", "remove", "update"])],
    },
    Service {
        name: "billing",
        display: "Billing",
        global: true,
        weight: 2,
        resources: &[("account", &["read"]), ("invoice", &["read"]), ("usage", &["read"])],
    },
    Service {
        name: "hs-crypto",
        display: "Hyper Protect Crypto Services",
        global: false,
        weight: 1,
        resources: &[("keys", &["create", "wrap", "unwrap", "delete"])],
    },
    Service {
        name: "event-streams",
        display: "Event Streams",
        global: false,
        weight: 1,
        resources: &[("topic", &["create", "delete", "update"]), ("cluster", &["update"])],
    },
    Service {
        name: "schematics",
        display: "Schematics",
        global: false,
        weight: 1,
        resources: &[("workspace", &["create", "update", "apply", "destroy", "plan"])],
    },
];

const REGIONS: &[&str] =
    &["us-south", "us-south", "us-south", "us-east", "eu-de", "eu-de", "eu-gb", "jp-tok", "au-syd"];

const AGENTS: &[&str] = &[
    "IBM Cloud CLI",
    "IBM Cloud CLI",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-ibm/1.71.2",
    "Go-http-client/2.0",
    "ibm-cos-sdk-python/2.13.6 Python/3.12.7",
    "kubectl/v1.31.2 (linux/amd64)",
];

const FIRST_NAMES: &[&str] =
    &["jane", "ravi", "mei", "lucas", "amina", "oskar", "sofia", "kenji", "fatima", "noah", "elena", "tunde"];
const LAST_NAMES: &[&str] =
    &["doe", "patel", "chen", "martin", "diallo", "berg", "rossi", "tanaka", "haddad", "smith", "ivanova", "okafor"];
const COMPANIES: &[&str] = &["example.com", "acme.io", "globex.example", "initech.example", "umbrella.example"];
const NAME_WORDS: &[&str] = &[
    "prod",
    "staging",
    "dev",
    "payments",
    "billing",
    "analytics",
    "web",
    "api",
    "ledger",
    "search",
    "mobile",
    "data",
    "backup",
    "edge",
    "core",
    "ml",
];
const TAGS: &[&str] = &[
    "env:prod",
    "env:staging",
    "team:payments",
    "team:platform",
    "cost-center:4711",
    "owner:secops",
    "project:atlas",
    "tier:gold",
    "compliance:pci-dss",
    "compliance:soc2",
    "backup:daily",
    "data-class:confidential",
    "region-pair:us-south/us-east",
    "managed-by:terraform",
];

/// (reasonCode, reasonType, reasonForFailure) of failures.
const FAILURES: &[(u16, &str, &str)] = &[
    (400, "Bad Request", "The request body is not valid: a required property is missing"),
    (401, "Unauthorized", "The provided IAM token is expired or invalid"),
    (403, "Forbidden", "The user does not have the required IAM permission for this action"),
    (403, "Forbidden", "Access denied by a context-based restriction rule"),
    (404, "Not Found", "The requested resource was not found"),
    (409, "Conflict", "The resource is locked and cannot be changed"),
    (429, "Too Many Requests", "Rate limit exceeded, retry later"),
    (500, "Internal Server Error", "An unexpected error occurred, retry later"),
];

/// One identity that acts: a user, a service id or another service.
struct Initiator {
    id: String,
    type_uri: &'static str,
    name: String,
    address: String,
    agent: &'static str,
    credential: &'static str,
}

fn initiator(seed: u64, account: u32, rank: u32) -> Initiator {
    let h = mix(&[seed, u64::from(account), u64::from(rank), 7]);
    let agent = AGENTS[(h % AGENTS.len() as u64) as usize];
    let address = format!("{}.{}.{}.{}", 10 + (h >> 8) % 200, (h >> 16) % 256, (h >> 24) % 256, 1 + (h >> 32) % 254);
    match h % 20 {
        // About 15% service ids (automation) and 5% services acting for themselves.
        0..=2 => Initiator {
            id: format!("iam-ServiceId-{}", uuid_from(h, 3)),
            type_uri: "service/security/account/serviceid",
            name: format!("{}-{}-automation", NAME_WORDS[(h >> 40) as usize % NAME_WORDS.len()], rank),
            address,
            agent: "Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-ibm/1.71.2",
            credential: "apikey",
        },
        3 => Initiator {
            id: format!("crn-{}", hex(h, 24)),
            type_uri: "service/security/clientid",
            name: "IBM".to_string(),
            address: "169.48.0.1".to_string(),
            agent: "Go-http-client/2.0",
            credential: "token",
        },
        _ => {
            let first = FIRST_NAMES[(h >> 36) as usize % FIRST_NAMES.len()];
            let last = LAST_NAMES[(h >> 44) as usize % LAST_NAMES.len()];
            let company = COMPANIES[(u64::from(account) + seed) as usize % COMPANIES.len()];
            Initiator {
                id: format!("IBMid-{}", hex(h, 10).to_uppercase()),
                type_uri: "service/security/account/user",
                name: format!("{first}.{last}{rank}@{company}"),
                address,
                agent,
                credential: if h.is_multiple_of(7) { "apikey" } else { "token" },
            }
        }
    }
}

fn pick_service(rng: &mut SplitMix) -> &'static Service {
    let total: u32 = SERVICES.iter().map(|s| s.weight).sum();
    let mut roll = rng.below(u64::from(total)) as u32;
    for service in SERVICES {
        if roll < service.weight {
            return service;
        }
        roll -= service.weight;
    }
    &SERVICES[0]
}

/// IBM's `eventTime` format: `2026-11-20T16:37:40.12+0000` (two fraction digits, `+0000`).
pub(crate) fn ibm_time(ns: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:02}+0000",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond() / 10_000_000
        ),
        // Only reachable for times outside year -9999..9999, which `end` and `days` cannot produce.
        Err(_) => acta_cadf::format_time(ns),
    }
}

/// The event at position `index` of the set `spec` describes, as one line of JSON.
pub(crate) fn event(spec: &Spec, index: u64) -> String {
    let mut rng = SplitMix::new(mix(&[spec.seed, index, 0xE7E7]));
    let seed = spec.seed;

    // Ascending times: slot `index` of `count` equal slots over the window, jittered inside the slot.
    let span = i64::from(spec.days.max(1)).saturating_mul(NANOS_PER_DAY);
    let count = spec.count.max(1);
    let slot = (index.min(count - 1) as f64 + rng.unit()) / count as f64;
    let time_ns = spec.end_ns - span + (slot * span as f64) as i64;

    let account_rank = rng.pareto_rank(spec.accounts.max(1), ACCOUNT_SKEW);
    let account = hex(mix(&[seed, u64::from(account_rank), 11]), 32);
    let service = pick_service(&mut rng);
    let &(resource, verbs) = rng.pick(service.resources);
    let verb = *rng.pick(verbs);
    let action = format!("{}.{resource}.{verb}", service.name);
    let region = if service.global { "global" } else { *rng.pick(REGIONS) };
    let service_instance = uuid_from(mix(&[seed, u64::from(account_rank), 13]), service.weight.into());
    let log_source_crn = format!("crn:v1:bluemix:public:{}:{region}:a/{account}:{service_instance}::", service.name);

    let who = initiator(seed, account_rank, rng.pareto_rank(40, ACCOUNT_SKEW));
    let failed = rng.chance(FAILURE_RATE);

    let target_rank = rng.pareto_rank(200, 0.9);
    let target_name = if index == spec.count / 2 {
        NEEDLE_TARGET.to_string()
    } else {
        let words = mix(&[seed, u64::from(account_rank), u64::from(target_rank), 17]);
        format!(
            "{}-{}-{resource}-{}",
            NAME_WORDS[(words % NAME_WORDS.len() as u64) as usize],
            NAME_WORDS[((words >> 8) % NAME_WORDS.len() as u64) as usize],
            target_rank
        )
    };
    let resource_id = uuid_from(mix(&[seed, u64::from(account_rank), u64::from(target_rank)]), 19);
    let target_crn = format!(
        "crn:v1:bluemix:public:{}:{region}:a/{account}:{service_instance}:{resource}:{resource_id}",
        service.name
    );

    let reason = if failed {
        let (code, kind, why) = *rng.pick(FAILURES);
        json!({"reasonCode": code, "reasonType": kind, "reasonForFailure": why})
    } else {
        match verb {
            "create" | "add" | "invite" => json!({"reasonCode": 201, "reasonType": "Created"}),
            "delete" | "remove" => json!({"reasonCode": 204, "reasonType": "No Content"}),
            _ => json!({"reasonCode": 200, "reasonType": "OK"}),
        }
    };
    let severity = match (failed, verb) {
        (true, _) if resource.contains("apikey") || service.name == "kms" => "critical",
        (true, _) => "warning",
        (false, "delete" | "remove" | "destroy" | "lock" | "unlock" | "rotate") => "critical",
        (false, "create" | "update" | "write" | "add" | "attach" | "detach") => "warning",
        _ => "normal",
    };
    let data_event = matches!(verb, "read" | "list" | "get" | "wrap" | "unwrap" | "write") || resource == "object";
    let outcome = if failed { "failure" } else { "success" };
    let message =
        format!("{}: {verb} {resource} {target_name}{}", service.display, if failed { " -failure" } else { "" });

    let mut object = Map::new();
    // The id names this content: the same seed generated at another time gives other times, so other events
    // (the same id with other content would be stored again, marked as reusing its id).
    object.insert("id".into(), Value::from(uuid_from(seed ^ 0xA11CE ^ spec.end_ns as u64, index)));
    object.insert(
        "initiator".into(),
        json!({
            "id": who.id,
            "typeURI": who.type_uri,
            "name": who.name,
            "host": {"address": who.address, "addressType": "IPv4", "agent": who.agent},
            "credential": {"type": who.credential},
            "authnId": who.id,
            "authnName": who.name,
        }),
    );
    object.insert(
        "target".into(),
        json!({"id": target_crn, "name": target_name, "typeURI": format!("{}/{resource}", service.name)}),
    );
    object.insert("observer".into(), json!({"name": "ActivityTracker"}));
    object.insert("action".into(), Value::from(action));
    object.insert("outcome".into(), Value::from(outcome));
    object.insert("reason".into(), reason);
    object.insert("severity".into(), Value::from(severity));
    object.insert("eventTime".into(), Value::from(ibm_time(time_ns)));
    object.insert("message".into(), Value::from(message));
    object.insert("logSourceCRN".into(), Value::from(log_source_crn));
    object.insert("dataEvent".into(), Value::from(data_event));
    object.insert("saveServiceCopy".into(), Value::from(true));
    object.insert("correlationId".into(), Value::from(uuid_from(seed ^ 0xC0DE, index)));

    let request = json!({
        "region": region,
        "resourceGroupId": hex(mix(&[seed, u64::from(account_rank), 23]), 32),
        "name": target_name,
        "requestId": uuid_from(seed ^ 0xBEEF, index),
    });
    // Roughly what IBM services do: many send an object, some a JSON string (Acta searches inside it), some none.
    match rng.below(20) {
        0..=8 => {
            object.insert("requestData".into(), request);
        }
        9..=15 => {
            object.insert("requestData".into(), Value::from(request.to_string()));
        }
        _ => {}
    }

    // Skewed towards small targets, as most audit events are short and a few carry more.
    let spread = (MAX_EVENT_BYTES - MIN_EVENT_BYTES) as f64;
    let target_bytes = MIN_EVENT_BYTES + (spread * rng.unit().powi(2)) as usize;
    fit(object, target_bytes, &mut rng)
}

/// Brings an event to about `target` bytes. Too long: drop optional members (`correlationId`, the initiator's
/// `authnId`, which repeats its id) while the event stays at least [`MIN_EVENT_BYTES`]; the request data goes
/// only if the event is still over [`MAX_EVENT_BYTES`], so most events keep it. Too short: resource tags in
/// `responseData` add realistic, searchable bytes. The result always lies within the two bounds.
fn fit(mut object: Map<String, Value>, target: usize, rng: &mut SplitMix) -> String {
    let mut text = Value::Object(object.clone()).to_string();
    for (parent, member) in [(None, "correlationId"), (Some("initiator"), "authnId"), (None, "requestData")] {
        let holder = match parent {
            Some(parent) => object.get_mut(parent).and_then(Value::as_object_mut),
            None => Some(&mut object),
        };
        let Some(holder) = holder else { continue };
        // `,"key":value`: what removing the member saves.
        let saved = holder.get(member).map_or(0, |value| member.len() + 4 + value.to_string().len());
        let fits_after = text.len().saturating_sub(saved) >= MIN_EVENT_BYTES;
        let wanted = if member == "requestData" { text.len() > MAX_EVENT_BYTES } else { text.len() > target };
        if saved > 0 && wanted && fits_after {
            holder.remove(member);
            text = Value::Object(object.clone()).to_string();
        }
    }
    // 40 bytes: `,"responseData":{"tags":[]}` plus slack.
    if text.len() + 40 >= target {
        return text;
    }
    let mut tags: Vec<Value> = Vec::new();
    let mut size = text.len() + 27;
    // Bounded: each round adds at least 8 bytes and stops 30 bytes short of the target.
    while size + 30 < target {
        let tag = format!("{}-{}", rng.pick(TAGS), rng.below(1000));
        size += tag.len() + 3;
        tags.push(Value::from(tag));
    }
    object.insert("responseData".into(), json!({ "tags": tags }));
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const END: i64 = 1_795_000_000_000_000_000; // 2026-11-18T11:06:40Z

    fn spec(count: u64, seed: u64) -> Spec {
        Spec { count, days: 7, accounts: 50, seed, end_ns: END }
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let a: Vec<String> = (0..300).map(|i| event(&spec(300, 42), i)).collect();
        let b: Vec<String> = (0..300).map(|i| event(&spec(300, 42), i)).collect();
        let c: Vec<String> = (0..300).map(|i| event(&spec(300, 43), i)).collect();
        assert_eq!(a, b);
        assert!(a.iter().zip(&c).all(|(a, c)| a != c));
    }

    #[test]
    fn events_are_valid_sized_timed_and_fail_at_the_asked_rate() {
        let spec = spec(3000, 7);
        let window = i64::from(spec.days) * NANOS_PER_DAY;
        let (mut failures, mut stringified, mut needles) = (0, 0, 0);
        let mut actions = std::collections::BTreeSet::new();
        let mut last_time = i64::MIN;
        for i in 0..spec.count {
            let line = event(&spec, i);
            assert!(
                (MIN_EVENT_BYTES..=MAX_EVENT_BYTES).contains(&line.len()),
                "event {i} is {} bytes: {line}",
                line.len()
            );
            assert!(!line.contains('\n'));
            let parsed = acta_cadf::parse_event(line.as_bytes(), &acta_cadf::Options::default(), END)
                .unwrap_or_else(|problems| panic!("event {i} rejected: {problems:?}\n{line}"));
            assert!(parsed.event_time <= END && parsed.event_time >= END - window, "event {i} time");
            assert!(parsed.event_time >= last_time, "times ascend");
            last_time = parsed.event_time;
            assert!(parsed.crn.is_some(), "logSourceCRN parses");
            if parsed.outcome == acta_cadf::Outcome::Failure {
                failures += 1;
            }
            if parsed.value["requestData"].is_string() {
                stringified += 1;
            }
            if parsed.value["target"]["name"] == NEEDLE_TARGET {
                needles += 1;
            }
            actions.insert(parsed.action);
        }
        let rate = f64::from(failures) / spec.count as f64;
        assert!((0.05..=0.10).contains(&rate), "failure rate {rate}");
        assert!(stringified > 300, "some requestData are JSON strings: {stringified}");
        assert_eq!(needles, 1);
        assert!(actions.len() > 60, "many actions: {}", actions.len());
    }

    #[test]
    fn pareto_ranks_are_skewed_and_bounded() {
        let mut rng = SplitMix::new(1);
        let mut counts = [0u32; 50];
        for _ in 0..20_000 {
            counts[rng.pareto_rank(50, ACCOUNT_SKEW) as usize] += 1;
        }
        let top_ten: u32 = counts[..10].iter().sum();
        assert!(top_ten > 14_000, "the top 20% of accounts send most events: {top_ten}");
        assert!(counts[49] > 0, "the last rank is reachable");
    }

    #[test]
    fn ibm_time_parses_back() {
        let ns = 1_795_000_123_456_789_000;
        let text = ibm_time(ns);
        assert_eq!(text.len(), "2026-11-18T00:00:00.00+0000".len());
        assert_eq!(acta_cadf::parse_time(&text).unwrap(), ns - ns % 10_000_000);
    }
}
