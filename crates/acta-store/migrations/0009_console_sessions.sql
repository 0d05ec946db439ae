-- The web console's sessions (crates/acta-store/src/sessions.rs): only the SHA-256 of the cookie's token is kept,
-- never the token itself. A session goes with its key.
CREATE TABLE console_sessions (
    token_hash    TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_ns    INTEGER NOT NULL,
    last_seen_ns  INTEGER NOT NULL
);
-- The sweep of expired sessions and the count of live ones read these.
CREATE INDEX console_sessions_by_created ON console_sessions(created_ns);
CREATE INDEX console_sessions_by_last_seen ON console_sessions(last_seen_ns);
CREATE INDEX console_sessions_by_key ON console_sessions(key_id);
