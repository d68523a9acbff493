"""Rule 65, the QR size budget (verify.domain.qr_budget): the byte arithmetic against real symbols.

The budget is arithmetic so that an import never renders a QR; these tests render real ones (the
project's ``verify.render.qr``, which wraps ``qrcode``) and require the arithmetic to say "fits" for
exactly the records whose URL, under the longest public URL the configuration accepts, is a
version 10-M symbol or smaller.
"""

from __future__ import annotations

import dataclasses
import io
import unicodedata
from datetime import date

import asyncpg
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes
from tests.unit.test_payload import SIGNER
from tests.unit.test_payload_properties import skill_level_numbers, special_ability_numbers
from verify.config import Settings
from verify.domain import occupations, payload, qr_budget
from verify.domain.errors import BatchRejected, ConfigError
from verify.domain.institution import Scope
from verify.render import qr
from verify.services.registry import Registry

# The longest public URL the configuration accepts (rule 65).
BASE_40 = "https://certificate-verify.hrss.henan.cn"
MB = 1024 * 1024
# Long names as they are written on Chinese documents (民委发〔2016〕33号: transliterated parts joined by
# U+00B7), and names with characters outside the BMP (4 UTF-8 bytes each) or in CJK Extension A.
LONG_NAMES = (
    "阿卜杜热合曼·买买提依明·艾力",
    "古丽娜尔·阿不都热合曼·买买提依明",
    "阿依努尔·吐尔逊托合提",
    "买买提江·阿卜杜克热木·库尔班",
    "欧阳𠮷𬌗䶮",
    "爱新觉罗·䶮𠮷",
)
# An ordinary occupation and 工种 of the seed catalogue (docs/RULES.md §6.1).
ORDINARY = ("6-18-01-01", "车工", "数控车床")
# The longest occupation name + 工种 of the catalogue: 42 UTF-8 bytes.
LONGEST = ("4-12-01-01", "汽车维修工", "汽车车身整形修复工")


def _record(number: str, name: str, occupation_name: str, job: str) -> payload.CertificateRecord:
    return payload.CertificateRecord(
        number=number,
        holder_name=name,
        id_tail="123X",
        occupation_code="6-18-01-01",
        occupation_name=occupation_name,
        job=job,
        issue_date=date(2025, 6, 18),
        kid="40e6",
    )


def _signed_url(record: payload.CertificateRecord) -> tuple[bytes, str]:
    body = payload.encode_body(record)
    signed = payload.assemble(body, bytes(SIGNER.sign(payload.signed_message(body)).signature))
    return signed, payload.qr_url(BASE_40, signed)


def _fits(record: payload.CertificateRecord) -> bool:
    return qr_budget.budget(record.number, record.holder_name, record.occupation_name, record.job).over == 0


def test_rule_65_the_base_url_of_these_tests_is_the_longest_accepted() -> None:
    assert len(BASE_40) == qr_budget.MAX_BASE_URL
    assert Settings.from_env({"VERIFY_PUBLIC_URL": BASE_40 + "/"}).public_url == BASE_40


def test_rule_65_config_refuses_a_public_url_over_40_characters() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VERIFY_PUBLIC_URL": BASE_40 + "x"})
    zh, en = info.value.message_zh, info.value.message_en
    assert zh.startswith("VERIFY_PUBLIC_URL") and "40" in zh and "41" in zh and "10-M" in zh
    assert "40" in en and "41" in en and "version 10-M" in en
    # The trailing slash is not part of the address, so it does not count.
    assert Settings.from_env({"VERIFY_PUBLIC_URL": BASE_40 + "///"}).public_url == BASE_40


def test_rule_65_the_limits_are_80_and_82_bytes() -> None:
    assert qr_budget.TEXT_LIMITS == {22: 80, 15: 82}


# --- (a) the arithmetic against real symbols --------------------------------------------------------


def _cjk(lo: int, hi: int) -> st.SearchStrategy[str]:
    # Assigned ideographs only ("Lo"): what a real name or 工种 holds; none of them changes under NFC.
    return st.characters(min_codepoint=lo, max_codepoint=hi).filter(lambda c: unicodedata.category(c) == "Lo")


# Mostly BMP Han (3 bytes); Extension A (3 bytes) and Extensions B-E (4 bytes) now and then.
_han = st.one_of(
    _cjk(0x4E00, 0x9FFF),
    _cjk(0x4E00, 0x9FFF),
    _cjk(0x4E00, 0x9FFF),
    _cjk(0x3400, 0x4DBF),
    _cjk(0x20000, 0x2CEAF),
)
_job_char = st.one_of(_han, _han, st.sampled_from("ABCDFGHMNOPSTUX0123456789（）-"))
_names = (
    st.lists(st.text(_han, min_size=1, max_size=7), min_size=1, max_size=3)
    .map("·".join)
    .filter(lambda s: 2 <= len(s) <= 20)
)
_occupation_names = st.one_of(
    st.sampled_from(sorted({s.name for s in occupations.SCOPES})), st.text(_han, min_size=2, max_size=12)
)


@st.composite
def near_budget_records(draw: st.DrawFn) -> payload.CertificateRecord:
    number = draw(st.one_of(skill_level_numbers(), special_ability_numbers()))
    name = draw(_names)
    occupation_name = draw(_occupation_names)
    # The 工种 is drawn to bring the texts within a few bytes of the limit, either side, so that the
    # examples straddle the boundary instead of sitting far below it.
    room = qr_budget.TEXT_LIMITS[len(number)] - len(name.encode()) - len(occupation_name.encode())
    room += draw(st.integers(-10, 10))
    job = ""
    while len(job.encode()) < room and len(job) < payload.JOB_MAX:
        job += draw(_job_char)
    if not job or job in (payload.NO_JOB, "——") or draw(st.integers(0, 9)) == 0:
        job = payload.NO_JOB
    return _record(number, name, occupation_name, job)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(near_budget_records())
def test_rule_65_budget_agrees_with_the_real_symbol(record: payload.CertificateRecord) -> None:
    signed, url = _signed_url(record)
    job_bytes = 0 if record.job == payload.NO_JOB else len(record.job.encode())
    fit = qr_budget.budget(record.number, record.holder_name, record.occupation_name, record.job)
    assert (
        fit.text_bytes == len(record.holder_name.encode()) + len(record.occupation_name.encode()) + job_bytes
    )
    assert qr_budget.payload_len(
        record.number, record.holder_name, record.occupation_name, record.job
    ) == len(signed)
    assert qr_budget.url_chars(len(signed)) == len(url)
    spec = qr.qr_spec(url, error_correction="M")
    assert spec.mode == "alphanumeric"
    assert (fit.over == 0) == (spec.version <= qr_budget.MAX_VERSION), (fit, spec.version)


@pytest.mark.parametrize("number", ["Y000041010001243000123", "S000032000107253000042", "252101501000042"])
def test_rule_65_the_limit_is_the_version_10_boundary(number: str) -> None:
    # Every text length around the limit, one byte at a time (ASCII in the 工种 for single bytes).
    limit = qr_budget.TEXT_LIMITS[len(number)]
    name = "阿依古丽·买买提"
    fixed = len(name.encode()) + len("车工".encode()) + len("数控车床".encode())
    for text_bytes in range(limit - 6, limit + 7):
        record = _record(number, name, "车工", "数控车床" + "X" * (text_bytes - fixed))
        assert qr_budget.budget(
            number, record.holder_name, record.occupation_name, record.job
        ).text_bytes == (text_bytes)
        version = qr.qr_spec(_signed_url(record)[1]).version
        assert (version <= 10) == (text_bytes <= limit) == _fits(record), (text_bytes, version)


# --- (b) real long names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", LONG_NAMES)
def test_rule_65_the_longest_real_names_fit_with_an_ordinary_occupation(name: str) -> None:
    _, occupation_name, job = ORDINARY
    for number in ("S000041010012264900001", "252101501000042"):
        record = _record(number, name, occupation_name, job)
        assert _fits(record)
        assert qr.qr_spec(_signed_url(record)[1]).version <= 10
    # A 专项 project has no 工种.
    assert _fits(_record("252101501000042", name, "中式面点制作", payload.NO_JOB))


def test_rule_65_twenty_han_characters_fit_with_the_seed_occupations() -> None:
    name = "张" * 20
    for _, occupation_name, job in (ORDINARY, ("6-20-01-01", "钳工", payload.NO_JOB)):
        assert _fits(_record("S000041010012264900001", name, occupation_name, job))


# --- (c) a batch row over the budget is rejected at import -------------------------------------------


async def test_rule_65_a_row_over_the_budget_is_rejected_at_import(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    code, occupation_name, job = LONGEST
    scopes = [
        Scope(code, occupation_name, job, 4, date(2020, 1, 1)),
        Scope("6-20-01-01", "钳工", "--", 4, date(2020, 1, 1)),
    ]
    inst = await make_institution(scopes=scopes)
    name = "热依汗古丽·阿卜杜热合曼·买买提依明江"
    assert len(name) == 19
    over = Row(
        inst["code"], serial=2, name=name, occupation_code=code, occupation_name=occupation_name, job=job
    )
    rows = [Row(inst["code"], serial=1, name=name), over]
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(inst["code"], csv_bytes(rows), "q.csv", actor="t", max_bytes=MB)
    [problem] = info.value.problems
    assert (problem.line, problem.column, problem.code, problem.rule) == (3, "姓名", "qr_too_large", 65)
    expected = len(name.encode()) + len(occupation_name.encode()) + len(job.encode())
    assert f"{expected} 字节" in problem.message_zh and "80 字节" in problem.message_zh
    assert "二维码" in problem.message_zh and "10-M" in problem.message_zh
    assert f"{expected} UTF-8 bytes" in problem.message_en and "budget of 80" in problem.message_en
    # A rejected batch writes nothing.
    count = await pool.fetchval("SELECT count(*) FROM certificates WHERE institution_id = $1", inst["id"])
    assert count == 0
    # The same name with an ordinary occupation imports.
    result = await registry.import_batch(inst["code"], csv_bytes(rows[:1]), "ok.csv", actor="t", max_bytes=MB)
    assert result.rows == 1


# --- (d) the worst accepted record prints at 0.5 mm a module or more -------------------------------


@pytest.mark.parametrize("number", ["Y000041010001243000123", "252101501000042"])
def test_rule_65_the_worst_accepted_record_prints_at_half_a_millimetre(number: str) -> None:
    limit = qr_budget.TEXT_LIMITS[len(number)]
    worst = _record(number, "阿卜杜热合曼·买买提依明·艾力", "车工", "")
    job = "X" * (limit - qr_budget.budget(number, worst.holder_name, "车工", payload.NO_JOB).text_bytes)
    worst = dataclasses.replace(worst, job=job)
    assert qr_budget.budget(number, worst.holder_name, worst.occupation_name, worst.job).text_bytes == limit
    _, url = _signed_url(worst)
    spec = qr.qr_spec(url, error_correction="M", size_mm=30.0, dpi=300)
    assert (spec.version, spec.dots_per_module) == (10, 6)
    assert spec.module_mm >= 0.5 and spec.symbol_mm <= 30.0
    image = Image.open(io.BytesIO(qr.render_png(url, error_correction="M", size_mm=30.0, dpi=300)))
    assert image.size == (spec.image_px, spec.image_px)
    dots = spec.image_px // (spec.modules + 2 * spec.quiet_zone_modules)
    assert dots / round(image.info["dpi"][0]) * qr.MM_PER_INCH >= 0.5
    formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in zxingcpp.read_barcodes(image.convert("L"), formats=formats)] == [url]
    # One byte more would be version 11, whose modules no longer reach 0.5 mm in 30 mm.
    one_more = dataclasses.replace(worst, job=job + "X")
    assert not _fits(one_more)
    bigger = qr.qr_spec(_signed_url(one_more)[1])
    assert bigger.version == 11 and bigger.module_mm < 0.5
