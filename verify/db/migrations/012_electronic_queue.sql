-- Which signed QR payload an electronic certificate was made for (SHA-256, hex): a correction signs
-- a new payload, and the copy made for the old version must not be served on the new QR's path.
-- Rows stored before this column existed have none and are never served; the queue remakes them.
ALTER TABLE electronic_certificates ADD COLUMN payload_sha256 text;

-- Certificates whose electronic certificate a signer holding the document-signing key is to make
-- or remake: queued by that signer at publication and correction, and whenever a photo is added.
-- A row is marked taken, never deleted (rule 76: nothing pointing at a certificate is deletable);
-- queueing again clears the mark. Signers take rows with FOR UPDATE SKIP LOCKED, so any number may run.
CREATE TABLE electronic_queue (
    number     text PRIMARY KEY REFERENCES certificates(number),
    queued_at  timestamptz NOT NULL DEFAULT now(),
    taken_at   timestamptz
);
CREATE INDEX electronic_queue_waiting ON electronic_queue (queued_at, number) WHERE taken_at IS NULL;
INSERT INTO electronic_queue (number) SELECT number FROM electronic_certificates;
