-- Decisions over many certificates (RULES rule 35): one record per decision, with what rule 36
-- asks to record (deciding body, date, article and facts, document, how served) kept once, and
-- the scope it covered; every certificate it changed gets its own event pointing at it, so a
-- certificate's history and a decision's reach are both one indexed read. A 复核 reversal is a
-- new decision over the earlier one's certificates: nothing is ever deleted (rule 37).
CREATE TABLE certificate_decisions (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    event           text NOT NULL CHECK (event IN ('revoked', 'superseded', 'reinstated')),
    scope           jsonb NOT NULL,         -- the scope as given (verify.domain.events.Scope.to_json)
    effective       date NOT NULL,
    reason_category text NOT NULL,
    reason          text NOT NULL,          -- article and facts (internal)
    decided_by      text NOT NULL,
    document_ref    text,
    served          text,
    reverses        bigint REFERENCES certificate_decisions(id),
    certificates    integer NOT NULL,       -- how many certificates it changed
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE certificate_events ADD COLUMN decision_id bigint REFERENCES certificate_decisions(id);
CREATE INDEX certificate_events_decision ON certificate_events (decision_id, number) WHERE decision_id IS NOT NULL;
-- Revoking everything an institution issued in a date range reads its certificates by issue date.
CREATE INDEX certificates_institution_issued ON certificates (institution_id, issue_date);

CREATE TRIGGER certificate_decisions_no_delete BEFORE DELETE ON certificate_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- TRUNCATE fires no DELETE trigger: the tables rule 37 keeps forever refuse it too, and the signed
-- payloads are replaced on re-signing, never deleted.
CREATE TRIGGER certificates_no_truncate BEFORE TRUNCATE ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER batches_no_truncate BEFORE TRUNCATE ON batches
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER institutions_no_truncate BEFORE TRUNCATE ON institutions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER certificate_events_no_truncate BEFORE TRUNCATE ON certificate_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER certificate_decisions_no_truncate BEFORE TRUNCATE ON certificate_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER certificate_signatures_no_delete BEFORE DELETE OR TRUNCATE ON certificate_signatures
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- Corrections and re-issues (RULES rule 43), requested online by the institution and decided by a
-- reviewer. A correction is a new signed version of the same number: the version it replaces is
-- kept (its printed fields and its signed payload), and an old QR then answers "superseded" with
-- a link to the current one. A re-issue (补发/换发) keeps the number and the QR, and records the new
-- print serial (印制流水码) and why.
ALTER TABLE certificates ADD COLUMN version integer NOT NULL DEFAULT 1;
CREATE INDEX certificates_corrected ON certificates (number) WHERE version > 1;

CREATE TABLE certificate_requests (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('correction', 'reissue')),
    number          text NOT NULL REFERENCES certificates(number),
    changes         jsonb NOT NULL,         -- correction: the new printed values; re-issue: the new print serial
    previous        jsonb,                  -- the values they replace, written when applied
    reason          text NOT NULL,
    state           text NOT NULL DEFAULT 'submitted'
                    CHECK (state IN ('submitted', 'approved', 'rejected', 'applied')),
    requested_by    text NOT NULL,
    requested_account bigint,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    reviewed_by     text,
    reviewed_account bigint,
    decided_at      timestamptz,
    decision_note   text,
    applied_at      timestamptz
);
-- One open request per certificate: two corrections in flight would race for the next version.
CREATE UNIQUE INDEX certificate_requests_open ON certificate_requests (number)
    WHERE state IN ('submitted', 'approved');
CREATE INDEX certificate_requests_approved ON certificate_requests (id) WHERE state = 'approved';

CREATE TABLE certificate_versions (
    number          text NOT NULL REFERENCES certificates(number),
    version         integer NOT NULL,
    fields          jsonb NOT NULL,         -- that version's printed fields
    payload         bytea,                  -- its signed QR payload
    request_id      bigint NOT NULL REFERENCES certificate_requests(id),
    replaced_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (number, version)
);

CREATE TRIGGER certificate_requests_no_delete BEFORE DELETE OR TRUNCATE ON certificate_requests
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER certificate_versions_no_delete BEFORE DELETE OR TRUNCATE ON certificate_versions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
-- A new version changes what an old QR answers: the web workers reload their status view.
CREATE TRIGGER certificates_version_notify AFTER UPDATE OF version ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION notify_status();

-- An approved correction wakes the signer, as an approved batch does.
CREATE FUNCTION notify_signer_of_correction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'approved' AND NEW.kind = 'correction' THEN
        PERFORM pg_notify('verify_signer', NEW.public_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER certificate_requests_signer_notify AFTER UPDATE OF state ON certificate_requests
    FOR EACH ROW EXECUTE FUNCTION notify_signer_of_correction();
