-- Registry core: institutions, filed scopes, retired codes, batches, certificates, audit log.
-- Runs unchanged on PostgreSQL 15 to 18 (no MERGE ... RETURNING, no PG17-only COPY options).

CREATE TABLE institutions (
    id              bigserial PRIMARY KEY,
    -- The machine key: positions 1-13 of a 22-character number (Y/S + code + province + site) for
    -- 评价机构/站点, or the 8-digit 考核机构 code for 专项 (RULES §2.6, rule 12).
    code            text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('employer', 'social', 'technical_school', 'college',
                                                  'appraisal', 'special_assessor')),
    name            text NOT NULL,
    short_name      text,
    filing_number   text,               -- 备案号 as printed on the filing receipt
    filing_authority text NOT NULL CHECK (filing_authority IN ('national', 'province', 'city', 'county')),
    filing_date     date,
    filing_expires  date,               -- 备案期限
    province_code   text,
    city_code       text,
    parent_code     text,               -- the filed parent institution for a branch / 站点
    address         text,
    phone           text,
    email           text,
    website         text,
    complaint_channel text,             -- 社会监督通道 (rule 50)
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'suspended', 'terminated', 'merged')),
    status_since    date NOT NULL DEFAULT CURRENT_DATE,
    merged_into     text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE institution_status_history (
    id              bigserial PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    status          text NOT NULL,
    effective       date NOT NULL,
    reason          text,
    document_ref    text,
    decided_by      text,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- 废置库: a retired code stays resolvable for history and can never be given to another
-- institution (rules 40-41).
CREATE TABLE retired_codes (
    code            text PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    retired_on      date NOT NULL,
    reason          text NOT NULL
);

CREATE TABLE institution_aliases (
    alias           text PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    note            text
);

CREATE FUNCTION refuse_retired_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM retired_codes r WHERE r.code = NEW.code AND r.institution_id <> NEW.id) THEN
        RAISE EXCEPTION 'institution code % is retired and cannot be reassigned', NEW.code
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'retired_code_reuse';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER institutions_refuse_retired_code
    BEFORE INSERT OR UPDATE OF code ON institutions
    FOR EACH ROW EXECUTE FUNCTION refuse_retired_code();

-- Filed scope (评价范围): one row per (occupation, 工种, level) with its own effective window, so a
-- 增量备案 is a new row and the check "in scope on the issue date" is one indexed lookup (rules 25, 42).
CREATE TABLE scopes (
    id              bigserial PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    occupation_code text NOT NULL,          -- '' for 专项 projects
    occupation_name text NOT NULL,
    job             text NOT NULL DEFAULT '--',
    level           smallint CHECK (level BETWEEN 1 AND 5),   -- NULL for 专项 (no level)
    standard        text NOT NULL DEFAULT '国家职业技能标准',
    effective_from  date NOT NULL,
    effective_to    date,
    CHECK (effective_to IS NULL OR effective_to >= effective_from)
);
CREATE INDEX scopes_institution ON scopes (institution_id, occupation_code, job, level);

CREATE TABLE institution_credentials (
    token_sha256    bytea PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    label           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

CREATE TABLE batches (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    file_sha256     text NOT NULL,
    filename        text NOT NULL,
    file_format     text NOT NULL,
    row_count       integer NOT NULL,
    state           text NOT NULL DEFAULT 'submitted'
                    CHECK (state IN ('submitted', 'approved', 'rejected', 'published')),
    submitted_by    text NOT NULL,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    -- The same file from the same institution is the same batch: re-upload returns the first id.
    UNIQUE (institution_id, file_sha256)
);

CREATE TABLE certificates (
    number          text PRIMARY KEY,
    kind            text NOT NULL,
    -- institution_id and batch_id are checked by certificates_check_parents below: one set-based
    -- check per statement instead of two foreign-key probes per row, which doubled COPY time
    -- (docs/DECISIONS.md D9). Parents can never be deleted (rule 37), so a check on insert suffices.
    institution_id  bigint NOT NULL,
    batch_id        bigint NOT NULL,
    holder_name     text NOT NULL,
    name_key        text NOT NULL,
    id_type         text NOT NULL,
    id_index        bytea NOT NULL,         -- HMAC-SHA-256 blind index; the key is outside the database
    id_cipher       bytea NOT NULL,         -- AES-256-GCM; the key is outside the database
    id_tail         text NOT NULL,          -- last 4 characters only
    occupation_code text NOT NULL,
    occupation_name text NOT NULL,
    job             text NOT NULL DEFAULT '--',
    level           smallint,
    issue_date      date NOT NULL,
    issue_form      text NOT NULL DEFAULT 'paper',
    print_serial    text,
    assessment_method text,
    photo_ref       text,
    extra           jsonb,                  -- 专项 fields: gender, education, score
    -- Public once its batch is published (batches.state): publishing flips one batch row and
    -- never rewrites the certificates themselves.
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'superseded'))
);
CREATE INDEX certificates_id_index ON certificates (id_index);
CREATE INDEX certificates_batch ON certificates (batch_id);

CREATE FUNCTION certificates_check_parents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orphan text;
BEGIN
    SELECT n.number INTO orphan FROM new_rows n
     WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = n.batch_id AND b.institution_id = n.institution_id)
     LIMIT 1;
    IF orphan IS NOT NULL THEN
        RAISE EXCEPTION 'certificate % does not belong to an existing batch of its institution', orphan
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER certificates_parents_on_insert AFTER INSERT ON certificates
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION certificates_check_parents();

-- A certificate never moves to another batch or institution (a correction is a new record).
CREATE FUNCTION certificates_parents_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.batch_id <> OLD.batch_id OR NEW.institution_id <> OLD.institution_id THEN
        RAISE EXCEPTION 'certificate % cannot move to another batch or institution', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER certificates_parents_fixed BEFORE UPDATE OF batch_id, institution_id ON certificates
    FOR EACH ROW EXECUTE FUNCTION certificates_parents_fixed();

-- Nothing published is ever deleted: revocations and corrections are new records (rule 37).
CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted (rule 37); record a revocation or correction instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER certificates_no_delete BEFORE DELETE ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER batches_no_delete BEFORE DELETE ON batches
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER institutions_no_delete BEFORE DELETE ON institutions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- Append-only record of writes and non-public reads (rule 60).
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    action          text NOT NULL,
    target          text,
    detail          jsonb
);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
