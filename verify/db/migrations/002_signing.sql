-- Signed certificates: signing keys (public halves only), the signed QR payload of each
-- certificate, certificate events (revocation, supersession, reinstatement), and notifications
-- that keep every web worker's in-memory status view fresh.

CREATE TABLE signing_keys (
    public_key      bytea PRIMARY KEY CHECK (length(public_key) = 32),
    -- 4 hex characters: short because it sits in every QR; not unique, verifiers try every key with it.
    kid             text NOT NULL CHECK (kid ~ '^[0-9a-f]{4}$'),
    algorithm       text NOT NULL DEFAULT 'Ed25519' CHECK (algorithm = 'Ed25519'),
    not_before      timestamptz NOT NULL,
    not_after       timestamptz,            -- end of the signing window; signatures keep verifying after it
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired', 'compromised')),
    status_since    timestamptz NOT NULL DEFAULT now(),
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signing_keys_kid ON signing_keys (kid);

-- The signed QR payload of each certificate, in a table of its own: publishing COPYs a batch's
-- payloads here instead of rewriting every certificate row (a million-row UPDATE). Written only
-- by the publishing process from certificates in the same transaction; re-signing updates rows.
CREATE TABLE certificate_signatures (
    number          text PRIMARY KEY,
    kid             text NOT NULL,
    payload         bytea NOT NULL,
    signed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_signatures_kid ON certificate_signatures (kid);

-- The status view reloads the (few) certificates that are not active; keep that off a full scan.
CREATE INDEX certificates_not_active ON certificates (number) WHERE status <> 'active';

-- Every revocation, supersession or reversal is a new, kept record (rules 35-37).
CREATE TABLE certificate_events (
    id              bigserial PRIMARY KEY,
    number          text NOT NULL REFERENCES certificates(number),
    event           text NOT NULL CHECK (event IN ('revoked', 'superseded', 'reinstated')),
    effective       date NOT NULL,
    reason_category text NOT NULL,          -- public category, e.g. 'fraud', 'data_error', 'institution_violation'
    reason          text NOT NULL,          -- article and facts (internal)
    decided_by      text NOT NULL,
    document_ref    text,
    served          text,                   -- how the decision was served or announced
    superseded_by   text,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_events_number ON certificate_events (number, id);

CREATE TRIGGER certificate_events_no_delete BEFORE DELETE ON certificate_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- Web workers LISTEN on verify_status and refresh their status view; one notification per
-- statement keeps a million-row publish from sending a million messages.
CREATE FUNCTION notify_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('verify_status', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER certificates_status_notify AFTER UPDATE OF status ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION notify_status();
CREATE TRIGGER institutions_status_notify AFTER INSERT OR UPDATE OF status, name ON institutions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_status();
CREATE TRIGGER signing_keys_notify AFTER INSERT OR UPDATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_status();
