-- Holder photos, uploaded by the institution with a batch: validated and re-encoded before they get
-- here (verify.render.photo), kept out of every public answer, printed only on the print run.
CREATE TABLE certificate_photos (
    number      text PRIMARY KEY REFERENCES certificates(number),
    jpeg        bytea NOT NULL,
    sha256      text NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);

-- Electronic certificates: PDFs signed (PAdES) by the signer, which holds the document-signing
-- key; the web workers only serve these bytes (docs/CERTIFICATES.md).
CREATE TABLE electronic_certificates (
    number        text PRIMARY KEY REFERENCES certificates(number),
    pdf           bytea NOT NULL,
    sha256        text NOT NULL,
    photo_sha256  text,
    signed_at     timestamptz NOT NULL DEFAULT now()
);
