"""verify.domain.codes properties: numbers generated from the grammar (docs/RULES.md §2.1, §2.2, §2.4) against the
checker, the parser and the normaliser."""

from __future__ import annotations

import json
from datetime import date

from hypothesis import assume, given
from hypothesis import strategies as st

from verify.domain.codes import (
    HENAN_CITIES,
    NUMBER_PROVINCES,
    CodeKind,
    check_certificate_number,
    check_code,
    normalize,
    parse_certificate_number,
)
from verify.domain.errors import InvalidCode

TODAY = date(2026, 11, 25)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def skill_level_numbers(draw: st.DrawFn) -> str:
    """Valid 22-character numbers, national and Henan, years 2000..today."""
    letter = draw(st.sampled_from("YS"))
    province = draw(st.sampled_from(sorted(NUMBER_PROVINCES)))
    site = (
        draw(st.sampled_from(sorted(HENAN_CITIES))) + draw(_digits(4))
        if province == "41"
        else draw(_digits(6))
    )
    year = draw(st.integers(0, TODAY.year - 2000))
    level = draw(st.integers(1, 5))
    serial = draw(st.integers(1, 999_999))
    return f"{letter}{draw(_digits(4))}{province}{site}{year:02d}{level}{serial:06d}"


@st.composite
def special_ability_numbers(draw: st.DrawFn) -> str:
    year = draw(st.integers(0, TODAY.year - 2000))
    serial = draw(st.integers(1, 99_999))
    return f"{year:02d}{draw(_digits(4))}5{draw(_digits(3))}{serial:05d}"


certificate_numbers = st.one_of(skill_level_numbers(), special_ability_numbers())

_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


@st.composite
def disguised(draw: st.DrawFn, canonical: str) -> str:
    """The same number as a person might type or paste it: spaces, dashes, full width, lower case."""
    out = []
    for ch in canonical:
        style = draw(st.sampled_from(["plain", "full", "lower"]))
        out.append(_FULL_WIDTH[ch] if style == "full" else ch.lower() if style == "lower" else ch)
        out.append(draw(st.sampled_from(["", "", " ", "\u3000", "-", "\u2014", "\uff0d", "\t"])))
    return "".join(out)


@given(certificate_numbers)
def test_generated_numbers_are_valid_and_round_trip(number: str) -> None:
    result = check_code(number, today=TODAY)
    assert result.valid, result.problems
    parsed = parse_certificate_number(result.canonical, today=TODAY)
    assert parsed.canonical == result.canonical == number
    assert parsed.kind is result.kind
    if parsed.kind is CodeKind.SPECIAL_ABILITY:
        assert parsed.institution_key == number[2:10] and parsed.level is None
    else:
        assert parsed.institution_key == number[:13] and parsed.level == int(number[15])
        assert (parsed.kind is CodeKind.SKILL_LEVEL_HENAN) == (number[5:7] == "41")
    assert parsed.year == result.parts["year"]


@given(st.data())
def test_normalisation_round_trip(data: st.DataObject) -> None:
    number = data.draw(certificate_numbers)
    typed = data.draw(disguised(number))
    assert normalize(typed) == number
    assert check_code(typed, today=TODAY).canonical == number
    assert parse_certificate_number(typed, today=TODAY).canonical == number


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


_NEAR_CODES = st.text(alphabet="0123456789YSRHXyx -\u3000０Ｙ中", max_size=30)


@given(st.one_of(st.text(), _NEAR_CODES))
def test_arbitrary_text_never_raises_and_parse_agrees_with_check(text: str) -> None:
    result = check_code(text, today=TODAY)
    json.dumps(result.to_json(), ensure_ascii=False)
    assert result.valid == (not result.problems)
    assert all(p.severity == "error" for p in result.problems)
    assert all(w.severity == "warning" for w in result.warnings)
    certificate = check_certificate_number(text, today=TODAY)
    try:
        parsed = parse_certificate_number(text, today=TODAY)
    except InvalidCode as exc:
        assert not certificate.valid
        assert exc.problems == certificate.problems
    else:
        assert certificate.valid and parsed.canonical == certificate.canonical


@given(skill_level_numbers(), st.integers(0, 21), st.characters())
def test_single_substitution_stays_valid_or_is_reported_at_that_position(
    number: str, index: int, ch: str
) -> None:
    mutated = number[:index] + ch + number[index + 1 :]
    # Whitespace, dashes and combining marks change the length; that is the length problem's case.
    assume(len(normalize(mutated)) == 22)
    result = check_code(mutated, today=TODAY)
    if result.valid:
        return
    position = index + 1
    covering = [
        p
        for p in result.problems
        if p.position is not None
        and p.found is not None
        and p.position <= position < p.position + len(p.found)
    ]
    # Changing positions 6-7 to or from 41 switches the Henan city table on for positions 8-9.
    switched_to_henan = position in (6, 7) and "henan_city_unknown" in [p.code for p in result.problems]
    assert covering or switched_to_henan, (mutated, result.problems)
