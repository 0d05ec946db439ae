-- Routes: per account, a destination that receives every accepted event (or those matching a query), in order
-- per instance. The destination is one JSON object whose shape the server defines and validates.
CREATE TABLE routes (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    query        TEXT,
    destination  TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX routes_by_account ON routes(account_id);

-- A route's durable cursor per instance: every record of the instance up to `delivered_seq` was delivered (or did
-- not match the route's query). A route starts an instance it has no row for at its first record.
CREATE TABLE route_cursors (
    route_id       TEXT NOT NULL REFERENCES routes(id) ON DELETE CASCADE,
    instance_id    TEXT NOT NULL,
    delivered_seq  INTEGER NOT NULL,
    PRIMARY KEY (route_id, instance_id)
);
