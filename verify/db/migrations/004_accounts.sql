-- Accounts and their credentials (rules 58, 59, 64), and the review of result batches (rules 31-34).

-- One row per person or client allowed past the public pages. The role and its scope are fixed at
-- creation: an institution account belongs to one institution, a reviewer to one jurisdiction.
CREATE TABLE accounts (
    id              bigserial PRIMARY KEY,
    login           text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    role            text NOT NULL CHECK (role IN ('institution', 'reviewer', 'regulator', 'admin', 'verifier')),
    display_name    text NOT NULL,
    institution_id  bigint REFERENCES institutions(id),
    -- '41' (the province) or '41' + a Henan city code ('4101' 郑州市): the reviewer's 鉴定中心 area.
    jurisdiction    text CHECK (jurisdiction ~ '^41([0-9]{2})?$'),
    -- An institution's administrator, who manages its staff's sub-accounts (rule 64).
    manager         boolean NOT NULL DEFAULT false,
    parent_id       bigint REFERENCES accounts(id),
    password_hash   text,                   -- Argon2id (verify.crypto.passwords); NULL = API tokens only
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    disabled_reason text,
    CHECK ((role = 'institution') = (institution_id IS NOT NULL)),
    CHECK ((role IN ('reviewer', 'regulator')) = (jurisdiction IS NOT NULL)),
    CHECK (NOT manager OR role = 'institution')
);
CREATE INDEX accounts_institution ON accounts (institution_id) WHERE institution_id IS NOT NULL;

-- API tokens: only the SHA-256 of a 256-bit random token is stored (it is shown once).
CREATE TABLE account_tokens (
    token_sha256    bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    account_id      bigint NOT NULL REFERENCES accounts(id),
    label           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX account_tokens_account ON account_tokens (account_id);

-- Console sign-ins: the cookie carries a random id, the table its SHA-256 and the CSRF token.
CREATE TABLE account_sessions (
    id_sha256       bytea PRIMARY KEY CHECK (length(id_sha256) = 32),
    account_id      bigint NOT NULL REFERENCES accounts(id),
    csrf            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    ended_at        timestamptz
);
CREATE INDEX account_sessions_account ON account_sessions (account_id);

-- Institution tokens of the first release become institution accounts' tokens on first use of
-- `verify accounts`; the old table stays (nothing is deleted) but nothing reads it any more.
COMMENT ON TABLE institution_credentials IS 'superseded by account_tokens (migration 004)';

-- The review of a batch (rule 31): the plan it reports on, who decided, when and why.
ALTER TABLE batches DROP CONSTRAINT batches_state_check;
ALTER TABLE batches ADD CONSTRAINT batches_state_check
    CHECK (state IN ('submitted', 'approved', 'rejected', 'withdrawn', 'published'));
ALTER TABLE batches
    ADD COLUMN submitted_account bigint REFERENCES accounts(id),
    ADD COLUMN plan             jsonb,          -- verify.domain.batch.plan.BatchPlan
    ADD COLUMN warnings         jsonb NOT NULL DEFAULT '[]',  -- the reviewer sees every one
    ADD COLUMN reviewed_by      text,
    ADD COLUMN reviewed_account bigint REFERENCES accounts(id),
    ADD COLUMN reviewed_at      timestamptz,
    ADD COLUMN decision         jsonb;          -- reason (whole batch) and row reasons of a rejection, or the note of an approval

-- The signer's queue is the batches table itself: approved, oldest decision first.
CREATE INDEX batches_approved ON batches (reviewed_at, id) WHERE state = 'approved';
CREATE INDEX batches_state ON batches (institution_id, state, submitted_at);

-- The filed roster of a batch (rule 34), as blind indexes of the candidates' IDs: no ID is stored.
CREATE TABLE batch_roster (
    batch_id        bigint NOT NULL REFERENCES batches(id),
    id_index        bytea NOT NULL,
    PRIMARY KEY (batch_id, id_index)
);

-- The signer sleeps on this channel; a decision to approve wakes it.
CREATE FUNCTION notify_signer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('verify_signer', NEW.public_id);
    RETURN NULL;
END $$;

CREATE TRIGGER batches_approved_notify AFTER UPDATE OF state ON batches
    FOR EACH ROW WHEN (NEW.state = 'approved') EXECUTE FUNCTION notify_signer();

CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
