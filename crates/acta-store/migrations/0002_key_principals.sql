-- The principal (user or service id) a key authenticates as; keys of the same principal are "own" keys.
ALTER TABLE api_keys ADD COLUMN principal TEXT NOT NULL DEFAULT '';
