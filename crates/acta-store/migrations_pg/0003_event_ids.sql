-- Duplicate detection across nodes (crates/acta-store/src/pglog/ids.rs): the ids an account holds, each with the
-- SHA-256 of its content's canonical JSON. Written in the batch's transaction, so two nodes taking the same event
-- at once store it once: the second insert waits for the first transaction and then finds the row.
CREATE TABLE log_event_ids (
    account TEXT NOT NULL,
    event_id TEXT NOT NULL,
    digest BYTEA NOT NULL,
    instance TEXT NOT NULL,
    day INTEGER NOT NULL,
    PRIMARY KEY (account, event_id, digest)
);
