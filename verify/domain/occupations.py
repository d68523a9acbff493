"""Occupation reference tables: the occupations (rule 71: 职业编码, 职业名称, 工种/方向 and allowed
levels) and the occupations no certificate may name (rules 26, 27, 72, 73), both versioned data files.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from verify.domain.reference import OCCUPATION_RULES_FILE, OCCUPATIONS_FILE, load_table


@dataclass(frozen=True, slots=True)
class OccupationScope:
    code: str
    name: str
    job: str
    levels: tuple[int, ...]
    from_seed: bool


_DATA = load_table(OCCUPATIONS_FILE)
VERSION: str = _DATA["version"]
SCOPES: tuple[OccupationScope, ...] = tuple(
    OccupationScope(s["code"], s["name"], s["job"], tuple(s["levels"]), bool(s["seed"]))
    for s in _DATA["scopes"]
)
SPECIAL_PROJECTS: tuple[str, ...] = tuple(p["name"] for p in _DATA["special_projects"])
OCCUPATION_CODES: tuple[str, ...] = tuple(dict.fromkeys(s.code for s in SCOPES))


# ----------------------------------------------------------- which occupations may be certified

_RULES = load_table(OCCUPATION_RULES_FILE)
RULES_VERSION: str = _RULES["version"]


@dataclass(frozen=True, slots=True)
class AccessQualification:
    """An entry of the 国家职业资格目录 准入类 list (rules 26, 72)."""

    qualification: str
    department: str
    to_become_access: bool  # printed as 水平评价类 but 拟依法调整为准入类
    needs_confirmation: bool


def _name_key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split())


ACCESS: Mapping[str, AccessQualification] = MappingProxyType(
    {
        _name_key(occupation): AccessQualification(
            e["qualification"],
            e["department"],
            e["category"] == "to_become_access",
            bool(e["needs_confirmation"]),
        )
        for e in _RULES["access"]
        for occupation in e["occupations"]
    }
)
MAJOR_GROUPS: Mapping[str, str] = MappingProxyType(
    {_name_key(g["name"]): g["code"] for g in _RULES["major_groups"]}
)
HENAN_EXCLUDED_GROUPS: frozenset[str] = frozenset(_RULES["henan_excluded_major_groups"])
PROJECT_SUFFIXES: tuple[str, ...] = tuple(_RULES["special_project_suffixes"])


@dataclass(frozen=True, slots=True)
class OccupationProblem:
    code: str
    field: str  # "occupation_code" or "occupation_name"
    message_zh: str
    message_en: str
    rule: int


def occupation_problems(code: str, name: str, *, skill: bool, henan: bool) -> list[OccupationProblem]:
    """Why a certificate, or a scope row, for this occupation may not be issued: a 准入类 occupation
    (rule 26), a category name or, in Henan, a 第二大类 occupation (rule 27), a 专项 project named
    like an occupation (rule 73). ``skill`` = a 职业技能等级 record, else 专项. Empty = allowed."""
    key = _name_key(name)
    found: list[OccupationProblem] = []
    if skill:
        access = ACCESS.get(key)
        if access is not None:
            zh_kind = "拟调整为准入类" if access.to_become_access else "准入类"
            en_kind = (
                "due to become an access (准入类) qualification"
                if access.to_become_access
                else "an access (准入类) qualification"
            )
            found.append(OccupationProblem(
                "access_occupation", "occupation_name",
                f"“{name}”属国家职业资格目录{zh_kind}职业资格（{access.qualification}，实施部门：{access.department}），"
                "不得评价发放职业技能等级证书",
                f"{name} is {en_kind} of the national catalogue ({access.qualification}, run by {access.department}); "
                "no skill-level certificate may be issued for it", 26,
            ))  # fmt: skip
        if key in MAJOR_GROUPS:
            found.append(OccupationProblem(
                "category_name", "occupation_name",
                f"“{name}”是职业分类大典的大类名称，不是职业名称；请填写具体职业",
                f"{name} is a major group of the occupation classification, not an occupation; give the occupation",
                27,
            ))  # fmt: skip
        group = code.strip().split("-", 1)[0]
        if henan and "-" in code and group in HENAN_EXCLUDED_GROUPS:
            found.append(OccupationProblem(
                "professional_group", "occupation_code",
                f"职业编码 {code} 属第二大类（专业技术人员），河南不开展该类职业技能等级认定",
                f"occupation code {code} is in major group 2 (professional and technical staff); Henan issues "
                "no skill-level certificates for it", 27,
            ))  # fmt: skip
    elif key.endswith(PROJECT_SUFFIXES):
        found.append(OccupationProblem(
            "project_name_form", "occupation_name",
            f"专项职业能力考核项目名称“{name}”不得以“工”“员”“师”结尾：项目按产品或服务加动作命名（如“家庭餐制作”）",
            f"the 专项 project name {name} must not end in 工, 员 or 师: a project is named for a product or service "
            "and what is done (e.g. 家庭餐制作)", 73,
        ))  # fmt: skip
    return found
