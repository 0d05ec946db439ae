-- evaluated_until_ns becomes the mark of every alert, not only of those with an end-of-window check: at start the
-- engine evaluates every window that ended after it (issue 20). Alerts that fire only immediately had their mark
-- left at creation; moved to one window before now, they are caught up as before this change (the current window
-- and the previous one) rather than from their creation. Now is unix ns from julianday (precision of a few µs).
UPDATE alerts
SET evaluated_until_ns = MAX(
    evaluated_until_ns,
    CAST((julianday('now') - 2440587.5) * 86400000000000.0 AS INTEGER) - window_secs * 1000000000
)
WHERE kind = 'presence' AND at_end = 0;
