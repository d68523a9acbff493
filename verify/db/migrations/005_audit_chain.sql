-- Rule 60: the audit log becomes a hash chain and is append-only for everyone (docs/DECISIONS.md
-- D35, docs/SECURITY.md §7). Runs unchanged on PostgreSQL 15 to 18 (extract() returns numeric
-- since 14, so epoch microseconds are exact).

ALTER TABLE audit_log
    ADD COLUMN role        text,        -- the actor's role (an account's role, or 'operator' for the CLI)
    ADD COLUMN request_id  text,        -- ties the entry to one HTTP request
    ADD COLUMN reason      text,        -- why: the decision's reason or article
    ADD COLUMN prev_sha256 bytea,       -- sha256 of the entry before; NULL only for the first entry
    ADD COLUMN sha256      bytea;       -- over the canonical encoding below

-- One field of the canonical encoding: its length as 4 bytes big-endian, then its bytes; NULL is
-- the length -1 (0xffffffff) and no bytes, as in PostgreSQL's wire protocol. Length prefixes make
-- the encoding unambiguous whatever the fields hold.
CREATE FUNCTION audit_field(value bytea) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL THEN '\xffffffff'::bytea ELSE int4send(length(value)) || value END
$$;

-- The entry's hash. verify/domain/audit.py computes the same bytes from the stored fields, and
-- `verify audit check` uses that, never this function: a replaced function is caught, not believed.
--   "verify.audit.v1", id (decimal), at (microseconds since 1970-01-01 UTC, decimal), actor, role,
--   action, target, detail (jsonb's canonical text output), request_id, reason, prev_sha256 (raw)
-- Text is UTF-8. STABLE, not IMMUTABLE: extract() on timestamptz is only stable.
CREATE FUNCTION audit_entry_sha256(
    e_id bigint, e_at timestamptz, e_actor text, e_role text, e_action text, e_target text,
    e_detail jsonb, e_request_id text, e_reason text, e_prev bytea
) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(
           audit_field(convert_to('verify.audit.v1', 'UTF8'))
        || audit_field(convert_to(e_id::text, 'UTF8'))
        || audit_field(convert_to(((extract(epoch FROM e_at) * 1000000)::bigint)::text, 'UTF8'))
        || audit_field(convert_to(e_actor, 'UTF8'))
        || audit_field(convert_to(e_role, 'UTF8'))
        || audit_field(convert_to(e_action, 'UTF8'))
        || audit_field(convert_to(e_target, 'UTF8'))
        || audit_field(convert_to(e_detail::text, 'UTF8'))
        || audit_field(convert_to(e_request_id, 'UTF8'))
        || audit_field(convert_to(e_reason, 'UTF8'))
        || audit_field(e_prev))
$$;

-- Chain what is already there, in id order (the append-only trigger is off for this one pass; the
-- table is locked by the ALTER above until this migration commits, so nothing slips in between).
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
DO $$
DECLARE
    r    record;
    prev bytea;
    h    bytea;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        h := audit_entry_sha256(r.id, r.at, r.actor, NULL, r.action, r.target, r.detail, NULL, NULL, prev);
        UPDATE audit_log SET prev_sha256 = prev, sha256 = h WHERE id = r.id;
        prev := h;
    END LOOP;
END $$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;

ALTER TABLE audit_log
    ALTER COLUMN sha256 SET NOT NULL,
    ADD CONSTRAINT audit_log_sha256_length CHECK (length(sha256) = 32),
    ADD CONSTRAINT audit_log_prev_sha256_length CHECK (prev_sha256 IS NULL OR length(prev_sha256) = 32),
    -- The id is taken inside the trigger, under the chain's lock, so id order is chain order; a
    -- default would draw a second, wasted number before the trigger runs.
    ALTER COLUMN id DROP DEFAULT;

-- Every insert, by any writer, is chained here: take the chain's lock (a transaction-scoped
-- advisory lock, 0x7665726966790002 = "verify" + 2, verify.db.audit.CHAIN_LOCK), read the last
-- entry, number and stamp the new one, hash it. The lock is held to commit, so entries commit in
-- chain order and two transactions never link to the same predecessor (no fork).
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    -- Under REPEATABLE READ or SERIALIZABLE the snapshot predates the lock and may miss the entry
    -- committed just before: refuse rather than fork.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit_log entries are written in READ COMMITTED transactions (the hash chain links each entry to the last committed one)'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock(8531350866139611138);
    SELECT a.sha256 INTO prev FROM audit_log a ORDER BY a.id DESC LIMIT 1;
    NEW.id := nextval('audit_log_id_seq');
    -- The server's clock under the lock: a writer cannot backdate, and time follows chain order.
    NEW.at := clock_timestamp();
    NEW.prev_sha256 := prev;
    NEW.sha256 := audit_entry_sha256(NEW.id, NEW.at, NEW.actor, NEW.role, NEW.action, NEW.target,
                                     NEW.detail, NEW.request_id, NEW.reason, prev);
    RETURN NEW;
END $$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- 001 refuses UPDATE and DELETE; TRUNCATE fires neither, so it gets its own statement trigger.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- `verify audit show --target`: one target's entries in order.
CREATE INDEX audit_log_target ON audit_log (target, id);
