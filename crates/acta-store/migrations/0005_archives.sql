-- Archives of instances (retention, issue 11). The configuration is the JSON the manager gave, secrets included
-- (the server needs them to write); the API never shows them. `failing` remembers a failure streak across
-- restarts, so its alert event is written once per streak.
CREATE TABLE instance_archives (
    instance_id  TEXT PRIMARY KEY REFERENCES instances(id),
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    config       TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    failing      INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX instance_archives_by_account ON instance_archives(account_id);

-- Segments whose copy was read back and found complete, per destination: a new destination archives again.
CREATE TABLE archived_segments (
    instance_id      TEXT NOT NULL,
    day              TEXT NOT NULL,
    destination      TEXT NOT NULL,
    bytes            INTEGER NOT NULL,
    manifest_sha256  TEXT NOT NULL,
    confirmed_at     TEXT NOT NULL,
    PRIMARY KEY (instance_id, day, destination)
);
