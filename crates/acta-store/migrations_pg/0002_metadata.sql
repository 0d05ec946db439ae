-- Cluster mode's metadata (crates/acta-store/src/meta.rs and its siblings): the schema SQLite reaches through
-- migrations/0001..0008, in one file, because no metadata was ever kept in PostgreSQL before it. A later change
-- adds a migration here and one in migrations/, never edits this one.
--
-- Kept equal to SQLite's, so one code path serves both engines:
-- - integers are BIGINT (sqlx's Any driver reads an i64 from INT8 and SQLite's INTEGER alike), flags are 0/1
--   BIGINTs rather than BOOLEAN (Any decodes booleans differently per engine);
-- - text is COLLATE "C": byte order, as SQLite's BINARY collation compares and sorts, so names sort the same and
--   `ORDER BY name` answers the same list on both;
-- - times are RFC 3339 text in UTC for people and *_ns unix nanoseconds where the engine computes, as in SQLite.
-- SQLite's 0006 only moved existing alerts' marks; there are no existing rows here.

CREATE TABLE accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE instances (
    id              TEXT COLLATE "C" PRIMARY KEY,
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    name            TEXT COLLATE "C" NOT NULL,
    region          TEXT COLLATE "C" NOT NULL,
    retention_days  BIGINT NOT NULL,
    is_global       BIGINT NOT NULL DEFAULT 0,
    strict_cadf     BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT COLLATE "C" NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX instances_by_account ON instances(account_id);

-- account_id is NULL only for the platform admin key. principal: the user or service id the key authenticates as.
CREATE TABLE api_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" REFERENCES accounts(id),
    instance_id   TEXT COLLATE "C" REFERENCES instances(id),
    name          TEXT COLLATE "C" NOT NULL,
    description   TEXT COLLATE "C" NOT NULL DEFAULT '',
    role          TEXT COLLATE "C" NOT NULL,
    secret_hash   TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    created_by    TEXT COLLATE "C",
    expires_at    TEXT COLLATE "C",
    locked        BIGINT NOT NULL DEFAULT 0,
    last_used_at  TEXT COLLATE "C",
    principal     TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX api_keys_by_account ON api_keys(account_id);

CREATE TABLE views (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    name        TEXT COLLATE "C" NOT NULL,
    query       TEXT COLLATE "C" NOT NULL,
    category    TEXT COLLATE "C",
    from_spec   TEXT COLLATE "C",
    to_spec     TEXT COLLATE "C",
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX views_by_account ON views(account_id);

-- anchor_ns: windows are [anchor + k*window, anchor + (k+1)*window); reset when the alert's condition changes.
-- evaluated_until_ns: the end of the last window whose checks ran (every alert).
CREATE TABLE alerts (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    account_id          TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    view_id             TEXT COLLATE "C" NOT NULL REFERENCES views(id),
    name                TEXT COLLATE "C" NOT NULL,
    kind                TEXT COLLATE "C" NOT NULL,
    threshold           BIGINT NOT NULL,
    window_secs         BIGINT NOT NULL,
    immediate           BIGINT NOT NULL,
    at_end              BIGINT NOT NULL,
    channels            TEXT COLLATE "C" NOT NULL,
    timezone            TEXT COLLATE "C" NOT NULL,
    muted_until         TEXT COLLATE "C",
    anchor_ns           BIGINT NOT NULL,
    evaluated_until_ns  BIGINT NOT NULL DEFAULT 0,
    created_at          TEXT COLLATE "C" NOT NULL,
    updated_at          TEXT COLLATE "C" NOT NULL
);
CREATE INDEX alerts_by_account ON alerts(account_id);
CREATE INDEX alerts_by_view ON alerts(view_id);

-- One row per firing. window_start_ns is NULL for test firings (NULLs are distinct in a UNIQUE constraint on both
-- engines, so test firings are not limited); otherwise the UNIQUE constraint is what makes "no alert fires twice
-- for the same window" hold across restarts, replays and nodes.
CREATE TABLE alert_firings (
    id               TEXT COLLATE "C" PRIMARY KEY,
    alert_id         TEXT COLLATE "C" NOT NULL,
    account_id       TEXT COLLATE "C" NOT NULL,
    reason           TEXT COLLATE "C" NOT NULL,
    window_start_ns  BIGINT,
    window_end_ns    BIGINT,
    count            BIGINT NOT NULL,
    muted            BIGINT NOT NULL DEFAULT 0,
    fired_at         TEXT COLLATE "C" NOT NULL,
    message          TEXT COLLATE "C" NOT NULL,
    UNIQUE (alert_id, window_start_ns)
);
CREATE INDEX alert_firings_by_alert ON alert_firings(alert_id, fired_at);

-- The durable outbox: one row per (firing, channel), written in the firing's transaction. The channel and the
-- rendered notification are copied in, so a later change or deletion of the alert does not change what is sent.
CREATE TABLE alert_outbox (
    id               TEXT COLLATE "C" PRIMARY KEY,
    firing_id        TEXT COLLATE "C" NOT NULL REFERENCES alert_firings(id),
    alert_id         TEXT COLLATE "C" NOT NULL,
    account_id       TEXT COLLATE "C" NOT NULL,
    channel_index    BIGINT NOT NULL,
    channel          TEXT COLLATE "C" NOT NULL,
    state            TEXT COLLATE "C" NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ns  BIGINT NOT NULL,
    last_error       TEXT COLLATE "C",
    created_at       TEXT COLLATE "C" NOT NULL,
    delivered_at     TEXT COLLATE "C"
);
CREATE INDEX alert_outbox_due ON alert_outbox(state, next_attempt_ns);
CREATE INDEX alert_outbox_by_firing ON alert_outbox(firing_id);

-- SQLite's INTEGER PRIMARY KEY AUTOINCREMENT.
CREATE TABLE alert_attempts (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    outbox_id   TEXT COLLATE "C" NOT NULL REFERENCES alert_outbox(id),
    alert_id    TEXT COLLATE "C" NOT NULL,
    account_id  TEXT COLLATE "C" NOT NULL,
    attempt     BIGINT NOT NULL,
    at          TEXT COLLATE "C" NOT NULL,
    ok          BIGINT NOT NULL,
    detail      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX alert_attempts_by_outbox ON alert_attempts(outbox_id);

-- Boards: named, categorized lists of graphs over the account's events. A board's graphs are one JSON array,
-- always read and replaced whole; the server validates them.
CREATE TABLE boards (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    name        TEXT COLLATE "C" NOT NULL,
    category    TEXT COLLATE "C" NOT NULL,
    filter      TEXT COLLATE "C",
    graphs      TEXT COLLATE "C" NOT NULL,
    predefined  BIGINT NOT NULL DEFAULT 0,
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX boards_by_account ON boards(account_id);

-- An account receives the predefined boards once; this row says it did.
CREATE TABLE predefined_boards_given (
    account_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts(id),
    given_at    TEXT COLLATE "C" NOT NULL
);

-- Archives of instances. The configuration is the JSON the manager gave, secrets included; `failing` remembers a
-- failure streak across restarts, so its alert event is written once per streak.
CREATE TABLE instance_archives (
    instance_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES instances(id),
    account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    config       TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL,
    failing      BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT COLLATE "C"
);
CREATE INDEX instance_archives_by_account ON instance_archives(account_id);

-- Segments whose copy was read back and found complete, per destination: a new destination archives again.
CREATE TABLE archived_segments (
    instance_id      TEXT COLLATE "C" NOT NULL,
    day              TEXT COLLATE "C" NOT NULL,
    destination      TEXT COLLATE "C" NOT NULL,
    bytes            BIGINT NOT NULL,
    manifest_sha256  TEXT COLLATE "C" NOT NULL,
    confirmed_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (instance_id, day, destination)
);

-- Insights (docs/insights.md): per account, the events of each hour (unix hours) per dimension and key.
CREATE TABLE insight_counts (
    account_id  TEXT COLLATE "C" NOT NULL,
    dimension   TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    hour        BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (account_id, hour, dimension, key)
);

-- Per account, the hours before `final_before_hour` are counted and final; `full_count_hour` is when all 8 days
-- were last counted. Its absence means the account was never counted.
CREATE TABLE insight_progress (
    account_id         TEXT COLLATE "C" PRIMARY KEY,
    final_before_hour  BIGINT NOT NULL,
    full_count_hour    BIGINT NOT NULL
);

-- Routes: per account, a destination that receives every accepted event (or those matching a query), in order
-- per instance.
CREATE TABLE routes (
    id           TEXT COLLATE "C" PRIMARY KEY,
    account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    name         TEXT COLLATE "C" NOT NULL,
    query        TEXT COLLATE "C",
    destination  TEXT COLLATE "C" NOT NULL,
    enabled      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT COLLATE "C" NOT NULL,
    updated_at   TEXT COLLATE "C" NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX routes_by_account ON routes(account_id);

-- A route's durable cursor per instance: every record of the instance up to `delivered_seq` was delivered (or did
-- not match the route's query).
CREATE TABLE route_cursors (
    route_id       TEXT COLLATE "C" NOT NULL REFERENCES routes(id) ON DELETE CASCADE,
    instance_id    TEXT COLLATE "C" NOT NULL,
    delivered_seq  BIGINT NOT NULL,
    PRIMARY KEY (route_id, instance_id)
);
