-- Legacy 职业资格证书 (rule 44) and candidate bans (rule 46).
--
-- Legacy certificates need no new column: they are certificates rows of kind 'qualification',
-- imported through a batch like any other and reviewed before they are published; publication
-- signs no QR for them (docs/DECISIONS.md D49-D50).

-- A candidate barred from assessments under 人社职司便函〔2021〕57号 附件2 第六、七条: the rest of that
-- year, 2 years or 5 years. Keyed by the blind index of the person's ID (HMAC-SHA-256, the key is
-- outside the database), never the ID itself. Records are never changed or deleted: a 复核 that
-- lifts a ban is a new record pointing at it (第十九、二十条: the decision file is kept).
CREATE TABLE candidate_bans (
    id              bigserial PRIMARY KEY,
    id_index        bytea NOT NULL CHECK (length(id_index) = 32),
    action          text NOT NULL CHECK (action IN ('ban', 'reversal')),
    term            text CHECK (term IN ('rest_of_year', 'two_years', 'five_years')),
    starts_on       date,
    ends_on         date,                   -- inclusive: the last day the candidate is barred
    article         text NOT NULL,          -- the article applied, e.g. 第七条（四）
    reason          text,                   -- facts, internal
    document_ref    text,                   -- 文号 of the written decision
    decided_by      text NOT NULL,          -- 评价机构 or 监管部门
    decided_on      date NOT NULL,
    reverses        bigint REFERENCES candidate_bans(id),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (action <> 'ban' OR (term IS NOT NULL AND starts_on IS NOT NULL AND ends_on >= starts_on
                               AND reverses IS NULL)),
    CHECK (action <> 'reversal' OR (reverses IS NOT NULL AND term IS NULL AND starts_on IS NULL
                                    AND ends_on IS NULL))
);
CREATE INDEX candidate_bans_id_index ON candidate_bans (id_index);
-- A ban is lifted once; a second reversal of it would be a second truth.
CREATE UNIQUE INDEX candidate_bans_one_reversal ON candidate_bans (reverses) WHERE reverses IS NOT NULL;

CREATE FUNCTION candidate_bans_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'candidate_bans rows are never changed or deleted (rule 46); record a reversal instead'
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER candidate_bans_kept BEFORE UPDATE OR DELETE ON candidate_bans
    FOR EACH STATEMENT EXECUTE FUNCTION candidate_bans_are_kept();
