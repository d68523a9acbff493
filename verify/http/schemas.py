"""JSON Schemas of the API's bodies and answers, named once and used by the route table
(``verify.http.routes.Endpoint``) that the API description (``/api/v1/openapi.json``) is built from.
"""

from __future__ import annotations

from typing import Any

from verify.domain.accounts import Role
from verify.domain.batch.lifecycle import BatchState
from verify.domain.events import EVENT_STATUS, PUBLIC_STATUS, REASON_CATEGORIES
from verify.domain.holder_ids import IdType
from verify.domain.institution import (
    FILING_AUTHORITY_LABELS,
    KIND_LABELS,
    MERGER_FORMS,
    QUALITY_GRADES,
    RECORD_KINDS,
)

Schema = dict[str, Any]


def file_field(description: str) -> Schema:
    """A multipart form's file part."""
    return {"type": "string", "format": "binary", "description": description}


STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
DATE: Schema = {"type": "string", "format": "date"}
OBJECT: Schema = {"type": "object"}

BILINGUAL: Schema = {
    "type": "object",
    "required": ["zh", "en"],
    "properties": {"zh": STRING, "en": STRING},
}
PROBLEM: Schema = {
    "type": "object",
    "required": ["code", "message_zh", "message_en"],
    "properties": {
        "code": STRING,
        "message_zh": STRING,
        "message_en": STRING,
        "position": {"type": "integer"},
        "found": STRING,
        "allowed": STRING,
        "line": {"type": "integer"},
        "column": STRING,
        "rule": {"type": "integer"},
        "severity": {"enum": ["error", "warning"]},
    },
}
ERROR: Schema = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "stable reason slug"},
        "message": BILINGUAL,
        "problems": {"type": "array", "items": PROBLEM},
        "details": OBJECT,
    },
}

BATCH_ID: Schema = {"type": "string", "maxLength": 40}
BATCH_STATE: Schema = {"enum": [s.value for s in BatchState]}
BATCH_STATE_FILTER: Schema = {
    "enum": [*BATCH_STATE["enum"], ""],
    "description": "only the batches in this state; empty (or absent): every state",
}
PLAN: Schema = {
    "type": ["object", "null"],
    "properties": {
        "plan_ref": NULLABLE_STRING,
        "plan_filed_on": NULLABLE_STRING,
        "assessed_on": NULLABLE_STRING,
        "supervision_report_on": NULLABLE_STRING,
        "roster_size": {"type": ["integer", "null"]},
    },
}
_BATCH_PROPERTIES: Schema = {
    "batch_id": STRING,
    "institution": STRING,
    "institution_name": STRING,
    "state": BATCH_STATE,
    "rows": {"type": "integer"},
    "filename": STRING,
    "sha256": STRING,
    "submitted_by": STRING,
    "submitted_at": STRING,
    "plan": PLAN,
    "reviewed_by": NULLABLE_STRING,
    "reviewed_at": NULLABLE_STRING,
    "decision": {"type": ["object", "null"]},
    "published_at": NULLABLE_STRING,
}
BATCH_SUMMARY: Schema = {
    "type": "object",
    "required": ["batch_id", "state", "rows"],
    "properties": {**_BATCH_PROPERTIES, "warnings": {"type": "integer"}},
}
BATCH: Schema = {
    "type": "object",
    "required": ["batch_id", "state", "rows", "warnings"],
    "properties": {**_BATCH_PROPERTIES, "warnings": {"type": "array", "items": PROBLEM}},
}
BATCH_LIST: Schema = {
    "type": "object",
    "required": ["batches"],
    "properties": {"batches": {"type": "array", "items": BATCH_SUMMARY}},
}
IMPORT_RESULT: Schema = {
    "type": "object",
    "required": ["batch_id", "institution", "state", "rows", "duplicate_upload", "warnings"],
    "properties": {
        "batch_id": STRING,
        "institution": STRING,
        "state": BATCH_STATE,
        "rows": {"type": "integer"},
        "duplicate_upload": {"type": "boolean"},
        "warnings": {"type": "array", "items": PROBLEM},
    },
}
UPLOAD_FORM: Schema = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": file_field("CSV or XLSX batch (docs/BATCH-TEMPLATE.md)"),
        "roster": file_field("the candidate roster filed in advance"),
        "plan_ref": STRING,
        "plan_filed_on": DATE,
        "assessed_on": DATE,
        "supervision_report_on": DATE,
    },
}
PHOTO_FORM: Schema = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": file_field(
            "ZIP of JPEG/PNG photos named by certificate or ID number, or with a photo list "
            "(docs/CERTIFICATES.md); the raw ZIP as the body works too"
        ),
    },
}
PHOTOS_RESULT: Schema = {
    "type": "object",
    "required": ["photos"],
    "properties": {"photos": {"type": "integer", "description": "photos stored"}},
}
REASON_BODY: Schema = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 500}},
}


# A text field the view requires (``text(..., required=True)``): an empty string counts as missing.
def _required_text(limit: int) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": limit}


LOGIN: Schema = {"type": "string", "minLength": 1, "maxLength": 64}
DISABLE_BODY: Schema = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {**_required_text(500), "pattern": "\\S"}},
}
NOTE_BODY: Schema = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 500}}}
REJECT_BODY: Schema = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": 500},
        "rows": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["line", "reason"],
                "properties": {
                    "line": {"type": "integer", "minimum": 2, "description": "the row's line in the file"},
                    "reason": {**_required_text(500), "pattern": "\\S"},
                },
            },
        },
    },
    # A reason for the whole batch, or reasons for rows.
    "anyOf": [
        {"required": ["reason"], "properties": {"reason": {"pattern": "\\S"}}},
        {"required": ["rows"], "properties": {"rows": {"minItems": 1}}},
    ],
}
EVENT_BODY: Schema = {
    "type": "object",
    "required": ["reason_category", "reason"],
    "properties": {
        "event": {"enum": list(EVENT_STATUS)},
        "effective": DATE,
        "reason_category": {"enum": list(REASON_CATEGORIES)},
        "reason": _required_text(500),
        "decided_by": {"type": "string", "maxLength": 200},
        "document_ref": {"type": "string", "maxLength": 200},
        "served": {"type": "string", "maxLength": 200},
        "superseded_by": {"type": "string", "maxLength": 200},
    },
}
EVENT_RESULT: Schema = {  # verify.services.publication.Publication.certificate_event
    "type": "object",
    "required": ["number", "status", "history"],
    "properties": {
        "number": STRING,
        "status": {"enum": list(PUBLIC_STATUS)},
        "history": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event", "effective", "recorded_at"],
                "properties": {
                    "event": STRING,
                    "effective": NULLABLE_STRING,
                    "reason_category": NULLABLE_STRING,
                    "decided_by": NULLABLE_STRING,
                    "document_ref": NULLABLE_STRING,
                    "superseded_by": NULLABLE_STRING,
                    "recorded_at": STRING,
                },
            },
        },
    },
}
_DECISION_FIELDS: Schema = {  # verify.http.review_api.decision_from
    "effective": DATE,
    "reason_category": {"enum": list(REASON_CATEGORIES)},
    "reason": _required_text(500),
    "decided_by": {"type": "string", "maxLength": 200},
    "document_ref": {"type": "string", "maxLength": 200},
    "served": {"type": "string", "maxLength": 200},
}
BATCH_REVOCATION_BODY: Schema = {
    "type": "object",
    "description": "without numbers: the whole batch; with numbers: those certificates of the batch",
    "required": ["reason_category", "reason"],
    "properties": {
        **_DECISION_FIELDS,
        "numbers": {"type": "array", "maxItems": 10_000, "items": {"type": "string", "maxLength": 40}},
    },
}
RANGE_REVOCATION_BODY: Schema = {
    "type": "object",
    "description": "every published certificate the institution issued in the date range",
    "required": ["reason_category", "reason", "issued_from", "issued_to"],
    "properties": {**_DECISION_FIELDS, "issued_from": DATE, "issued_to": DATE},
}
DECISION_RESULT: Schema = {  # verify.services.decisions.Decisions.decide
    "type": "object",
    "required": ["decision_id", "event", "scope", "effective", "certificates", "unchanged", "unpublished"],
    "properties": {
        "decision_id": STRING,
        "event": {"enum": ["revoked", "reinstated"]},
        "scope": OBJECT,
        "effective": DATE,
        "certificates": {"type": "integer", "minimum": 0},
        "unchanged": {"type": "integer", "minimum": 0},
        "unpublished": {"type": "integer", "minimum": 0},
    },
}
CHANGE_REQUEST_BODY: Schema = {  # verify.http.review_api.ReviewApi.request_change
    "type": "object",
    "required": ["kind", "reason"],
    "properties": {
        "kind": {"enum": ["correction", "reissue"]},
        "reason": _required_text(500),
        "changes": {
            "type": "object",
            "description": "correction: the new holder_name, occupation_name or job",
            "properties": {
                k: {"type": "string", "maxLength": 200} for k in ("holder_name", "occupation_name", "job")
            },
            "additionalProperties": {"type": "string", "maxLength": 200},
        },
        "print_serial": {
            "type": "string",
            "maxLength": 40,
            "description": "re-issue: the new paper's 印制流水码",
        },
    },
}
REQUEST_DECISION_BODY: Schema = {
    "type": "object",
    "required": ["approve"],
    "properties": {"approve": {"type": "boolean"}, "note": {"type": "string", "maxLength": 500}},
}
_CHANGE_REQUEST: Schema = {  # verify.db.requests.request_json
    "type": "object",
    "required": ["public_id", "kind", "number", "changes", "reason", "state", "requested_by", "requested_at"],
    "properties": {
        "public_id": STRING,
        "kind": {"enum": ["correction", "reissue"]},
        "number": STRING,
        "changes": OBJECT,
        "previous": {"type": ["object", "null"]},
        "reason": STRING,
        "state": {"enum": ["submitted", "approved", "rejected", "applied"]},
        "requested_by": STRING,
        "requested_at": STRING,
        "reviewed_by": NULLABLE_STRING,
        "decided_at": NULLABLE_STRING,
        "decision_note": NULLABLE_STRING,
        "applied_at": NULLABLE_STRING,
    },
}
CHANGE_REQUEST_RESULT: Schema = {
    "type": "object",
    "required": ["request"],
    "properties": {"request": _CHANGE_REQUEST},
}
CHANGE_REQUESTS: Schema = {
    "type": "object",
    "required": ["number", "requests"],
    "properties": {"number": STRING, "requests": {"type": "array", "items": _CHANGE_REQUEST}},
}
STATUS_BODY: Schema = {
    "type": "object",
    "required": ["status", "reason"],
    "properties": {
        "status": {"enum": ["suspended", "active"]},
        "effective": DATE,
        "reason": _required_text(500),
        "document_ref": {"type": "string", "maxLength": 200},
    },
}
# The institution lifecycle (verify.http.review_api, verify.services.institutions; rules 40-53).
TERMINATION_BODY: Schema = {
    "type": "object",
    "required": ["reason"],
    "properties": {
        "effective": DATE,
        "reason": _required_text(500),
        "document_ref": {"type": "string", "maxLength": 200},
    },
}
_FILING_TEXT: dict[str, int] = {  # verify.domain.institution.FILING_TEXT_FIELDS, but name and parent
    "short_name": 100, "filing_number": 100, "address": 300, "phone": 50, "email": 200, "website": 300,
    "complaint_channel": 300,
}  # fmt: skip
NEW_INSTITUTION: Schema = {
    "type": "object",
    "description": "the new institution of a merger (合并新设), filed under the path's code",
    "required": ["kind", "name"],
    "properties": {
        "kind": {"enum": list(KIND_LABELS)},
        "name": _required_text(200),
        "filing_authority": {"enum": list(FILING_AUTHORITY_LABELS)},
        "filing_date": DATE,
        "filing_expires": DATE,
        **{k: {"type": "string", "maxLength": n} for k, n in _FILING_TEXT.items()},
    },
}
MERGER_BODY: Schema = {
    "type": "object",
    "description": "merge these institutions into the path's institution (absorption), or into a new one"
    " filed under the path's code (new_entity with new_institution)",
    "required": ["institutions", "reason"],
    "properties": {
        "institutions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {"type": "string", "maxLength": 40},
        },
        "form": {"enum": list(MERGER_FORMS)},
        "new_institution": NEW_INSTITUTION,
        "effective": DATE,
        "reason": _required_text(500),
        "document_ref": {"type": "string", "maxLength": 200},
    },
}
RECORD_BODY: Schema = {
    "type": "object",
    "required": ["article", "summary", "decided_by"],
    "properties": {
        "kind": {"enum": list(RECORD_KINDS)},
        "effective": DATE,
        "article": _required_text(200),
        "summary": _required_text(500),
        "facts": {"type": "string", "maxLength": 2000},
        "document_ref": {"type": "string", "maxLength": 200},
        "decided_by": _required_text(200),
        "rectify_by": DATE,
    },
}
GRADE_BODY: Schema = {
    "type": "object",
    "required": ["year", "grade", "document_ref", "decided_by"],
    "properties": {
        "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
        "grade": {"enum": [*QUALITY_GRADES, *(zh for zh, _ in QUALITY_GRADES.values())]},
        "decided_on": DATE,
        "document_ref": _required_text(200),
        "decided_by": _required_text(200),
    },
}
ALIAS_BODY: Schema = {
    "type": "object",
    "required": ["alias"],
    "properties": {"alias": _required_text(40), "note": {"type": "string", "maxLength": 200}},
}
ALIAS_WITHDRAW_BODY: Schema = {
    "type": "object",
    "required": ["alias", "reason"],
    "properties": {"alias": _required_text(40), "reason": _required_text(500)},
}
ACCOUNT: Schema = {
    "type": "object",
    "required": ["login", "role", "display_name"],
    "properties": {
        "login": STRING,
        "role": {"enum": [r.value for r in Role]},
        "display_name": STRING,
        "institution": NULLABLE_STRING,
        "jurisdiction": NULLABLE_STRING,
        "manager": {"type": "boolean"},
        "parent": NULLABLE_STRING,
        "created_by": STRING,
        "created_at": STRING,
        "disabled_at": NULLABLE_STRING,
        "password": {"type": "boolean"},
    },
}
ACCOUNT_BODY: Schema = {
    "type": "object",
    "required": ["login", "role", "display_name"],
    "properties": {
        "login": _required_text(64),
        "role": {"enum": [r.value for r in Role]},
        "display_name": _required_text(100),
        "password": {"type": "string", "maxLength": 256},
        "institution": {"type": "string", "maxLength": 40},
        "jurisdiction": {"type": "string", "maxLength": 4},
        "manager": {"type": "boolean"},
    },
}
# The demo data's (`make run`): a Henan 职业技能等级证书 number and its institution.
EXAMPLE_NUMBER = "Y000041010012224000007"
EXAMPLE_INSTITUTION = "S000041010012"
CODE_INPUT: Schema = {
    "type": "string",
    "maxLength": 200,
    "description": "a certificate number or an institution code, as typed (spaces, hyphens, full-width)",
    "examples": [EXAMPLE_NUMBER, EXAMPLE_INSTITUTION, "Y-0000-4101-0012-2240-00007"],
}
INSTITUTION_CODE: Schema = {
    "type": "string",
    "maxLength": 200,
    "description": "the institution's code, a retired code of it or an alias",
    "examples": [EXAMPLE_INSTITUTION],
}
LOOKUP_BODY: Schema = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "number": {"type": "string", "maxLength": 200, "description": "the certificate number"},
        "id_number": {"type": "string", "maxLength": 200, "description": "or the holder's ID number"},
        "id_type": {"enum": [t.value for t in IdType], "default": IdType.RESIDENT.value},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
    },
    "examples": [{"number": EXAMPLE_NUMBER, "name": "张三"}],
    # A number or an ID number: the number is used when both are given.
    "anyOf": [
        {"required": ["number"], "properties": {"number": {"minLength": 1}}},
        {"required": ["id_number"], "properties": {"id_number": {"minLength": 1}}},
    ],
}
