-- Boards: named, categorized lists of graphs over the account's events. A board's graphs are one JSON array
-- (title, query, field, breakdown, range), always read and replaced whole; the server validates them.
CREATE TABLE boards (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    filter      TEXT,
    graphs      TEXT NOT NULL,
    predefined  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX boards_by_account ON boards(account_id);

-- An account receives the predefined boards once. This row says it did, so a user who deletes them does not get
-- them back at the next start; accounts created before this migration have no row and receive them once.
CREATE TABLE predefined_boards_given (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id),
    given_at    TEXT NOT NULL
);
