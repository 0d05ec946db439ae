-- Insights (docs/insights.md): per account, the events of each hour (eventTime, UTC; `hour` is unix hours) per
-- dimension and key, so that a baseline reads 7 rows instead of rescanning 7 days of events. `action`: events of
-- the action; `action_failures`: its failures; `principal`: events of the initiator.id.
CREATE TABLE insight_counts (
    account_id  TEXT NOT NULL,
    dimension   TEXT NOT NULL,
    key         TEXT NOT NULL,
    hour        INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (account_id, hour, dimension, key)
);

-- Per account, the hours before `final_before_hour` are counted and are not counted again by the hourly runs;
-- `full_count_hour` is when all 8 days were last counted (once a day, for events that arrived late). Its absence
-- means the account was never counted (its first run counts the last 8 days).
CREATE TABLE insight_progress (
    account_id         TEXT PRIMARY KEY,
    final_before_hour  INTEGER NOT NULL,
    full_count_hour    INTEGER NOT NULL
);
