"""docs/QR-FORMAT.md is enough to build a verifier: its golden vector is rebuilt here from the
document's own numbers with an encoder written from its §2 table (not the service's code) and
with `cryptography` (not the service's PyNaCl), and must equal both the document and the code;
its tables of levels, outcomes, check states and error slugs must equal the code's."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verify.crypto import signing
from verify.domain import payload
from verify.domain.reference import LEVEL_NAMES, LEVEL_NAMES_EN
from verify.domain.verdicts import CHECK_STATES, FORGED_REASONS, OUTCOMES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "QR-FORMAT.md").read_text(encoding="utf-8")
VECTORS = json.loads((ROOT / "tests" / "assets" / "payload_vectors.json").read_text(encoding="utf-8"))


def _section(title: str) -> str:
    start = DOC.index(title)
    following = re.search(r"^#{2,3} ", DOC[start + len(title) :], re.M)
    return DOC[start : start + len(title) + (following.start() if following else len(DOC))]


def _golden() -> dict[str, str]:
    block = re.search(r"```text\n(.*?)```", _section("### Golden vector"), re.S)
    assert block is not None
    return dict(line.split(": ", 1) for line in block.group(1).strip().splitlines())


G = _golden()


# ------------------------------------------------------------------ an encoder written from §2


def _doc_body(g: dict[str, str]) -> bytes:
    number = g["number"]
    form = {"Y": 0, "S": 1}.get(number[0], 2)
    digits = number[1:] if form < 2 else number
    out = bytearray([1 << 4 | form << 2])  # version 1 | number form | reserved 0
    out += int(g["kid"], 16).to_bytes(2, "big")
    out += int(digits).to_bytes(9 if form < 2 else 7, "big")
    tail = 0
    for ch in g["id_tail"]:
        tail = tail * 36 + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(ch)
    out += tail.to_bytes(3, "big")
    out += (int(g["occupation_code"].replace("-", "")) if g["occupation_code"] else 0).to_bytes(3, "big")
    out += (date.fromisoformat(g["issue_date"]) - date(2000, 1, 1)).days.to_bytes(2, "big")
    for text in (g["holder_name"], g["occupation_name"], "" if g["job"] == "--" else g["job"]):
        raw = text.encode("utf-8")
        out += bytes([len(raw)]) + raw
    return bytes(out)


def test_the_golden_vector_rebuilt_from_the_doc_equals_the_doc() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(G["seed"]))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert public.hex() == G["public_key"]
    assert base64.urlsafe_b64encode(public).rstrip(b"=").decode() == G["jwk_x"]
    assert hashlib.sha256(b"verify.kid.v1\x00" + public).hexdigest()[:4] == G["kid"]
    body = _doc_body(G)
    assert body.hex() == G["body"]
    message = b"verify.cert.v1\x00" + body
    assert message.hex() == G["signed_message"]
    signature = key.sign(message)
    assert signature.hex() == G["signature"]
    Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    text = base64.b32encode(body + signature).decode().rstrip("=")
    assert text == G["payload_base32"]
    assert f"{G['base_url'].upper()}/C/{text}" == G["url"]
    # the derived values, from the positions the doc gives (1-based)
    assert int(G["number"][16 - 1]) == int(G["level"]) and G["number"][:13] == G["institution_key"]


def test_the_code_produces_the_doc_vector() -> None:
    record = payload.CertificateRecord(
        number=G["number"], holder_name=G["holder_name"], id_tail=G["id_tail"],
        occupation_code=G["occupation_code"], occupation_name=G["occupation_name"], job=G["job"],
        issue_date=date.fromisoformat(G["issue_date"]), kid=G["kid"],
    )  # fmt: skip
    pair = signing.pair_from_seed(bytes.fromhex(G["seed"]))
    assert pair.public_key.hex() == G["public_key"] and pair.kid == G["kid"] == signing.kid_of(
        pair.public_key
    )
    assert (
        signing.public_jwk(pair.public_key, not_before=None, not_after=None, status="active")["x"]
        == G["jwk_x"]
    )
    body = payload.encode_body(record)
    assert body.hex() == G["body"] and payload.signed_message(body).hex() == G["signed_message"]
    signature = signing.Signer(pair).sign(payload.signed_message(body))
    assert signature.hex() == G["signature"]
    data = payload.assemble(body, signature)
    assert payload.to_text(data) == G["payload_base32"]
    assert payload.qr_url(G["base_url"], data) == G["url"]
    decoded, _, _ = payload.decode(data)
    assert (
        decoded == record
        and str(decoded.level) == G["level"]
        and decoded.institution_key == G["institution_key"]
    )


def test_the_doc_vector_is_the_first_committed_vector() -> None:
    first = VECTORS["valid"][0]
    assert VECTORS["test_seed_hex"] == G["seed"] and VECTORS["public_key_hex"] == G["public_key"]
    assert first["record"] == {k: G[k] for k in first["record"]}
    assert (first["body_hex"], first["signature_hex"], first["payload_base32"], first["url"]) == (
        G["body"], G["signature"], G["payload_base32"], G["url"]
    )  # fmt: skip


def test_the_doc_level_table_is_the_code_table() -> None:
    rows = re.findall(r"^  \| ([1-5]) \| (\S+) \| ([^|]+?) \|$", DOC, re.M)
    assert {int(n): (zh, en) for n, zh, en in rows} == {
        n: (LEVEL_NAMES[n], LEVEL_NAMES_EN[n]) for n in LEVEL_NAMES
    }


def _cell(field: str) -> set[str]:
    row = re.search(rf"^\| `{field}` \| ([^\n]+) \|$", _section("### 12.3 The status answer"), re.M)
    assert row is not None, field
    return set(re.findall(r"`([a-z_]+)`", row.group(1)))


def test_the_doc_status_answer_names_every_outcome_check_state_and_reason() -> None:
    assert _cell("outcome") == set(OUTCOMES)
    assert _cell("checks") == set(CHECK_STATES)
    assert _cell("reason") - {"code", "zh", "en", "forged"} == set(FORGED_REASONS)


def test_the_doc_lists_every_error_slug_the_decoder_can_give() -> None:
    source = (ROOT / "verify" / "domain" / "payload.py").read_text(encoding="utf-8")
    raised = set(re.findall(r'_invalid\("([a-z_0-9]+)"', source))
    raised |= set(re.findall(r'RecordError\("([a-z_0-9]+)"', source))
    raised |= {"bad_utf8"}  # raised through _Reader.text
    listed = set(re.findall(r"`([a-z_0-9]+)`", _section("## 7. Errors")))
    assert raised <= listed, raised - listed
