-- Saved views, the alerts attached to them, their firings, the outbox of notifications and every delivery
-- attempt. Times are RFC 3339 text in UTC for people and *_ns unix nanoseconds where the engine computes.
CREATE TABLE views (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    query       TEXT NOT NULL,
    category    TEXT,
    from_spec   TEXT,
    to_spec     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX views_by_account ON views(account_id);

-- anchor_ns: windows are [anchor + k*window, anchor + (k+1)*window); reset when the alert's condition changes.
-- evaluated_until_ns: the end of the last window whose end-of-window check ran (at_end presence, absence).
CREATE TABLE alerts (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    view_id             TEXT NOT NULL REFERENCES views(id),
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    threshold           INTEGER NOT NULL,
    window_secs         INTEGER NOT NULL,
    immediate           INTEGER NOT NULL,
    at_end              INTEGER NOT NULL,
    channels            TEXT NOT NULL,
    timezone            TEXT NOT NULL,
    muted_until         TEXT,
    anchor_ns           INTEGER NOT NULL,
    evaluated_until_ns  INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX alerts_by_account ON alerts(account_id);
CREATE INDEX alerts_by_view ON alerts(view_id);

-- One row per firing. window_start_ns is NULL for test firings; otherwise the UNIQUE constraint is what makes
-- "no alert fires twice for the same window" hold across restarts and replays.
CREATE TABLE alert_firings (
    id               TEXT PRIMARY KEY,
    alert_id         TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    reason           TEXT NOT NULL,
    window_start_ns  INTEGER,
    window_end_ns    INTEGER,
    count            INTEGER NOT NULL,
    muted            INTEGER NOT NULL DEFAULT 0,
    fired_at         TEXT NOT NULL,
    message          TEXT NOT NULL,
    UNIQUE (alert_id, window_start_ns)
);
CREATE INDEX alert_firings_by_alert ON alert_firings(alert_id, fired_at);

-- The durable outbox: one row per (firing, channel), written in the firing's transaction. The channel and the
-- rendered notification are copied in, so a later change or deletion of the alert does not change what is sent.
CREATE TABLE alert_outbox (
    id               TEXT PRIMARY KEY,
    firing_id        TEXT NOT NULL REFERENCES alert_firings(id),
    alert_id         TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    channel_index    INTEGER NOT NULL,
    channel          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ns  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox(state, next_attempt_ns);
CREATE INDEX alert_outbox_by_firing ON alert_outbox(firing_id);

CREATE TABLE alert_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id   TEXT NOT NULL REFERENCES alert_outbox(id),
    alert_id    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    ok          INTEGER NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX alert_attempts_by_outbox ON alert_attempts(outbox_id);
