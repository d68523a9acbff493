-- Lookup throttle counters (rule 57), shared by every web worker: one row per client address
-- (fixed-window request count) and one per lookup target (wrong names in a row, closed-until).
-- Keys are HMACs (verify.services.throttle): no address, number or ID is stored.
-- UNLOGGED: every public lookup writes here, and a crash that loses the table only resets budgets.
CREATE UNLOGGED TABLE lookup_throttle (
    key             bytea PRIMARY KEY CHECK (length(key) = 16),
    window_no       bigint NOT NULL DEFAULT 0,   -- address rows: unix time / window length
    hits            integer NOT NULL DEFAULT 0,
    failures        integer NOT NULL DEFAULT 0,  -- target rows: wrong names since the last quiet spell
    last_failure    timestamptz,
    closed_until    timestamptz,
    touched_at      timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);  -- room on each page for HOT updates: rows are rewritten on every lookup
