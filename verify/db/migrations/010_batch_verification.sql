-- Batch verification (RULES §7 rules 54-57, 60; docs/RECEIPT-FORMAT.md).

-- Every key the web processes have signed receipts with, so that the JWKS keeps publishing a key
-- after it is replaced and old receipts stay checkable. A receipt key can sign nothing else: it is
-- not in signing_keys, so a certificate signed with it is answered as forged.
CREATE TABLE receipt_keys (
    kid         text PRIMARY KEY,
    public_key  bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    first_used  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER receipt_keys_no_delete BEFORE DELETE OR TRUNCATE ON receipt_keys
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- Rows verified per account per day (China time), for the daily allowance.
CREATE TABLE verification_usage (
    account_id  bigint NOT NULL REFERENCES accounts(id),
    day         date NOT NULL,
    rows        integer NOT NULL CHECK (rows >= 0),
    PRIMARY KEY (account_id, day)
);

-- The receipts given, so that the printed receipt's QR opens it again (/receipts/<id>). A receipt
-- holds no row: counts, digests, the account's login and the signature.
CREATE TABLE verification_receipts (
    receipt_id  text PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts(id),
    issued_at   timestamptz NOT NULL,
    receipt     jsonb NOT NULL
);
CREATE INDEX verification_receipts_account ON verification_receipts (account_id, issued_at);
CREATE TRIGGER verification_receipts_no_delete BEFORE DELETE OR TRUNCATE ON verification_receipts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
