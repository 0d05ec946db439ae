-- Accounts, their instances, and API keys. Times are RFC 3339 text in UTC.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE instances (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    name            TEXT NOT NULL,
    region          TEXT NOT NULL,
    retention_days  INTEGER NOT NULL,
    is_global       INTEGER NOT NULL DEFAULT 0,
    strict_cadf     INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX instances_by_account ON instances(account_id);

-- account_id is NULL only for the platform admin key.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT REFERENCES accounts(id),
    instance_id   TEXT REFERENCES instances(id),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT,
    expires_at    TEXT,
    locked        INTEGER NOT NULL DEFAULT 0,
    last_used_at  TEXT
);
CREATE INDEX api_keys_by_account ON api_keys(account_id);
