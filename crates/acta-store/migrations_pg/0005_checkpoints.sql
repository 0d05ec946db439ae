-- One signer per instance (crates/acta-store/src/pglog/checkpoints.rs): the node holding the signer's lease signs
-- each segment's checkpoints and publishes each here before writing it to its own files; every other node checks
-- the published checkpoint against the tree of its own copy and writes the same line. One row per segment (instance,
-- day): its latest checkpoint.
CREATE TABLE log_checkpoints (
    instance TEXT NOT NULL,
    day INTEGER NOT NULL,
    size BIGINT NOT NULL,
    is_final BOOLEAN NOT NULL,
    -- The note's origin and the link leaf's target (hex): a segment keeps the ones of its first checkpoint.
    origin TEXT NOT NULL,
    link TEXT NOT NULL,
    -- The `.notes` line, exactly as every node writes it.
    line TEXT NOT NULL,
    -- Taken from log_checkpoint_versions under its row lock, so versions commit in their order: a node reading
    -- the rows after the last version it read misses none.
    version BIGINT NOT NULL,
    PRIMARY KEY (instance, day)
);
CREATE INDEX log_checkpoints_by_version ON log_checkpoints (version);

CREATE TABLE log_checkpoint_versions (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    version BIGINT NOT NULL
);
INSERT INTO log_checkpoint_versions (only_row, version) VALUES (true, 0);
