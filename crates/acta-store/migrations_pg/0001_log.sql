-- Cluster mode's durable log (crates/acta-store/src/pglog/): every node appends through it.

-- One row per instance: the last seq given and the last arrival time, locked by each batch (SELECT ... FOR
-- UPDATE) so that an instance's batches, from any node, take their seqs one after the other with no gap.
CREATE TABLE log_heads (
    instance TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    last_received_ns BIGINT NOT NULL
);

-- The records, partitioned by arrival day (days since 1970-01-01, UTC): a sealed day is written to object
-- storage and its partition dropped whole. The key holds the day because a partitioned table's keys must; a
-- (instance, seq) pair is unique because only the holder of the head row's lock writes the seqs after it.
-- The event bytes are stored exactly as received. No GIN index: it cuts COPY's rate by an order of magnitude.
CREATE TABLE log_records (
    instance TEXT NOT NULL,
    seq BIGINT NOT NULL,
    day INTEGER NOT NULL,
    received_ns BIGINT NOT NULL,
    stream TEXT NOT NULL,
    account TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event BYTEA NOT NULL,
    PRIMARY KEY (instance, seq, day)
) PARTITION BY RANGE (day);
