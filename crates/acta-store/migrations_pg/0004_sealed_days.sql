-- Sealed days in object storage (crates/acta-store/src/cluster/days.rs): a day is listed here once every file
-- of it and its manifest are written and read back; only then is its log_records partition dropped. A node that
-- lacks a listed day takes it from object storage before it follows the log.
CREATE TABLE log_sealed_days (
    day INTEGER PRIMARY KEY,
    -- The prefix of the day's objects as now written (each write of a day has its own): '' once retention
    -- removed every instance of the day.
    objects TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    -- JSON, instance -> {last_seq, last_received_ns}: the instances whose files are in object storage, and those
    -- retention removed from the day (a node lacking the day retires them as its own retention would have).
    -- A node tells whether it lacks the day from these alone, without reading object storage.
    last_seqs TEXT NOT NULL,
    retired TEXT NOT NULL,
    node TEXT NOT NULL,
    written_ns BIGINT NOT NULL
);
