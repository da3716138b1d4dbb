"""The example maps: valid, faithful to their stories, and covering the whole format."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.io.maps import check_map_text, dump_map, load_map, parse_map_text
from journeymap.model import JourneyMap, Opportunity, Step

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
NAMES = ["b2b-saas.yaml", "backpack.yaml", "korean-ecommerce.yaml"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@functools.cache
def _load(name: str) -> JourneyMap:
    # Cached: reading a map is the slow part, and no test changes the map it reads.
    return load_map(EXAMPLES / name)


ALL = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def test_the_three_examples_are_there() -> None:
    assert [name for name in NAMES if name not in ALL] == []


@pytest.mark.parametrize("name", ALL)
def test_example_validates_with_zero_problems(name: str) -> None:
    path = EXAMPLES / name
    jmap, problems = check_map_text(path.read_text(encoding="utf-8"), source=str(path))
    assert [str(p) for p in problems] == []
    assert jmap is not None


def test_validate_strict_passes_on_every_example() -> None:
    result = CliRunner().invoke(app, ["validate", "--strict", *[str(EXAMPLES / n) for n in ALL]])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok ") == len(ALL) >= 3


@pytest.mark.parametrize("name", ALL)
def test_example_first_line_hooks_up_the_json_schema(name: str) -> None:
    first = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../journeymap.schema.json"


@pytest.mark.parametrize("name", ALL)
def test_yaml_json_yaml_round_trip_gives_an_equal_model(name: str) -> None:
    jmap = _load(name)
    from_json = parse_map_text(dump_map(jmap, "json"), source=f"{name}.json", fmt="json")
    back = parse_map_text(dump_map(from_json, "yaml"), source=name, fmt="yaml")
    assert from_json == jmap
    assert back == jmap
    assert dump_map(back) == dump_map(jmap)


# --- (a) the backpack story --------------------------------------------------------------

# The storyline's ten steps, each with the event that shows it in an event log.
BACKPACK_STORY = [
    ("reads-review", "review_view"),
    ("visits-site", "product_view"),
    ("leaves-to-compare", "site_exit"),
    ("sees-coupon-ad", "coupon_click"),
    ("guest-checkout", "checkout_guest"),
    ("wrong-colour-arrives", "delivery"),
    ("waits-in-queue", "support_wait"),
    ("agent-books-class", "support_call"),
    ("gets-return-instructions", "return_label"),
    ("greeted-in-store", "store_visit"),
]


def _event_names(step: Step) -> set[str]:
    """Every event name a step's rule can match, through `match` and `any`."""
    assert step.events is not None, f"step '{step.id}' has no event rule"
    names: set[str] = set()
    for rule in [step.events.match, *step.events.any]:
        if "event" in rule:
            ops = rule["event"].operators()
            names |= {ops["eq"]} if "eq" in ops else set(ops.get("in", []))
    return names


def test_backpack_tells_the_ten_steps_in_order() -> None:
    steps = [step for _, step in _load("backpack.yaml").all_steps()]
    assert [s.id for s in steps] == [sid for sid, _ in BACKPACK_STORY]


@pytest.mark.parametrize(("step_id", "event"), BACKPACK_STORY)
def test_backpack_step_matches_its_event(step_id: str, event: str) -> None:
    assert event in _event_names(_load("backpack.yaml").step(step_id))


def test_backpack_steps_have_durations_for_the_timeline() -> None:
    jmap = _load("backpack.yaml")
    missing = [s.id for _, s in jmap.all_steps() if s.duration is None]
    assert missing == []
    # "sees a coupon ad a day later": 1d 2h spent away comparing prices.
    assert jmap.step("leaves-to-compare").duration is not None
    assert jmap.step("leaves-to-compare").duration.total_seconds() == 26 * 3600


def test_backpack_has_its_three_pain_points_where_they_happen() -> None:
    jmap = _load("backpack.yaml")
    found = {pp.id: step.id for _, step in jmap.all_steps() for pp in step.pain_points}
    expected = {
        "not-recognised": "guest-checkout",
        "queue-wait": "waits-in-queue",
        "poor-data": "agent-books-class",
    }
    assert {k: found.get(k) for k in expected} == expected


def _addressable(jmap: JourneyMap) -> dict[str, str]:
    ids = {pp.id: "pain point" for _, s in jmap.all_steps() for pp in s.pain_points}
    ids |= {s.id: "step" for _, s in jmap.all_steps()}
    ids |= {st.id: "stage" for st in jmap.stages}
    ids |= {sub.id: "sub-stage" for st in jmap.stages for sub in st.substages}
    return ids


def _opportunity(jmap: JourneyMap, opp_id: str) -> Opportunity:
    return next(o for o in jmap.opportunities if o.id == opp_id)


@pytest.mark.parametrize(
    ("opp_id", "pain_point"),
    [
        ("link-guest-accounts", "not-recognised"),
        ("ai-cross-sell", "poor-data"),
        ("better-targeting", "poor-data"),
    ],
)
def test_backpack_opportunity_is_scored_and_addresses_a_pain_point(
    opp_id: str, pain_point: str
) -> None:
    jmap = _load("backpack.yaml")
    opp = _opportunity(jmap, opp_id)
    addressable = _addressable(jmap)
    assert [a for a in opp.addresses if a not in addressable] == []
    assert pain_point in opp.addresses
    assert addressable[pain_point] == "pain point"
    scores = (opp.impact, opp.feasibility, opp.effort, opp.owner)
    assert None not in scores


def test_backpack_has_exactly_its_three_opportunities() -> None:
    ids = [o.id for o in _load("backpack.yaml").opportunities]
    assert ids == ["link-guest-accounts", "ai-cross-sell", "better-targeting"]


def test_backpack_forks_where_carla_leaves_to_compare() -> None:
    jmap = _load("backpack.yaml")
    (fork,) = jmap.forks
    assert fork.at == "leaves-to-compare"
    targets = {b.id: b.to for b in fork.branches}
    assert targets == {"comes-back": "sees-coupon-ad", "buys-elsewhere": None}
    # Declared shares: 0.35 come back + 0.65 buy elsewhere = every customer who left.
    assert sum(b.share or 0 for b in fork.branches) == pytest.approx(1.0)


def test_backpack_persona_is_carla_the_loyalty_member() -> None:
    jmap = _load("backpack.yaml")
    (carla,) = jmap.personas
    assert (carla.name.split()[0], carla.age) == ("Carla", 34)
    assert carla.segment is not None
    assert carla.segment.where["loyalty_member"].operators() == {"eq": True}
    assert jmap.scope.persona == carla.id


def test_backpack_every_stage_has_a_kpi_with_a_target_and_there_are_stakeholders() -> None:
    jmap = _load("backpack.yaml")
    assert [st.id for st in jmap.stages if not any(k.target is not None for k in st.kpis)] == []
    assert len(jmap.stakeholders) >= 3


# --- (b) the Korean e-commerce journey ----------------------------------------------------


def test_korean_example_is_written_in_korean() -> None:
    jmap = _load("korean-ecommerce.yaml")
    assert jmap.lang == "ko"
    texts = [jmap.title, jmap.description or "", jmap.scope.goal or ""]
    texts += [p.name for p in jmap.personas] + [p.quote or "" for p in jmap.personas]
    for stage in jmap.stages:
        texts += [stage.name, stage.customer_goal or "", stage.desired_experience or ""]
        texts += [k.name for k in stage.kpis]
        for step in stage.all_steps():
            texts += [step.name, step.channel or "", step.touchpoint or ""]
            texts += [c.text for c in [*step.actions, *step.thoughts, *step.feelings]]
            texts += [pp.text for pp in step.pain_points]
    texts += [o.title for o in jmap.opportunities] + [
        o.description or "" for o in jmap.opportunities
    ]
    assert [t for t in texts if not HANGUL.search(t)] == []


def test_korean_example_has_hangul_in_every_stage_and_step_name() -> None:
    jmap = _load("korean-ecommerce.yaml")
    names = [st.name for st in jmap.stages] + [s.name for _, s in jmap.all_steps()]
    assert len(names) == 6 + 9
    assert [n for n in names if not HANGUL.search(n)] == []


def test_korean_example_has_channels_actions_emotions_and_goals_per_stage() -> None:
    jmap = _load("korean-ecommerce.yaml")
    for stage in jmap.stages:
        steps = list(stage.all_steps())
        assert stage.desired_experience, stage.id
        assert stage.customer_goal, stage.id
        assert all(s.channel and s.actions and s.emotion is not None for s in steps), stage.id
    channels = {st.id: {s.channel for s in st.all_steps()} for st in jmap.stages}
    # The journey runs online search → phone consultation → online shop.
    assert "온라인 검색" in channels["awareness"]
    assert channels["consultation"] == {"전화 상담"}
    assert channels["purchase"] == {"온라인 쇼핑몰"}
    assert [st.id for st in jmap.stages].index("awareness") == 0
    assert [st.id for st in jmap.stages][2:4] == ["consultation", "purchase"]


def test_korean_example_opportunities_address_its_pain_points() -> None:
    jmap = _load("korean-ecommerce.yaml")
    pain_points = {pp.id for _, s in jmap.all_steps() for pp in s.pain_points}
    assert len(pain_points) >= 2
    assert jmap.opportunities
    for opp in jmap.opportunities:
        assert set(opp.addresses) <= pain_points, opp.id


# --- (c) the B2B journey -----------------------------------------------------------------


def test_b2b_milestones_come_in_order() -> None:
    jmap = _load("b2b-saas.yaml")
    milestones = [s.milestone for _, s in jmap.all_steps() if s.milestone]
    assert milestones == ["Trade-show contact", "CRM entry", "Demo", "Trial", "Purchase"]


def test_b2b_milestone_dates_run_forward() -> None:
    jmap = _load("b2b-saas.yaml")
    dates = [str(s.at)[:10] for _, s in jmap.all_steps() if s.milestone]
    assert dates == sorted(dates)
    assert len(dates) == 5


def test_b2b_fork_lets_the_buyer_choose_us_or_a_competitor() -> None:
    jmap = _load("b2b-saas.yaml")
    (fork,) = jmap.forks
    assert len(fork.branches) >= 2
    by_id = {b.id: b for b in fork.branches}
    assert by_id["chooses-us"].to == "contract-signed"
    assert jmap.step("contract-signed").milestone == "Purchase"
    assert by_id["chooses-competitor"].to is None
    assert all(b.condition is not None for b in fork.branches)
    # 0.40 won + 0.45 lost to a competitor + 0.15 no decision = 1.00
    assert sum(b.share or 0 for b in fork.branches) == pytest.approx(1.0)


def test_b2b_buying_group_are_personas_named_on_steps() -> None:
    jmap = _load("b2b-saas.yaml")
    ids = [p.id for p in jmap.personas]
    assert ids == ["champion", "economic-buyer", "it-lead"]
    used = {p for _, s in jmap.all_steps() for p in s.personas}
    assert used == set(ids)


# --- the examples cover the format, and the guide documents it ------------------------------


def _model_classes(cls: type[BaseModel], seen: dict[type[BaseModel], None]) -> None:
    from journeymap.model.validate import _unwrap

    if cls in seen:
        return
    seen[cls] = None
    for field in cls.model_fields.values():
        for inner in _unwrap(field.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                _model_classes(inner, seen)


def _all_model_classes() -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    _model_classes(JourneyMap, seen)
    return list(seen)


def _fields_set(node: Any, used: dict[str, set[str]]) -> None:
    if isinstance(node, BaseModel):
        used.setdefault(type(node).__name__, set()).update(node.model_fields_set)
        for name in type(node).model_fields:
            _fields_set(getattr(node, name), used)
    elif isinstance(node, list):
        for item in node:
            _fields_set(item, used)
    elif isinstance(node, dict):
        for item in node.values():
            _fields_set(item, used)


@pytest.mark.parametrize("cls", _all_model_classes(), ids=lambda c: c.__name__)
def test_examples_together_use_every_field_of_the_model(cls: type[BaseModel]) -> None:
    used: dict[str, set[str]] = {}
    for name in NAMES:
        _fields_set(_load(name), used)
    assert sorted(set(cls.model_fields) - used.get(cls.__name__, set())) == []


def _guide_sections() -> dict[str, str]:
    text = (ROOT / "docs" / "map-format.md").read_text(encoding="utf-8")
    reference = text.split("## Field reference", 1)[1]
    parts = re.split(r"^#### (\w+)\s*$", reference, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("cls", _all_model_classes(), ids=lambda c: c.__name__)
def test_map_format_guide_lists_every_key_of_the_model(cls: type[BaseModel]) -> None:
    sections = _guide_sections()
    assert cls.__name__ in sections, f"docs/map-format.md has no '#### {cls.__name__}' section"
    keys = [field.alias or name for name, field in cls.model_fields.items()]
    listed = re.findall(r"^\| `(\w+)` \|", sections[cls.__name__], flags=re.MULTILINE)
    assert listed == keys
