-- The institution lifecycle (RULES §7.4, rules 40, 41, 49-53): mergers as one recorded decision,
-- public credit records (警告, 诚信不良档案), the 鉴定机构 quality grade per year, and aliases that are
-- withdrawn rather than deleted. Nothing here is ever deleted (全程留痕, RULES §7.3 rule 37).

-- One merger decision: the absorbing (并入) or newly filed (合并新设) institution, and its date.
-- Each merged institution's status history row names the merger it belongs to, so a merger's
-- parties and an institution's merger are both one indexed read.
CREATE TABLE institution_mergers (
    id              bigserial PRIMARY KEY,
    form            text NOT NULL CHECK (form IN ('absorption', 'new_entity')),
    into_id         bigint NOT NULL REFERENCES institutions(id),
    effective       date NOT NULL,
    reason          text NOT NULL,
    document_ref    text,
    decided_by      text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX institution_mergers_into ON institution_mergers (into_id);

ALTER TABLE institution_status_history ADD COLUMN merger_id bigint REFERENCES institution_mergers(id);
CREATE INDEX institution_status_history_merger ON institution_status_history (merger_id)
    WHERE merger_id IS NOT NULL;
-- The page of an institution lists its decisions, and every upload reads them (rule 39).
CREATE INDEX institution_status_history_institution ON institution_status_history (institution_id, id);
-- The parent's page lists its 站点 (rule 50).
CREATE INDEX institutions_parent ON institutions (parent_code) WHERE parent_code IS NOT NULL;

-- Public credit records (rules 49, 51): a warning or an entry in the 诚信不良档案, with the article,
-- the deciding body and the document; ``facts`` stay internal. A record is never changed: a later
-- decision is a new record.
CREATE TABLE institution_records (
    id              bigserial PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    kind            text NOT NULL CHECK (kind IN ('warning', 'credit_bad')),
    effective       date NOT NULL,
    article         text NOT NULL,
    summary         text NOT NULL,          -- what the public sees
    facts           text,                   -- internal
    document_ref    text,
    decided_by      text NOT NULL,          -- the deciding body
    rectify_by      date,                   -- 限期整改 deadline of a warning
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (rectify_by IS NULL OR rectify_by >= effective)
);
CREATE INDEX institution_records_institution ON institution_records (institution_id, effective);

-- The 鉴定机构 quality grade per assessment year (rule 53); a regrading of a year is a new row, the
-- latest recorded is the year's grade.
CREATE TABLE institution_grades (
    id              bigserial PRIMARY KEY,
    institution_id  bigint NOT NULL REFERENCES institutions(id),
    year            smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    grade           text NOT NULL CHECK (grade IN ('excellent', 'good', 'basic', 'unqualified')),
    decided_on      date NOT NULL,
    document_ref    text NOT NULL,
    decided_by      text NOT NULL,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX institution_grades_institution ON institution_grades (institution_id, year);

-- Aliases are history (rule 52): a wrong one is withdrawn (it stops resolving), never deleted.
ALTER TABLE institution_aliases
    ADD COLUMN added_on date,
    ADD COLUMN added_by text,
    ADD COLUMN withdrawn_on date,
    ADD COLUMN withdrawn_reason text,
    ADD CHECK ((withdrawn_on IS NULL) = (withdrawn_reason IS NULL));

CREATE FUNCTION institution_records_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never changed or deleted (rules 49-53); record a new decision instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER institution_mergers_kept BEFORE UPDATE OR DELETE ON institution_mergers
    FOR EACH STATEMENT EXECUTE FUNCTION institution_records_are_kept();
CREATE TRIGGER institution_records_kept BEFORE UPDATE OR DELETE ON institution_records
    FOR EACH STATEMENT EXECUTE FUNCTION institution_records_are_kept();
CREATE TRIGGER institution_grades_kept BEFORE UPDATE OR DELETE ON institution_grades
    FOR EACH STATEMENT EXECUTE FUNCTION institution_records_are_kept();
CREATE TRIGGER institution_status_history_no_delete BEFORE DELETE ON institution_status_history
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER retired_codes_no_delete BEFORE DELETE ON retired_codes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER institution_aliases_no_delete BEFORE DELETE ON institution_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- The web workers' status view names the institution a merged issuer merged into (rule 41): a
-- change of it reaches them like a change of status or name (migration 002's trigger).
CREATE TRIGGER institutions_merged_into_notify AFTER UPDATE OF merged_into ON institutions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_status();
