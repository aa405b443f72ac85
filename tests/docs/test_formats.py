"""docs/formats/ stays honest: every key each parser knows is documented (and nothing else),
each page's example parses with the real parser, and every parser refuses unknown keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.data import features, validation
from core.documents import datasheet, modelcard, reporting
from core.evidence import score_spec
from core.evidence import suite as evaluation_suite
from core.governance import policy, rules
from core.kernel.errors import UsageError
from core.modelling import spec as training_spec
from core.modelling.outcome import OutcomeTable
from core.operations import ops_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "formats"
SAMPLE = ROOT / "sample_data" / "german-credit"
HEADING = re.compile(r"^###\s+(.+?)\s*$")
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")

ANSWERS = {
    "datasheet-answers.md": datasheet.QUESTIONS,
    "model-card-answers.md": modelcard.CARD_QUESTIONS,
    "impact-answers.md": tuple(k for k, _, _ in modelcard.IMPACT_QUESTIONS),
}


def documented() -> dict[str, dict[str, set[str]]]:
    """What the parsers know, as each page must list it: page -> table heading -> keys."""
    checks = {
        f'type = "{kind}"': required | validation.OPTIONAL[kind]
        for kind, required in validation.CHECK_TYPES.items()
    }
    return {
        "validation-suite.md": {
            "[suite]": set(validation.SUITE_KEYS),
            "[[checks]]": set(validation.COMMON),
            **checks,
        },
        "training-spec.md": {f"[{s}]": set(keys) for s, keys in training_spec.SPEC_KEYS.items()},
        "feature-view.md": {
            f"[{s}]": set(keys) if keys is not None else {"ALIAS"}
            for s, keys in features.SECTIONS.items()
        },
        "evaluation-suite.md": {
            f"[{s}]": set(keys) for s, keys in evaluation_suite.SECTION_KEYS.items()
        },
        "score-spec.md": {
            "[score]": set(score_spec.ScoreTable.model_fields),
            "[outcome]": set(OutcomeTable.model_fields),
        },
        "policy-bundle.md": {
            "[bundle]": {"name", "version"},
            "[governance]": set(rules.Rules.model_fields),
            "[[governance.bands]]": set(rules.Band.model_fields),
            "[[governance.tiers]]": set(rules.Tier.model_fields),
        },
        "slo.md": {
            "[slo]": set(ops_config.SloHeader.model_fields),
            "[[objectives]]": set(ops_config.Objective.model_fields),
        },
        "playbook.md": {
            "[playbook]": set(ops_config.PlaybookHeader.model_fields),
            "[[steps]]": set(ops_config.Step.model_fields),
        },
        **{page: {"Questions": set(questions)} for page, questions in ANSWERS.items()},
        "impact-answers.md": {
            "Questions": set(ANSWERS["impact-answers.md"]),
            "[[thresholds]]": {"measure", "min", "max", "attributes", "action"},
        },
        "pipeline.md": _pipeline_keys(),
        "baseline.md": {"[baseline]": {"name", "score", "threshold"}},
    }


def _pipeline_keys() -> dict[str, set[str]]:
    """The pipeline format's keys: the header, the keys every step has, each kind's own."""
    import typing

    from core.operations import pipeline

    model = pipeline._models()
    fields = model.model_fields
    header = {f.alias or n for n, f in fields["pipeline"].annotation.model_fields.items()}
    step_union = typing.get_args(typing.get_args(fields["step"].annotation)[0])[0]
    kinds = typing.get_args(step_union)
    common = {f.alias or n for n, f in kinds[0].__mro__[1].model_fields.items()} | {"do"}
    out = {"[pipeline]": header, "[[step]]": common}
    for kind in kinds:
        do = typing.get_args(kind.model_fields["do"].annotation)[0]
        own = {f.alias or n for n, f in kind.model_fields.items()} - common
        out[f'do = "{do}"'] = own
    return out


def key_tables(page: str) -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    current = None
    for line in (DOCS / page).read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading.group(1).strip("`")
            continue
        row = ROW.match(line)
        if row and current is not None:
            tables.setdefault(current, set()).add(row.group(1))
    return tables


def example(page: str, lang: str = "toml") -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    after = text[text.index("\n## Example\n") :]
    start = after.index(f"```{lang}\n") + len(f"```{lang}\n")
    return after[start : after.index("\n```", start)] + "\n"


def parse(page: str, text: str, folder: Path) -> Any:
    """Parse a page's format with the parser ledgerml uses for it."""
    path = folder / "file.toml"
    path.write_text(text, encoding="utf-8")
    if page == "validation-suite.md":
        return validation.load_suite(path)
    if page == "training-spec.md":
        return training_spec.load_spec(path)
    if page == "feature-view.md":
        sql = re.search(r'^sql = "(.+)"$', text, re.MULTILINE)
        if sql:
            (folder / sql.group(1)).write_text(example(page, "sql"), encoding="utf-8")
        return features.load_view(path)
    if page == "evaluation-suite.md":
        return evaluation_suite.load_suite(path)
    if page == "score-spec.md":
        return score_spec.load(path)[0]
    if page == "policy-bundle.md":
        bundle = folder / "bundle"
        bundle.mkdir(exist_ok=True)
        (bundle / "bundle.toml").write_text(text, encoding="utf-8")
        (bundle / "gate.rego").write_text("package ledgerml.gate\n", encoding="utf-8")
        loaded = policy.load_dir(bundle)
        return loaded, rules.parse(loaded.data, where="bundle.toml")
    if page in ("slo.md", "playbook.md"):
        return ops_config.load(page.removesuffix(".md"), path)
    if page == "pipeline.md":
        from core.operations import pipeline

        return pipeline.load(path)
    if page == "baseline.md":
        from core.operations import baselines

        return baselines.load_baseline(path)
    if page == "impact-answers.md":
        from core.documents import mitigations

        mitigations.read(path)  # the thresholds parse strictly too
        return reporting.read_answers(path, ANSWERS[page], structured=("thresholds",))
    return reporting.read_answers(path, ANSWERS[page])


def test_the_index_links_every_page_and_the_readme_links_the_index() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    # byte-level records ledgerml writes, not TOML a team writes
    records = {"decision-log.md", "sealed-object.md", "deletion-receipt.md", "retention-log.md"}
    assert {p.name for p in DOCS.glob("*.md")} - {"README.md"} - records == set(documented())
    for page in records:
        assert f"]({page})" in index, page
    for page in documented():
        assert f"]({page})" in index, page
    assert "](docs/formats/README.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", sorted(documented()))
def test_every_key_the_parser_knows_is_documented_and_nothing_else(page: str) -> None:
    assert key_tables(page) == documented()[page]


def test_the_data_suite_page_marks_exactly_the_required_keys() -> None:
    required: dict[str, set[str]] = {}
    current = None
    for line in (DOCS / "validation-suite.md").read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading.group(1).strip("`")
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if current and ROW.match(line) and cells[3] == "yes":
            required.setdefault(current, set()).add(cells[0].strip("`"))
    for kind, keys in validation.CHECK_TYPES.items():
        assert required.get(f'type = "{kind}"', set()) == keys, kind
    assert required["[[checks]]"] == {"type"}


def test_evaluation_sections_agree() -> None:
    assert set(evaluation_suite.SECTION_KEYS) == {"evaluation", *evaluation_suite.SECTIONS}
    assert set(validation.OPTIONAL) == set(validation.CHECK_TYPES)


@pytest.mark.parametrize("page", sorted(documented()))
def test_each_example_parses_with_the_real_parser(page: str, tmp_path: Path) -> None:
    parsed = parse(page, example(page), tmp_path)
    text = example(page)
    if page == "validation-suite.md":
        assert len(parsed.checks) == text.count("[[checks]]") and parsed.name
    elif page == "training-spec.md":
        assert parsed.features and parsed.estimator == "random_forest"
    elif page == "feature-view.md":
        assert parsed["inputs"] == {"raw": "german-credit@1"} and parsed["sql"].strip()
    elif page == "evaluation-suite.md":
        assert set(parsed[0]) == set(evaluation_suite.SECTION_KEYS)
    elif page == "score-spec.md":
        assert parsed.column == "vendor_score" and parsed.outcome.favourable == "negative"
    elif page == "policy-bundle.md":
        loaded, parsed_rules = parsed
        assert loaded.name == "example" and parsed_rules.tier_of(4, 3) == 1
        assert parsed_rules.tier(1).roles == ["validator", "compliance", "data-owner"]
    elif page == "slo.md":
        assert [o["name"] for o in parsed["objectives"]] == [
            "accuracy-floor",
            "stable-inputs",
            "four-fifths",
            "fast",
        ]
    elif page == "playbook.md":
        assert [s["action"] for s in parsed["steps"]] == [
            "rollback",
            "throttle",
            "fallback",
            "baseline",
        ]
    elif page == "pipeline.md":
        from core.operations.pipeline import STEP_KINDS

        assert parsed.name == "credit-risk-ci"
        assert list(dict.fromkeys(s.do for s in parsed.steps)) == list(STEP_KINDS)
    elif page == "baseline.md":
        assert parsed["name"] == "duration-rule" and parsed["columns"] == ["duration_months"]
    else:
        assert set(parsed) == set(ANSWERS[page])  # the example answers every question


def inject(text: str, header: str, line: str) -> str:
    """Put ``line`` at the top of the first table called ``header`` (or of the file)."""
    if not header:
        return line + "\n" + text
    marker = f"\n{header}\n"
    assert marker in "\n" + text, header
    return ("\n" + text).replace(marker, f"{marker}{line}\n", 1)[1:]


@pytest.mark.parametrize("page", sorted(documented()))
def test_unknown_keys_are_refused_at_every_level(page: str, tmp_path: Path) -> None:
    text = example(page)
    if page in ANSWERS:
        places = [""]
    else:
        places = [f"[{s}]" for s in re.findall(r"^\[([a-z_]+)\]$", text, re.MULTILINE)]
        if "[[checks]]" in text:
            places.append("[[checks]]")
        with pytest.raises(UsageError, match="bogus_section"):
            parse(page, text + "\n[bogus_section]\nx = 1\n", tmp_path)
    for place in places:
        if page == "feature-view.md" and place == "[inputs]":
            continue  # any alias is a key there
        with pytest.raises(UsageError, match="bogus_key"):
            parse(page, inject(text, place, 'bogus_key = "x"'), tmp_path)


REQUIRED_VALUES: dict[str, Any] = {
    "column": '"column01"',
    "max": "1",
    "values": "[1, 2]",
    "pattern": '"A.*"',
    "q": "0.5",
    "reference": '"german-credit@1"',
    "method": '"ks"',
}
OPTIONAL_VALUES = {
    "dtype": '"int"',
    "min": "0",
    "max": "1",
    "column": '"column01"',
    "columns": '["column01", "column02"]',
    "min_p": "0.01",
}


@pytest.mark.parametrize("kind", sorted(validation.CHECK_TYPES))
def test_each_check_type_takes_its_keys_and_no_other(kind: str, tmp_path: Path) -> None:
    required = validation.CHECK_TYPES[kind]
    base = [f'type = "{kind}"', *(f"{k} = {REQUIRED_VALUES[k]}" for k in sorted(required))]
    if kind == "unique":
        base.append('column = "column01"')
    if kind == "range":
        base.append("min = 0")
    given = {line.split(" = ")[0] for line in base}
    every = set(OPTIONAL_VALUES) | {k for keys in validation.CHECK_TYPES.values() for k in keys}
    for key in sorted(validation.OPTIONAL[kind] - given):
        lines = [*base, f"{key} = {OPTIONAL_VALUES[key]}"]
        suite = parse("validation-suite.md", "[[checks]]\n" + "\n".join(lines) + "\n", tmp_path)
        assert key in suite.checks[0], (kind, key)
    for key in sorted(every - required - validation.OPTIONAL[kind]):
        value = OPTIONAL_VALUES.get(key) or REQUIRED_VALUES[key]
        body = "[[checks]]\n" + "\n".join([*base, f"{key} = {value}"]) + "\n"
        with pytest.raises(UsageError, match=f"unknown setting '{key}'"):
            parse("validation-suite.md", body, tmp_path)


@pytest.mark.parametrize(
    ("page", "text", "message"),
    [
        ("datasheet-answers.md", "motivation = 3\n", "motivation must be text"),
        ("datasheet-answers.md", "[uses]\nx = 'y'\n", "uses must be text"),
        ("training-spec.md", None, "features must be a list"),
        ("feature-view.md", None, "sensitive: Input should be a valid list"),
        ("feature-view.md", None, "invalid retention"),
        ("evaluation-suite.md", None, "bootstrap must be a whole number"),
        ("validation-suite.md", None, "min_p needs method ks or chi2"),
    ],
)
def test_mistyped_values_are_refused(
    page: str, text: str | None, message: str, tmp_path: Path
) -> None:
    edits = {
        "features must be a list": ("features = [", 'features = "checking_account" #['),
        "sensitive: Input should be a valid list": (
            'sensitive = ["age_years", "age_group"]',
            'sensitive = "age"',
        ),
        "invalid retention": ('retention = "7y"', 'retention = "forever"'),
        "bootstrap must be a whole number": ("bootstrap = 200", "bootstrap = 2.5"),
        "min_p needs method ks or chi2": ('method = "ks"', 'method = "psi"'),
    }
    if text is None:
        old, new = edits[message]
        original = example(page)
        assert old in original
        text = original.replace(old, new, 1)
    with pytest.raises(UsageError, match=message):
        parse(page, text, tmp_path)


@pytest.mark.parametrize(
    ("name", "page"),
    [
        ("raw_suite.toml", "validation-suite.md"),
        ("features_suite.toml", "validation-suite.md"),
        ("train.toml", "training-spec.md"),
        ("evaluation.toml", "evaluation-suite.md"),
        ("datasheet.toml", "datasheet-answers.md"),
        ("datasheet_features.toml", "datasheet-answers.md"),
        ("model_card.toml", "model-card-answers.md"),
        ("impact_answers.toml", "impact-answers.md"),
    ],
)
def test_the_sample_files_parse_strictly(name: str, page: str, tmp_path: Path) -> None:
    assert parse(page, (SAMPLE / name).read_text(encoding="utf-8"), tmp_path)


def test_the_sample_feature_view_parses_strictly() -> None:
    view = features.load_view(SAMPLE / "features.toml")
    assert view["inputs"] == {"raw": "german-credit@1"}
