"""JSON Schemas of the API's bodies and answers, named once and used by the route table
(``verify.http.routes.Endpoint``) that the API description (``/api/v1/openapi.json``) is built from.
"""

from __future__ import annotations

from typing import Any

from verify.domain.accounts import Role
from verify.domain.batch.lifecycle import BatchState
from verify.domain.events import EVENT_STATUS, PUBLIC_STATUS, REASON_CATEGORIES
from verify.domain.holder_ids import IdType

Schema = dict[str, Any]

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
        "file": {
            "type": "string",
            "format": "binary",
            "description": "CSV or XLSX batch (docs/BATCH-TEMPLATE.md)",
        },
        "roster": {
            "type": "string",
            "format": "binary",
            "description": "the candidate roster filed in advance",
        },
        "plan_ref": STRING,
        "plan_filed_on": DATE,
        "assessed_on": DATE,
        "supervision_report_on": DATE,
    },
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
