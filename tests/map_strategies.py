"""Hypothesis strategies for valid journey maps, for round-trip and property tests.

:func:`journey_maps` draws a whole :class:`~journeymap.model.JourneyMap`: personas with
segments and demographics, stages with steps and sub-stages, cards with and without
evidence, pain points, event rules using every condition operator, forks whose
branches lead to real steps, opportunities addressing real pain points, stakeholders
and a scope. Text mixes Korean and ASCII with the characters interchange formats
find hard (``:`` ``#`` ``,`` ``"`` ``;`` ``%%``, line breaks, formula starts), and
every id is unique. Each drawn map passes :func:`journeymap.model.validate_map`.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from journeymap.model import JourneyMap, validate_map

__all__ = ["TRICKY", "event_rules", "journey_maps", "names", "texts"]

_CHARS = list("abcdefgXYZ0129 :#,\";'%\n-=+@{}.()/") + list("고객구매검색상담결제배송한국어가나다")
TRICKY = [
    "Title screen",
    "journey planning",
    "Section 2 review",
    "accTitle",
    "accDescr {x",
    "%%note",
    "a%%b",
    "=SUM(A1)",
    "'quoted'",
    "''=x",
    "-3",
    "5",
    "1e5",
    '"x"',
    "nan",
    "Pay: card #1; now",
    "첫 구매: 결제",
    "line one\nline two",
    "a, b, c",
]
"""Names that trip up Mermaid, CSV or spreadsheets, each for its own reason."""


def _nonblank(text: str) -> bool:
    return bool(text.strip())


_POOL = [
    "Reads the size chart",
    "가격 비교 사이트에서 모델을 비교한다",
    'Why: is it, "so" slow?',
    "#1 choice; really",
    "multi\nline\n text",
    "50% off %%",
    "+82 10-1234",
    "@support",
    '{"json": "look-alike"}',
    "0.5",
]
texts = st.one_of(
    st.sampled_from(_POOL),
    st.text(alphabet=st.sampled_from(_CHARS), min_size=1, max_size=12).filter(_nonblank),
)
"""Free text with Korean, ASCII and awkward characters; never blank."""

names = st.one_of(texts, st.sampled_from(TRICKY))
"""A name: free text, or one of :data:`TRICKY`."""

_id_bases = st.sampled_from(["a", "visit-site", "pay_by-card", "0", "step", "s9", "stage-1"])
_fields = st.sampled_from(
    ["event", "channel", "region", "properties.plan", "properties.amount", "loyalty_member"]
)
_numbers = st.one_of(
    st.integers(-10_000, 10_000), st.floats(allow_nan=False, allow_infinity=False, width=64)
)
_scalars = st.one_of(st.text(st.sampled_from(_CHARS), max_size=8), _numbers, st.booleans())
_conditions = st.one_of(
    _scalars,
    st.lists(_scalars, min_size=1, max_size=3),
    st.fixed_dictionaries({"ne": _scalars}),
    st.fixed_dictionaries({"not_in": st.lists(_scalars, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"gt": _numbers, "lte": st.one_of(_numbers, texts)}),
    st.fixed_dictionaries({"gte": st.one_of(_numbers, texts), "lt": _numbers}),
    st.fixed_dictionaries({"exists": st.booleans()}),
    st.fixed_dictionaries({"contains": texts}),
    st.fixed_dictionaries({"eq": _scalars, "ne": _scalars}),
    st.fixed_dictionaries({"in": st.lists(_scalars, min_size=1, max_size=2)}),
)
_rule_body = st.dictionaries(_fields, _conditions, min_size=1, max_size=3)
event_rules = st.one_of(
    st.fixed_dictionaries({"match": _rule_body}),
    st.fixed_dictionaries({"any": st.lists(_rule_body, min_size=1, max_size=2)}),
    st.fixed_dictionaries(
        {"match": _rule_body, "any": st.lists(_rule_body, min_size=1, max_size=2)}
    ),
)
"""Event-matching rules using every condition operator, short forms included."""

_evidence = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["interview", "survey", "analytics", "ticket", "assumption"]),
        "confidence": st.sampled_from(["observed", "reported", "assumed"]),
        "note": texts,
        "source": texts,
        "link": st.just("https://example.com/study?id=1,2"),
    },
)
_evidence_lists = st.lists(_evidence, max_size=2)
_cards = st.one_of(
    texts,
    st.fixed_dictionaries({"text": texts, "evidence": st.lists(_evidence, min_size=1, max_size=2)}),
)
_card_lists = st.lists(_cards, max_size=2)
_text_lists = st.lists(names, max_size=2)
_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
_moments = st.one_of(
    _dates,
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.one_of(st.none(), st.just(UTC)),
    ),
)
_durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


@st.composite
def journey_maps(draw: st.DrawFn, *, max_stages: int = 3, max_steps: int = 3) -> JourneyMap:
    """A valid map with unique ids and references that resolve."""
    counter = itertools.count(1)

    def new_id() -> str:
        base = draw(_id_bases)
        return f"{base}-{next(counter)}"

    persona_ids = [new_id() for _ in range(draw(st.integers(0, 2)))]
    personas = [
        _drop_none(
            {
                "id": pid,
                "name": draw(st.one_of(names, st.just(""))),
                "age": draw(_optional(st.integers(0, 130))),
                "job": draw(_optional(texts)),
                "personality": draw(_optional(texts)),
                "quote": draw(_optional(texts)),
                "values": draw(_text_lists),
                "goals": draw(_text_lists),
                "frustrations": draw(_text_lists),
                "preferred_channels": draw(_text_lists),
                "demographics": draw(
                    st.dictionaries(texts, st.one_of(texts, _numbers), max_size=2)
                ),
                "segment": draw(_optional(st.fixed_dictionaries({"where": _rule_body}))),
                "evidence": draw(_evidence_lists),
            }
        )
        for pid in persona_ids
    ]

    def step() -> dict[str, Any]:
        lean = {
            "id": new_id(),
            "name": draw(names),
            "emotion": draw(_optional(st.integers(-2, 2))),
            "personas": draw(st.lists(st.sampled_from(persona_ids), max_size=2))
            if persona_ids
            else [],
        }
        # every field on some steps; most steps lean, which keeps drawing fast
        if not draw(st.booleans()):
            return _drop_none(lean)
        return _drop_none(
            {
                **lean,
                "description": draw(_optional(texts)),
                "touchpoint": draw(_optional(texts)),
                "channel": draw(_optional(texts)),
                "offline": draw(st.booleans()),
                "owner": draw(_optional(texts)),
                "actions": draw(_card_lists),
                "thoughts": draw(_card_lists),
                "feelings": draw(_card_lists),
                "pain_points": [
                    _drop_none(
                        {
                            "id": new_id(),
                            "text": draw(texts),
                            "severity": draw(st.integers(1, 5)),
                            "evidence": draw(_evidence_lists),
                        }
                    )
                    for _ in range(draw(st.integers(0, 2)))
                ],
                "desired_experience": draw(_optional(texts)),
                "backstage": draw(_card_lists),
                "key_transaction": draw(st.booleans()),
                "milestone": draw(_optional(texts)),
                "trigger": draw(_optional(texts)),
                "duration": draw(_optional(_durations)),
                "at": draw(_optional(_moments)),
                "events": draw(_optional(event_rules)),
                "evidence": draw(_evidence_lists),
            }
        )

    stages = []
    for _ in range(draw(st.integers(1, max_stages))):
        own = [step() for _ in range(draw(st.integers(0, max_steps)))]
        substages = [
            _drop_none(
                {
                    "id": new_id(),
                    "name": draw(names),
                    "description": draw(_optional(texts)),
                    "customer_goal": draw(_optional(texts)),
                    "desired_experience": draw(_optional(texts)),
                    "steps": [step() for _ in range(n)],
                }
            )
            for n in draw(st.lists(st.integers(0, 2), max_size=2))
        ]
        if not own and not any(sub["steps"] for sub in substages):
            own = [step()]
        kpis = [
            _drop_none(
                {
                    "id": draw(_optional(st.just(new_id()))),
                    "name": draw(names),
                    "metric": draw(st.sampled_from(["conversion", "csat", "median_time", "own"])),
                    "target": draw(_optional(st.one_of(_numbers, names))),
                    "baseline": draw(_optional(st.one_of(_numbers, names))),
                    "unit": draw(_optional(texts)),
                    "direction": draw(st.sampled_from(["higher", "lower"])),
                }
            )
            for _ in range(draw(st.integers(0, 2)))
        ]
        stages.append(
            _drop_none(
                {
                    "id": new_id(),
                    "name": draw(names),
                    "description": draw(_optional(texts)),
                    "customer_goal": draw(_optional(texts)),
                    "desired_experience": draw(_optional(texts)),
                    "kpis": kpis,
                    "steps": own,
                    "substages": substages,
                    "evidence": draw(_evidence_lists),
                }
            )
        )

    all_steps = [
        s["id"]
        for stage in stages
        for s in stage["steps"] + [x for sub in stage["substages"] for x in sub["steps"]]
    ]
    pain_points = [
        p["id"]
        for stage in stages
        for s in stage["steps"] + [x for sub in stage["substages"] for x in sub["steps"]]
        for p in s.get("pain_points", [])
    ]
    forks = [
        {
            "id": new_id(),
            "at": draw(st.sampled_from(all_steps)),
            "question": draw(texts),
            "branches": [
                _drop_none(
                    {
                        "id": new_id(),
                        "label": draw(names),
                        "to": draw(_optional(st.sampled_from(all_steps))),
                        "condition": draw(_optional(event_rules)),
                        "share": draw(_optional(st.floats(0, 1))),
                        "description": draw(_optional(texts)),
                    }
                )
                for _ in range(draw(st.integers(2, 3)))
            ],
            "evidence": draw(_evidence_lists),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    addressable = pain_points + all_steps[:1] + [stages[0]["id"]]
    opportunities = [
        _drop_none(
            {
                "id": new_id(),
                "title": draw(names),
                "description": draw(_optional(texts)),
                "addresses": draw(st.lists(st.sampled_from(addressable), max_size=3)),
                "impact": draw(_optional(st.integers(1, 5))),
                "feasibility": draw(_optional(st.integers(1, 5))),
                "effort": draw(_optional(st.integers(1, 5))),
                "cost": draw(_optional(st.floats(0, 1e9))),
                "currency": draw(_optional(st.sampled_from(["USD", "KRW", "EUR"]))),
                "owner": draw(_optional(texts)),
                "status": draw(st.sampled_from(["idea", "planned", "in_progress", "done"])),
                "link": draw(_optional(st.just("https://example.com/o"))),
                "evidence": draw(_evidence_lists),
            }
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    stakeholders = [
        _drop_none(
            {
                "id": new_id(),
                "name": draw(names),
                "role": draw(_optional(texts)),
                "function": draw(_optional(texts)),
                "responsibilities": draw(_text_lists),
            }
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    scope = _drop_none(
        {
            "goal": draw(_optional(texts)),
            "journey": draw(_optional(texts)),
            "persona": draw(_optional(st.sampled_from(persona_ids))) if persona_ids else None,
            "channels": draw(_text_lists),
            "functions": draw(_text_lists),
            "owner": draw(_optional(texts)),
            "review_every_days": draw(_optional(st.integers(1, 365))),
        }
    )
    data = _drop_none(
        {
            "schema": "journeymap/1",
            "id": new_id(),
            "title": draw(names),
            "lang": draw(st.sampled_from(["en", "ko"])),
            "description": draw(_optional(st.one_of(texts, st.sampled_from(TRICKY)))),
            "version": draw(_optional(texts)),
            "updated": draw(_optional(_dates)),
            "tags": draw(_text_lists),
            "scope": scope,
            "personas": personas,
            "stakeholders": stakeholders,
            "stages": stages,
            "forks": forks,
            "opportunities": opportunities,
        }
    )
    jmap, problems = validate_map(data)
    assert jmap is not None, [str(p) for p in problems]
    return jmap
