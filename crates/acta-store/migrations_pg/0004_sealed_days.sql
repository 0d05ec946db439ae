-- Sealed days in object storage (crates/acta-store/src/cluster/days.rs): a day is listed here once every file
-- of it and its manifest are written and read back; only then is its log_records partition dropped. A node that
-- lacks a listed day takes it from object storage before it follows the log.
CREATE TABLE log_sealed_days (
    day INTEGER PRIMARY KEY,
    manifest_sha256 TEXT NOT NULL,
    -- Each instance's last seq of the day (JSON): a node tells whether it lacks the day without reading it.
    last_seqs TEXT NOT NULL,
    node TEXT NOT NULL,
    written_ns BIGINT NOT NULL
);
