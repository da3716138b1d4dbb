"""Templates as data, and `journeymap new` run in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.errors import TemplateNotFoundError
from journeymap.io.maps import check_map_text, dump_map, load_map
from journeymap.io.templates import list_templates, load_template
from journeymap.model import json_schema, validate_map
from journeymap.model.templates import (
    Template,
    build_map_from_template,
    localize_text,
    slugify_title,
)

TEMPLATES = ["b2b-sales", "digital-marketing", "lifecycle", "service-recovery"]
LANGS = ["en", "ko"]
TEMPLATE_DIR = Path(__file__).parents[1] / "src" / "journeymap" / "templates"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _minimal_template(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "tiny",
        "name": {"en": "Tiny"},
        "description": {"en": "A one-stage template"},
        "stages": [
            {
                "id": "only",
                "name": {"en": "Only stage"},
                "customer_goal": {"en": "Get it done"},
                "steps": [{"id": "do-it", "name": {"en": "Does it"}}],
            }
        ],
    }
    data.update(overrides)
    return data


# --- the shipped templates ------------------------------------------------------------


def test_list_templates_names_the_four_shipped_templates() -> None:
    assert list_templates() == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_file_is_named_after_its_id(name: str) -> None:
    assert load_template(name).id == name
    assert (TEMPLATE_DIR / f"{name}.yaml").is_file()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_builds_a_map_with_no_problems(name: str, lang: str) -> None:
    jmap = build_map_from_template(load_template(name), title="Test journey", lang=lang)
    # Validate again from the written text, as a user's `journeymap validate` would.
    text = dump_map(jmap)
    reread, problems = check_map_text(text, source=f"{name}.yaml")
    assert problems == []
    assert reread == jmap
    assert jmap.lang == lang
    assert name in jmap.tags


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema())


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_built_map_passes_the_json_schema(
    name: str, lang: str, schema_validator: jsonschema.Draft202012Validator
) -> None:
    jmap = build_map_from_template(load_template(name), title="Schema check", lang=lang)
    errors = list(schema_validator.iter_errors(json.loads(dump_map(jmap, "json"))))
    assert [e.message for e in errors] == []


def _texts(node: Any) -> list[dict[str, str]]:
    """Every localized text in a template (a dict with an 'en' key)."""
    if isinstance(node, BaseModel):
        return [t for name in type(node).model_fields for t in _texts(getattr(node, name))]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    if isinstance(node, dict) and "en" in node:
        return [node]
    return []


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_text_is_given_in_english_and_korean(name: str) -> None:
    texts = _texts(load_template(name))
    # A template has at least a name, a description, and a name and goal per stage.
    assert len(texts) >= 4
    assert [t for t in texts if set(t) != {"en", "ko"}] == []


@pytest.mark.parametrize(
    ("name", "ids", "korean"),
    [
        (
            "digital-marketing",
            ["awareness", "consideration", "purchase", "service", "loyalty"],
            ["인지", "고려", "구매", "서비스", "충성"],
        ),
        (
            "lifecycle",
            [
                "awareness",
                "consideration",
                "purchase",
                "onboarding",
                "engagement",
                "retention",
                "advocacy",
            ],
            ["인지", "고려", "결정·구매", "온보딩", "사용·참여", "유지", "추천"],
        ),
        ("service-recovery", ["use", "resolution", "feedback"], ["사용", "문제 해결", "피드백"]),
    ],
)
def test_template_has_the_stages_of_practice(name: str, ids: list[str], korean: list[str]) -> None:
    template = load_template(name)
    assert [s.id for s in template.stages] == ids
    assert template.stage_names("ko") == korean


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_stage_has_a_placeholder_step(name: str) -> None:
    template = load_template(name)
    assert all(len(stage.steps) >= 1 for stage in template.stages)


@pytest.mark.parametrize(
    ("lang", "milestones"),
    [
        ("en", ["Trade-show contact", "CRM entry", "Demo", "Trial", "Purchase"]),
        ("ko", ["전시회 접촉", "CRM 등록", "데모", "트라이얼", "구매"]),
    ],
)
def test_b2b_sales_carries_its_milestones_in_order(lang: str, milestones: list[str]) -> None:
    jmap = build_map_from_template(load_template("b2b-sales"), title="Deal", lang=lang)
    found = [step.milestone for _, step in jmap.all_steps() if step.milestone]
    assert found == milestones


def test_b2b_sales_fork_lets_the_buyer_choose_us_or_a_competitor() -> None:
    jmap = build_map_from_template(load_template("b2b-sales"), title="Deal")
    (fork,) = jmap.forks
    targets = {branch.id: branch.to for branch in fork.branches}
    assert targets == {"chooses-us": "purchase", "chooses-competitor": None}
    assert jmap.step(fork.at).name == "Compares the proposals"


# --- building a map ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Carla buys a backpack!", "carla-buys-a-backpack"),
        ("  Café  crème  ", "cafe-creme"),
        ("Q3 2026 — onboarding", "q3-2026-onboarding"),
        ("백팩 구매 여정", ""),
        ("2026 여정", ""),  # digits but no ASCII letter: not a meaningful id
    ],
)
def test_slugify_title(title: str, expected: str) -> None:
    assert slugify_title(title) == expected


def test_slugify_title_cuts_long_titles_at_a_word() -> None:
    title = "word " * 30  # 30 words of 4 letters; 12 of them with dashes make 59 chars
    slug = slugify_title(title)
    assert slug == "-".join(["word"] * 12)
    assert len(slug) == 59


@pytest.mark.parametrize(
    ("title", "map_id", "expected"),
    [
        ("Carla buys a backpack", None, "carla-buys-a-backpack"),
        ("백팩 구매 여정", None, "digital-marketing"),
        ("백팩 구매 여정", "backpack-ko", "backpack-ko"),
    ],
)
def test_map_id_defaults_to_a_slug_of_the_title(
    title: str, map_id: str | None, expected: str
) -> None:
    jmap = build_map_from_template(
        load_template("digital-marketing"), title=title, lang="ko", map_id=map_id
    )
    assert jmap.id == expected
    assert jmap.title == title


def test_korean_map_has_korean_stage_names_scope_and_description() -> None:
    jmap = build_map_from_template(load_template("digital-marketing"), title="여정", lang="ko")
    assert [s.name for s in jmap.stages] == ["인지", "고려", "구매", "서비스", "충성"]
    assert jmap.scope.journey == "디지털 마케팅 (5단계)"
    assert "웹" in jmap.scope.channels
    assert jmap.description is not None and "템플릿" in jmap.description


def test_scope_lists_exactly_the_channels_and_owners_the_steps_use() -> None:
    jmap = build_map_from_template(load_template("service-recovery"), title="Repair")
    channels = list(dict.fromkeys(s.channel for _, s in jmap.all_steps() if s.channel))
    owners = list(dict.fromkeys(s.owner for _, s in jmap.all_steps() if s.owner))
    assert jmap.scope.channels == channels
    assert jmap.scope.functions == owners
    # service-recovery: product → phone → delivery → email → word of mouth
    assert channels == ["product", "phone", "delivery", "email", "word of mouth"]


def test_text_missing_in_the_chosen_language_falls_back_to_english() -> None:
    template = Template.model_validate(_minimal_template())
    jmap = build_map_from_template(template, title="Tiny", lang="ko")
    assert jmap.lang == "ko"
    assert [s.name for s in jmap.stages] == ["Only stage"]
    assert localize_text({"en": "Awareness", "ko": "인지"}, "ko") == "인지"


def test_build_rejects_an_invalid_map_id() -> None:
    from journeymap.errors import MapValidationError

    with pytest.raises(MapValidationError, match="not a valid id"):
        build_map_from_template(load_template("lifecycle"), title="X", map_id="Not An Id")


def test_template_fork_pointing_at_a_missing_step_cannot_build() -> None:
    from journeymap.errors import MapValidationError

    fork = {
        "id": "f",
        "at": "no-such-step",
        "question": {"en": "?"},
        "branches": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}],
    }
    template = Template.model_validate(_minimal_template(forks=[fork]))
    with pytest.raises(MapValidationError, match="no-such-step"):
        build_map_from_template(template, title="Tiny")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ({"ko": "이름"}, "needs an 'en' entry"),
        ({"en": "Gets a fix", "a refund": None}, "not a language tag"),
        ({"en": "  "}, "empty for: en"),
    ],
)
def test_localized_text_must_be_well_formed(name: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Template.model_validate(_minimal_template(name=name))


def test_template_stage_without_steps_is_rejected() -> None:
    data = _minimal_template()
    data["stages"][0]["steps"] = []
    with pytest.raises(ValidationError, match="at least 1 item"):
        Template.model_validate(data)


# --- unknown templates -----------------------------------------------------------------


def test_unknown_template_gives_did_you_mean_and_the_list() -> None:
    with pytest.raises(TemplateNotFoundError) as caught:
        load_template("digtal-marketing")
    message = str(caught.value)
    assert "no template named 'digtal-marketing'" in message
    assert "did you mean 'digital-marketing'?" in message
    assert "available templates: b2b-sales, digital-marketing, lifecycle, service-recovery" in (
        message
    )
    assert isinstance(caught.value, LookupError)


def test_template_prefix_suggests_the_one_template_it_starts() -> None:
    with pytest.raises(TemplateNotFoundError, match="did you mean 'b2b-sales'"):
        load_template("b2b")


def test_unrelated_template_name_lists_templates_without_a_guess() -> None:
    with pytest.raises(TemplateNotFoundError) as caught:
        load_template("zzz")
    assert "did you mean" not in str(caught.value)
    assert "available templates:" in str(caught.value)


@pytest.mark.parametrize("name", ["Lifecycle", " lifecycle ", "lifecycle.yaml"])
def test_template_names_are_forgiving_about_case_space_and_suffix(name: str) -> None:
    assert load_template(name).id == "lifecycle"


# --- `journeymap new` ----------------------------------------------------------------


def test_new_writes_a_yaml_map_that_validates(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "trip.yaml"
    result = runner.invoke(app, ["new", str(out), "--title", "Carla buys a backpack"])
    assert result.exit_code == 0, result.output
    jmap = load_map(out)
    assert jmap.id == "carla-buys-a-backpack"
    assert [s.id for s in jmap.stages] == [
        "awareness",
        "consideration",
        "purchase",
        "service",
        "loyalty",
    ]
    assert f"wrote {out}" in result.stdout
    assert f"journeymap validate {out}" in result.stdout
    validated = runner.invoke(app, ["validate", "--strict", str(out)])
    assert validated.exit_code == 0, validated.output


def test_new_with_lang_ko_writes_korean_stage_names(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "여정.yaml"
    args = ["new", str(out), "-t", "lifecycle", "--lang", "ko", "--title", "구독 여정"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["lang"] == "ko"
    assert data["id"] == "lifecycle"
    assert [s["name"] for s in data["stages"]] == [
        "인지",
        "고려",
        "결정·구매",
        "온보딩",
        "사용·참여",
        "유지",
        "추천",
    ]
    # Hangul is written as is, not as \\u escapes.
    assert "name: 인지" in out.read_text(encoding="utf-8")


def test_new_writes_json_when_the_extension_says_so(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "deal.json"
    result = runner.invoke(app, ["new", str(out), "-t", "b2b-sales", "--title", "Deal"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["schema"] == "journeymap/1"
    assert data["forks"][0]["id"] == "vendor-choice"
    _, problems = validate_map(data)
    assert problems == []


def test_new_creates_missing_folders(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "maps" / "2026" / "trip.yml"
    result = runner.invoke(app, ["new", str(out), "--title", "Trip"])
    assert result.exit_code == 0, result.output
    assert load_map(out).title == "Trip"


def test_new_refuses_to_overwrite_without_force(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("my own work\n", encoding="utf-8")
    result = runner.invoke(app, ["new", str(out), "--title", "Trip"])
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert "--force" in result.stderr
    assert out.read_text(encoding="utf-8") == "my own work\n"


def test_new_overwrites_with_force(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("my own work\n", encoding="utf-8")
    result = runner.invoke(app, ["new", str(out), "--title", "Trip", "--force"])
    assert result.exit_code == 0, result.output
    assert load_map(out).title == "Trip"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-t", "digtal-marketing", "--title", "T"], 1, "did you mean 'digital-marketing'?"),
        (["--title", "T", "--lang", "kr"], 2, "did you mean 'ko'?"),
        (["--title", "T", "--lang", "fr"], 2, "written in en, ko"),
        (["--title", "  "], 2, "give the map a title"),
        ([], 2, "give the map a title"),
        (["--title", "T", "--id", "Bad Id"], 2, "e.g. 'bad-id'"),
    ],
)
def test_new_usage_mistakes_exit_with_a_message(
    runner: CliRunner, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    out = tmp_path / "m.yaml"
    result = runner.invoke(app, ["new", str(out), *args])
    assert result.exit_code == code
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert not out.exists()


def test_new_rejects_a_file_type_it_cannot_write(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "m.txt"
    result = runner.invoke(app, ["new", str(out), "--title", "T"])
    assert result.exit_code == 1
    assert "use a .yaml, .yml or .json file" in result.stderr
    assert not out.exists()


def test_new_without_output_asks_for_a_file(runner: CliRunner) -> None:
    result = runner.invoke(app, ["new", "--title", "T"])
    assert result.exit_code == 2
    assert "give the file to write" in result.stderr


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Awareness → Consideration → Purchase → Service → Loyalty"),
        ("ko", "인지 → 고려 → 구매 → 서비스 → 충성"),
    ],
)
def test_new_list_prints_templates_with_their_stages(
    runner: CliRunner, lang: str, expected: str
) -> None:
    result = runner.invoke(app, ["new", "--list", "--lang", lang])
    assert result.exit_code == 0, result.output
    for name in TEMPLATES:
        assert name in result.stdout
    assert expected in result.stdout


def test_new_has_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["new", "--help"])
    assert result.exit_code == 0
    assert "--template" in result.stdout
    assert "--lang" in result.stdout


def test_loaded_templates_are_independent_copies() -> None:
    first = load_template("lifecycle")
    first.stages[0].name["en"] = "Changed by a caller"
    assert load_template("lifecycle").stages[0].name["en"] == "Awareness"


def test_new_refuses_a_folder_even_with_force(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "maps.yaml"
    folder.mkdir()
    result = runner.invoke(app, ["new", str(folder), "--title", "T", "--force"])
    assert result.exit_code == 1
    assert "is a folder" in result.stderr
    assert folder.is_dir()


def test_new_reports_a_file_it_cannot_write(runner: CliRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    result = runner.invoke(app, ["new", str(blocker / "m.yaml"), "--title", "T"])
    assert result.exit_code == 1
    assert f"cannot write {blocker / 'm.yaml'}" in " ".join(result.stderr.split())
    assert "internal error" not in result.stderr
