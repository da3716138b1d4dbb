"""Templates: stage sets from practice, from which ``journeymap new`` starts a map.

A template is data (a YAML file shipped with journeymap, read by
:mod:`journeymap.io.templates`): stages with the customer's goal, a few typical
placeholder steps per stage, and optionally KPIs, personas and forks. Every
user-visible text is given per language, ``{en: Awareness, ko: 인지}``; a text missing
in the chosen language falls back to English.

:func:`build_map_from_template` turns a template into a valid :class:`JourneyMap` in
one language.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from journeymap.errors import MapValidationError, Problem
from journeymap.model.base import Node, Slug
from journeymap.model.journey import SCHEMA, JourneyMap
from journeymap.model.validate import validate_map

__all__ = [
    "FALLBACK_LANG",
    "LocalizedText",
    "Template",
    "TemplateBranch",
    "TemplateFork",
    "TemplateKPI",
    "TemplatePersona",
    "TemplateStage",
    "TemplateStep",
    "build_map_from_template",
    "localize_text",
    "slugify_title",
]

FALLBACK_LANG = "en"


_LANG_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _check_tags(value: Any) -> Any:
    if isinstance(value, dict):
        odd = [lang for lang in value if not (isinstance(lang, str) and _LANG_TAG.match(lang))]
        if odd:
            raise ValueError(
                f"{', '.join(map(repr, odd))} is not a language tag such as 'en' or 'ko'; "
                "quote a text that contains a comma inside {en: ..., ko: ...}"
            )
    return value


def _needs_fallback(value: dict[str, str]) -> dict[str, str]:
    if FALLBACK_LANG not in value:
        given = ", ".join(value) or "none"
        raise ValueError(
            f"a localized text needs an '{FALLBACK_LANG}' entry (the fallback); "
            f"languages given: {given}"
        )
    empty = [lang for lang, text in value.items() if not text.strip()]
    if empty:
        raise ValueError(f"a localized text is empty for: {', '.join(empty)}")
    return {lang: text.strip() for lang, text in value.items()}


LocalizedText = Annotated[
    dict[str, str],
    BeforeValidator(_check_tags),
    AfterValidator(_needs_fallback),
    Field(description="One text per language, e.g. {en: Awareness, ko: 인지}; 'en' is required."),
]


def localize_text(text: dict[str, str], lang: str) -> str:
    """The text in ``lang``, or in English when the template does not have it.

    >>> localize_text({"en": "Awareness", "ko": "인지"}, "ko")
    '인지'
    >>> localize_text({"en": "Awareness"}, "ko")
    'Awareness'
    """
    return text.get(lang) or text[FALLBACK_LANG]


def _localize_optional(text: dict[str, str] | None, lang: str) -> str | None:
    return None if text is None else localize_text(text, lang)


class TemplateKPI(Node):
    """A measure typically held against a stage (no target: every business sets its own)."""

    name: LocalizedText
    metric: str = "custom"
    unit: str | None = None
    direction: Literal["higher", "lower"] = "higher"


class TemplateStep(Node):
    """A typical placeholder step, to be replaced by what the customer really does."""

    id: Slug
    name: LocalizedText
    touchpoint: LocalizedText | None = None
    channel: LocalizedText | None = None
    offline: bool = False
    owner: LocalizedText | None = None
    """The business function that usually owns the step (marketing, sales, service…)."""
    milestone: LocalizedText | None = None
    key_transaction: bool = False


class TemplateStage(Node):
    """A stage of the template: its name, the customer's goal and typical steps."""

    id: Slug
    name: LocalizedText
    customer_goal: LocalizedText
    desired_experience: LocalizedText | None = None
    kpis: list[TemplateKPI] = []
    steps: list[TemplateStep] = Field(min_length=1)


class TemplatePersona(Node):
    """A placeholder persona, so the new map has someone to describe."""

    id: Slug
    name: LocalizedText
    job: LocalizedText | None = None
    goals: list[LocalizedText] = []


class TemplateBranch(Node):
    """One way a template's fork can go; ``to`` empty means the customer leaves."""

    id: Slug
    label: LocalizedText
    to: Slug | None = None


class TemplateFork(Node):
    """A decision point typical of the journey (e.g. the buyer picks us or a competitor)."""

    id: Slug
    at: Slug
    question: LocalizedText
    branches: list[TemplateBranch] = Field(min_length=2)


class Template(Node):
    """A stage set from practice, with placeholder steps, in several languages."""

    id: Slug
    name: LocalizedText
    description: LocalizedText
    source: LocalizedText | None = None
    """Where the stage set comes from in practice (a method, a textbook, a field)."""
    personas: list[TemplatePersona] = []
    stages: list[TemplateStage] = Field(min_length=1)
    forks: list[TemplateFork] = []

    @property
    def languages(self) -> list[str]:
        """The languages the template's name is written in, English first."""
        return [FALLBACK_LANG, *sorted(lang for lang in self.name if lang != FALLBACK_LANG)]

    def stage_names(self, lang: str = FALLBACK_LANG) -> list[str]:
        """The stage names in ``lang``, in journey order."""
        return [localize_text(stage.name, lang) for stage in self.stages]


_STARTED_FROM = {
    "en": (
        "Started from the '{name}' template. Replace the placeholder steps with what "
        "your customers really do, then check the map with 'journeymap validate'."
    ),
    "ko": (
        "'{name}' 템플릿으로 시작한 여정 지도입니다. 자리표시 단계를 고객이 실제로 하는 "
        "일로 바꾼 뒤 'journeymap validate'로 확인하세요."
    ),
}


def slugify_title(title: str, *, max_length: int = 60) -> str:
    """A map id made from a title: ASCII lower-case words joined by '-'.

    Accents are dropped (``Café`` → ``cafe``); other non-ASCII letters are left out,
    so a title with no ASCII letter at all gives ``""``.

    >>> slugify_title("Carla buys a backpack!")
    'carla-buys-a-backpack'
    >>> slugify_title("백팩 구매 여정")
    ''
    """
    plain = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    if not any(c.isascii() and c.isalpha() for c in plain):
        return ""
    chars = "".join(c if c.isascii() and c.isalnum() else "-" for c in plain.lower())
    words = [w for w in chars.split("-") if w]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or words[0][:max_length]


def _map_data(template: Template, *, title: str, lang: str, map_id: str) -> dict[str, Any]:
    def text(value: dict[str, str]) -> str:
        return localize_text(value, lang)

    channels: list[str] = []
    functions: list[str] = []
    stages: list[dict[str, Any]] = []
    for stage in template.stages:
        steps: list[dict[str, Any]] = []
        for step in stage.steps:
            item: dict[str, Any] = {"id": step.id, "name": text(step.name)}
            for key in ("touchpoint", "channel", "owner", "milestone"):
                value = _localize_optional(getattr(step, key), lang)
                if value is not None:
                    item[key] = value
            if step.offline:
                item["offline"] = True
            if step.key_transaction:
                item["key_transaction"] = True
            if "channel" in item and item["channel"] not in channels:
                channels.append(item["channel"])
            if "owner" in item and item["owner"] not in functions:
                functions.append(item["owner"])
            steps.append(item)
        stage_data: dict[str, Any] = {
            "id": stage.id,
            "name": text(stage.name),
            "customer_goal": text(stage.customer_goal),
        }
        if stage.desired_experience is not None:
            stage_data["desired_experience"] = text(stage.desired_experience)
        if stage.kpis:
            stage_data["kpis"] = [
                {
                    "name": text(kpi.name),
                    "metric": kpi.metric,
                    "direction": kpi.direction,
                    **({"unit": kpi.unit} if kpi.unit else {}),
                }
                for kpi in stage.kpis
            ]
        stage_data["steps"] = steps
        stages.append(stage_data)
    personas = [
        {
            "id": p.id,
            "name": text(p.name),
            **({"job": text(p.job)} if p.job else {}),
            **({"goals": [text(g) for g in p.goals]} if p.goals else {}),
        }
        for p in template.personas
    ]
    forks = [
        {
            "id": fork.id,
            "at": fork.at,
            "question": text(fork.question),
            "branches": [
                {"id": b.id, "label": text(b.label), **({"to": b.to} if b.to else {})}
                for b in fork.branches
            ],
        }
        for fork in template.forks
    ]
    scope: dict[str, Any] = {"journey": text(template.name)}
    if personas:
        scope["persona"] = personas[0]["id"]
    if channels:
        scope["channels"] = channels
    if functions:
        scope["functions"] = functions
    template_name = text(template.name)
    started = _STARTED_FROM.get(lang, _STARTED_FROM[FALLBACK_LANG]).format(name=template_name)
    return {
        "schema": SCHEMA,
        "id": map_id,
        "title": title,
        "lang": lang,
        "description": started,
        "tags": [template.id],
        "scope": scope,
        "personas": personas,
        "stages": stages,
        "forks": forks,
    }


def build_map_from_template(
    template: Template, *, title: str, lang: str = FALLBACK_LANG, map_id: str | None = None
) -> JourneyMap:
    """A new map in ``lang`` with the template's stages, placeholder steps and forks.

    ``map_id`` defaults to a slug of ``title``; a title with no ASCII letter (a Korean
    title, say) gives the template's id instead. Texts the template lacks in ``lang``
    are taken in English. Raises :class:`MapValidationError` if the result is not a
    valid map (a broken template, or an invalid ``map_id``).
    """
    title = title.strip()
    if not title:
        empty = Problem(("title",), "the title is empty", hint="give the map a title")
        raise MapValidationError([empty], source=f"template '{template.id}'")
    chosen = map_id if map_id is not None else (slugify_title(title) or template.id)
    data = _map_data(template, title=title, lang=lang, map_id=chosen)
    jmap, problems = validate_map(data)
    if jmap is None or problems:
        raise MapValidationError(problems, source=f"template '{template.id}'")
    return jmap
