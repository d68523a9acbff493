"""JSON Schemas of the public API's answers (verification, lookup, institutions, codes, keys,
health), each mirroring the function that builds it, and the components the API description
(``verify.http.openapi``) names once. The request bodies and the authenticated API's shapes are in
``verify.http.schemas``."""

from __future__ import annotations

from verify.crypto.signing import KEY_STATUSES
from verify.domain.certificate import ISSUE_FORMS
from verify.domain.codes import CodeKind
from verify.domain.events import PUBLIC_STATUS
from verify.domain.holder_ids import IdType
from verify.domain.institution import KIND_LABELS, MERGER_FORMS, QUALITY_GRADES, RECORD_KINDS, STATUS_LABELS
from verify.domain.reference import PUBLISHED_TABLES
from verify.domain.verdicts import CHECK_STATES, FORGED_REASONS, OUTCOMES
from verify.http.schemas import (
    ACCOUNT,
    BATCH,
    BATCH_LIST,
    BATCH_SUMMARY,
    BILINGUAL,
    DATE,
    ERROR,
    EVENT_RESULT,
    IMPORT_RESULT,
    NULLABLE_STRING,
    OBJECT,
    PROBLEM,
    STRING,
    Schema,
)

# ---------------------------------------------------------------------------------------------------
# The public answers. Each mirrors the function that builds it (named in its comment); required are
# the keys that function always writes, and objects stay open to additions.

DATE_TIME: Schema = {"type": "string", "format": "date-time"}
NULLABLE_DATE: Schema = {"type": ["string", "null"], "format": "date"}
NULLABLE_DATE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
BINARY: Schema = {"type": "string", "format": "binary"}
INSTITUTION_STATUS: Schema = {"enum": list(STATUS_LABELS)}
LEVEL: Schema = {  # verify.domain.certificate.level_json
    "type": ["object", "null"],
    "required": ["code", "name"],
    "properties": {"code": {"type": "integer", "minimum": 1, "maximum": 5}, "name": STRING},
}
ISSUER: Schema = {  # verify.domain.certificate.issuer_json (name and status null for an unknown issuer)
    "type": "object",
    "required": ["code", "name", "status"],
    "properties": {
        "code": STRING,
        "name": NULLABLE_STRING,
        "status": {"enum": [*STATUS_LABELS, None]},
    },
}
_PRINTED: Schema = {  # verify.domain.certificate.public_fields
    "number": STRING,
    "holder_name": STRING,
    "id_masked": {"type": "string", "pattern": "^[*]+[^*]{0,4}$", "description": "stars, then the last 4"},
    "occupation": {
        "type": "object",
        "required": ["code", "name"],
        "properties": {"code": NULLABLE_STRING, "name": STRING},
    },
    "job": STRING,
    "level": LEVEL,
    "issue_date": DATE,
    "institution": ISSUER,
}
_PRINTED_REQUIRED = list(_PRINTED)
SCANNED_CERTIFICATE: Schema = {  # verify.domain.verification._printed_fields
    "type": "object",
    "required": [*_PRINTED_REQUIRED, "id_tail", "kid"],
    "properties": {**_PRINTED, "id_tail": STRING, "kid": STRING},
}
_STANDING: Schema = {  # verify.domain.standing.standing_facts: one shape on the QR and lookup answers
    "revocation": {
        "type": "object",
        "required": ["effective", "category", "category_label"],
        "properties": {
            "effective": NULLABLE_DATE,
            "category": NULLABLE_STRING,
            "category_label": {**BILINGUAL, "type": ["object", "null"]},
        },
    },
    "superseded_by": NULLABLE_STRING,
    "effective": NULLABLE_DATE,
    "issuer_since": DATE,
    "merged_into": {
        "type": "object",
        "required": ["code", "name"],
        "properties": {"code": STRING, "name": NULLABLE_STRING},
    },
}
VERIFICATION: Schema = {  # verify.domain.verification.Verification.to_json
    "type": "object",
    "required": ["outcome", "message", "checks", "status_as_of"],
    "properties": {
        "outcome": {"enum": list(OUTCOMES)},
        "message": BILINGUAL,
        "checks": {
            "type": "object",
            "required": ["format", "signature", "status"],
            "properties": {
                "format": {"enum": ["ok", "failed"]},
                "signature": {"enum": list(CHECK_STATES)},
                "status": {"enum": list(CHECK_STATES)},
            },
        },
        "status_as_of": {**NULLABLE_DATE_TIME, "description": "the status view's age; null without one"},
        "reason": {
            "type": "object",
            "description": "why the outcome is forged",
            "required": ["code", "zh", "en"],
            "properties": {"code": {"enum": list(FORGED_REASONS)}, "zh": STRING, "en": STRING},
        },
        "certificate": SCANNED_CERTIFICATE,
        # The outcome's details (verify.domain.verification.judge), at the top level.
        "format_error": NULLABLE_STRING,
        "key": {
            "type": "object",
            "required": ["kid", "compromised_since"],
            "properties": {"kid": STRING, "compromised_since": DATE_TIME},
        },
        **_STANDING,
        "current": {"type": "string", "description": "a corrected certificate's current QR path (/c/...)"},
    },
}


def _links(what: str, *formats: str) -> Schema:  # links a lookup answer carries
    return {"type": "object", "description": f"links to {what}", "required": list(formats),
            "properties": dict.fromkeys(formats, STRING)}  # fmt: skip


LOOKUP_CERTIFICATE: Schema = {  # verify.domain.certificate.published_json, with the view's QR links
    "type": "object",
    "required": [*_PRINTED_REQUIRED, "kind", "id_type", "issue_form", "status", "outcome", "issuer_notice"],
    "properties": {
        **_PRINTED,
        **_STANDING,
        "outcome": {"enum": list(OUTCOMES)},
        "kind": {"enum": [k.value for k in CodeKind]},
        "id_type": {"enum": [t.value for t in IdType]},
        "issue_form": {"enum": list(ISSUE_FORMS)},
        "status": {"enum": list(dict.fromkeys(PUBLIC_STATUS.values()))},
        "issuer_notice": {**BILINGUAL, "type": ["object", "null"]},
        "qr": _links("the QR image, for one hour", "png", "svg"),
        "certificate_files": _links("the printable certificate (ID masked), for one hour", "pdf", "png"),
    },
}
LOOKUP_FOUND: Schema = {  # verify.services.lookup.LookupAnswer.to_json
    "type": "object",
    "required": ["found", "certificates"],
    "properties": {
        "found": {"const": True},
        "certificates": {"type": "array", "minItems": 1, "items": LOOKUP_CERTIFICATE},
    },
}
LOOKUP_NOT_FOUND: Schema = {  # the same answer for an unknown number and a wrong name
    "type": "object",
    "required": ["found", "message"],
    "properties": {"found": {"const": False}, "message": BILINGUAL},
}
_LABELLED: Schema = {
    "type": "object",
    "required": ["code", "zh", "en"],
    "properties": {"code": STRING, "zh": STRING, "en": STRING},
}
_NAMED: Schema = {
    "type": ["object", "null"],
    "required": ["code", "name"],
    "properties": {"code": STRING, "name": STRING},
}
BOOLEAN: Schema = {"type": "boolean"}
_PARTY: Schema = {**_NAMED, "type": "object"}
_STATUS_LABELLED: Schema = {
    **_LABELLED,
    "properties": {**_LABELLED["properties"], "code": INSTITUTION_STATUS},
}


def _list_of(**properties: Schema) -> Schema:
    """An array of objects that always carry every one of ``properties``."""
    return {
        "type": "array",
        "items": {"type": "object", "required": list(properties), "properties": properties},
    }


INSTITUTION: Schema = {  # verify.services.institution_record.InstitutionRecords.institution_view
    "type": "object",
    "required": [
        "code",
        "requested_code",
        "requested_code_retired",
        "name",
        "short_name",
        "kind",
        "filing",
        "province",
        "city",
        "parent_code",
        "contact",
        "status",
        "scope",
        "retired_codes",
        "aliases",
        "complaint_channel",
        "parent",
        "sites",
        "mergers",
        "credit_records",
        "quality_grades",
    ],
    "properties": {
        "code": STRING,
        "requested_code": {"type": "string", "description": "the code asked for: a retired code or an alias"},
        "requested_code_retired": {"type": "boolean"},
        "name": STRING,
        "short_name": NULLABLE_STRING,
        "kind": {**_LABELLED, "properties": {**_LABELLED["properties"], "code": {"enum": list(KIND_LABELS)}}},
        "filing": {
            "type": "object",
            "required": ["number", "authority", "date", "expires"],
            "properties": {
                "number": NULLABLE_STRING,
                "authority": NULLABLE_STRING,
                "authority_label": {**BILINGUAL, "type": ["object", "null"]},
                "date": NULLABLE_DATE,
                "expires": NULLABLE_DATE,
            },
        },
        "province": _NAMED,
        "city": _NAMED,
        "parent_code": NULLABLE_STRING,
        "parent": {**_NAMED, "properties": {"code": STRING, "name": NULLABLE_STRING}},
        # The lifecycle (verify.services.institution_record.InstitutionRecords.institution_view).
        "sites": _list_of(code=STRING, name=STRING, status=_STATUS_LABELLED, since=NULLABLE_DATE),
        "mergers": _list_of(
            form={"enum": list(MERGER_FORMS)},
            form_label=BILINGUAL,
            into=_PARTY,
            institutions={"type": "array", "items": _PARTY},
            effective=DATE,
            scheduled=BOOLEAN,
            document_ref=NULLABLE_STRING,
        ),  # fmt: skip
        "credit_records": _list_of(
            kind={"enum": list(RECORD_KINDS)},
            label=BILINGUAL,
            effective=DATE,
            scheduled=BOOLEAN,
            article=STRING,
            summary=STRING,
            document_ref=NULLABLE_STRING,
            decided_by=STRING,
            rectify_by=NULLABLE_DATE,
        ),  # fmt: skip
        "quality_grades": _list_of(
            year={"type": "integer"},
            grade={"enum": list(QUALITY_GRADES)},
            label=BILINGUAL,
            decided_on=DATE,
            document_ref=STRING,
            decided_by=STRING,
        ),  # fmt: skip
        "contact": {
            "type": "object",
            "required": ["address", "phone", "email", "website"],
            "properties": {k: NULLABLE_STRING for k in ("address", "phone", "email", "website")},
        },
        "status": {
            "type": "object",
            "required": [
                "code",
                "zh",
                "en",
                "since",
                "merged_into",
                "merged_into_name",
                "history",
                "scheduled",
            ],
            "properties": {
                "code": INSTITUTION_STATUS,
                "zh": STRING,
                "en": STRING,
                "since": NULLABLE_DATE,
                "merged_into": NULLABLE_STRING,
                "merged_into_name": NULLABLE_STRING,
                "history": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["status", "label", "effective", "scheduled", "reason", "document_ref"],
                        "properties": {
                            "status": INSTITUTION_STATUS,
                            "label": {**BILINGUAL, "type": ["object", "null"]},
                            "effective": NULLABLE_DATE,
                            "scheduled": BOOLEAN,
                            "reason": NULLABLE_STRING,
                            "document_ref": NULLABLE_STRING,
                        },
                    },
                },
                # decisions recorded ahead of their date, with the public notice
                "scheduled": _list_of(status=INSTITUTION_STATUS, effective=DATE, notice=BILINGUAL),
            },
        },
        "scope": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "occupation_code",
                    "occupation_name",
                    "job",
                    "level",
                    "standard",
                    "effective_from",
                    "effective_to",
                ],
                "properties": {
                    "occupation_code": STRING,
                    "occupation_name": STRING,
                    "job": STRING,
                    "level": LEVEL,
                    "standard": NULLABLE_STRING,
                    "effective_from": NULLABLE_DATE,
                    "effective_to": NULLABLE_DATE,
                },
            },
        },
        "retired_codes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "retired_on", "reason"],
                "properties": {"code": STRING, "retired_on": NULLABLE_DATE, "reason": NULLABLE_STRING},
            },
        },
        "aliases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "note"],
                "properties": {"code": STRING, "note": NULLABLE_STRING},
            },
        },
        "complaint_channel": {
            "type": "object",
            "required": ["institution", "national_hotline", "official_sites"],
            "properties": {
                "institution": NULLABLE_STRING,
                "national_hotline": STRING,
                "official_sites": {"type": "object", "additionalProperties": STRING},
            },
        },
    },
}
INSTITUTION_LIST: Schema = {  # verify.http.api.Api.institutions, from the status view
    "type": "object",
    "required": ["as_of", "institutions"],
    "properties": {
        "as_of": NULLABLE_DATE_TIME,
        "institutions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "name", "status", "since"],
                "properties": {"code": STRING, "name": STRING, "status": INSTITUTION_STATUS, "since": DATE},
            },
        },
    },
}
CODE_CHECK: Schema = {  # verify.domain.codes.CodeCheck.to_json
    "type": "object",
    "required": ["valid", "kind", "canonical", "parts", "problems", "warnings", "reference_version"],
    "properties": {
        "valid": {"type": "boolean"},
        "kind": {"enum": [*(k.value for k in CodeKind), None], "description": "the format it was judged as"},
        "canonical": STRING,
        "parts": {
            "type": "object",
            "description": "the decoded parts: province, city, year, level, serial...",
        },
        "problems": {"type": "array", "items": PROBLEM},
        "warnings": {"type": "array", "items": PROBLEM},
        "reference_version": STRING,
    },
}
CODE_VALID: Schema = {**CODE_CHECK, "properties": {**CODE_CHECK["properties"], "valid": {"const": True}}}
CODE_INVALID: Schema = {
    **CODE_CHECK,
    "properties": {
        **CODE_CHECK["properties"],
        "valid": {"const": False},
        "problems": {"type": "array", "minItems": 1, "items": PROBLEM},
    },
}
_HEALTH_VIEW: Schema = {
    "type": "object",
    "required": ["as_of", "fresh", "worker"],
    "properties": {"as_of": NULLABLE_DATE_TIME, "fresh": {"type": "boolean"}, "worker": {"type": "integer"}},
}
HEALTH_OK: Schema = {  # verify.http.api.Api.healthz
    "type": "object",
    "required": ["ok", "database", "status_view"],
    "properties": {"ok": {"const": True}, "database": {"const": "ok"}, "status_view": _HEALTH_VIEW},
}
HEALTH_DOWN: Schema = {
    "type": "object",
    "required": ["ok", "database", "status_view"],
    "properties": {"ok": {"const": False}, "database": {"const": "unavailable"}, "status_view": _HEALTH_VIEW},
}
# A 503 of /healthz is its own answer (the database is down) or the shedder's Error (overloaded).
HEALTH_UNAVAILABLE: Schema = {"anyOf": [HEALTH_DOWN, ERROR]}
API_INDEX: Schema = {  # verify.http.api.Api.index
    "type": "object",
    "required": ["service", "description", "api", "reference_version"],
    "properties": {
        "service": {"const": "verify"},
        "description": BILINGUAL,
        "api": {"type": "object", "additionalProperties": STRING, "description": "name -> 'METHOD /path'"},
        "reference_version": STRING,
    },
}
OPENAPI_DOCUMENT: Schema = {
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}, "info": OBJECT, "paths": OBJECT},
}
REFERENCE_NAME: Schema = {"enum": list(PUBLISHED_TABLES)}
REFERENCE_INDEX: Schema = {  # verify.http.api.Api.reference_index
    "type": "object",
    "required": ["reference_version", "tables"],
    "properties": {
        "reference_version": STRING,
        "tables": {
            "type": "object",
            "required": list(PUBLISHED_TABLES),
            "additionalProperties": STRING,
            "description": "table name -> its URL",
        },
    },
}
REFERENCE_TABLE: Schema = {  # verify/domain/data/<name>, byte for byte
    "type": "object",
    "required": ["version", "source"],
    "properties": {"version": STRING, "source": STRING},
}
JWK: Schema = {  # verify.crypto.signing.public_jwk (RFC 8037)
    "type": "object",
    "required": ["kty", "crv", "x", "kid", "alg", "use", "status"],
    "properties": {
        "kty": {"const": "OKP"},
        "crv": {"const": "Ed25519"},
        "x": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$", "description": "the public key, base64url"},
        "kid": STRING,
        "alg": {"const": "EdDSA"},
        "use": {"const": "sig"},
        "nbf": {"type": "integer", "description": "valid from (Unix seconds)"},
        "exp": {"type": "integer", "description": "valid until (Unix seconds)"},
        "status": {"enum": sorted(KEY_STATUSES)},
    },
}
JWKS: Schema = {
    "type": "object",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": JWK}},
}

PAYLOAD_SEGMENT: Schema = {
    "type": "string",
    "minLength": 1,
    "description": "the Base32 text of a QR's /c/ URL (docs/QR-FORMAT.md); any text is answered, "
    "a malformed one as forged",
}
QR_LINK_EXPIRES: Schema = {
    "type": "integer",
    "description": "the link's expiry (Unix seconds), from a lookup answer",
}
QR_LINK_TOKEN: Schema = {
    "type": "string",
    "maxLength": 200,
    "description": "the link's token, from a lookup answer",
}
NO_BODY: Schema = {}  # of a 304 (Not Modified) answer, which carries none

# The schemas the API description names once (``components/schemas``) and references by ``$ref``.
COMPONENTS: dict[str, Schema] = {
    "Error": ERROR,
    "Problem": PROBLEM,
    "Bilingual": BILINGUAL,
    "Level": LEVEL,
    "Issuer": ISSUER,
    "Verification": VERIFICATION,
    "ScannedCertificate": SCANNED_CERTIFICATE,
    "LookupFound": LOOKUP_FOUND,
    "LookupNotFound": LOOKUP_NOT_FOUND,
    "LookupCertificate": LOOKUP_CERTIFICATE,
    "Institution": INSTITUTION,
    "InstitutionList": INSTITUTION_LIST,
    "CodeValid": CODE_VALID,
    "CodeInvalid": CODE_INVALID,
    "HealthOk": HEALTH_OK,
    "HealthDown": HEALTH_DOWN,
    "ApiIndex": API_INDEX,
    "ReferenceIndex": REFERENCE_INDEX,
    "ReferenceTable": REFERENCE_TABLE,
    "Jwks": JWKS,
    "Jwk": JWK,
    "Account": ACCOUNT,
    "Batch": BATCH,
    "BatchSummary": BATCH_SUMMARY,
    "BatchList": BATCH_LIST,
    "ImportResult": IMPORT_RESULT,
    "EventResult": EVENT_RESULT,
}
