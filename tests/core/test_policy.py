"""Policies as code: the default pack's rules on fixtures and on real facts, the register and
export gates, dry runs, and audit verify re-evaluating every recorded decision."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.audit.verification import verify
from core.governance import policy, policy_views
from core.governance.policy import PolicyDeniedError
from core.identity import actors, keys
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.workspace import Workspace
from tests.conftest import budget

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "sample_data" / "german-credit"
DEFAULT = ROOT / "sample_data" / "policies" / "default"


def build_team(root: Path) -> tuple[Workspace, str]:
    """A workspace: admin alice, data scientist sam, validator val; sam trained a model.

    Returns the workspace and the run id (nothing is registered yet).
    """
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.modelling import training

    ws = admin.init(root, "alice", reason="test")
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "val", ["validator"])
    keys.create(ws, "val")
    snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "alice", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    return ws, run.run_id


def write_bundle(folder: Path, rego: str, cases: str, *, name: str = "custom") -> Path:
    """A policy folder with the default pack's governance data and the given rules."""
    folder.mkdir(parents=True)
    manifest = (DEFAULT / "bundle.toml").read_text().replace('name = "default"', f'name = "{name}"')
    (folder / "bundle.toml").write_text(manifest)
    (folder / "rules.rego").write_text("package ledgerml.gate\n\nimport rego.v1\n\n" + rego)
    (folder / "tests").mkdir()
    (folder / "tests" / "cases.toml").write_text(cases)
    return folder


BLOCK_REGO = """
deny contains msg if {
	input.gate == "register"
	input.model.name == "blocked"
	msg := concat("", [input.model.ref, " is blocked by name"])
}
"""
BLOCK_CASES = """
[[case]]
name = "blocked"
gate = "register"
allow = false
reason = "blocked by name"
input.model = { ref = "blocked@1", name = "blocked" }

[[case]]
name = "others"
gate = "register"
allow = true
input.model = { ref = "credit-risk@1", name = "credit-risk" }
"""


def ledger_size(ws: Workspace) -> int:
    return ws.ledger.head()[0]


def event(ws: Workspace, seq: int) -> dict[str, Any]:
    return ws.ledger.entry(seq).decode()


# ---- the default pack on its fixtures ---------------------------------------------------


def test_default_pack_passes_every_fixture_and_covers_every_rule() -> None:
    bundle = policy.load_dir(DEFAULT)
    results = policy.run_tests(bundle)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    files = {r.name.split(":")[0] for r in results}
    assert files == {
        "dpia.toml",
        "fairness.toml",
        "approvals.toml",
        "separation.toml",
        "validation.toml",
        "roles.toml",
        "deploy.toml",
        "erase.toml",
    }
    for file, doc in bundle.tests.items():  # every rule file has both paths
        allows = {bool(c["allow"]) for c in doc["case"]}
        assert allows == {True, False}, file
        assert all(c.get("reason") for c in doc["case"] if not c["allow"]), file


@pytest.mark.parametrize(
    "module",
    [
        "dpia.rego",
        "fairness.rego",
        "approvals.rego",
        "separation.rego",
        "validation.rego",
        "roles.rego",
        "deploy.rego",
    ],
)
def test_every_rule_module_is_load_bearing(tmp_path: Path, module: str) -> None:
    """Dropping a rule's module must fail a fixture: the deny path of each rule is tested."""
    folder = tmp_path / "pack"
    shutil.copytree(DEFAULT, folder)
    (folder / module).unlink()
    results = policy.run_tests(policy.load_dir(folder))
    assert any(not r.passed for r in results)


def test_a_misspelt_function_is_caught_by_the_fixtures(tmp_path: Path) -> None:
    """Rego pitfall: a rule calling an undefined function may deny nothing, silently."""
    folder = tmp_path / "pack"
    shutil.copytree(DEFAULT, folder)
    roles = folder / "roles.rego"
    roles.write_text(
        roles.read_text().replace("role_held if actor_has(", "role_held if actor_hass(")
    )
    try:
        results = policy.run_tests(policy.load_dir(folder))
    except policy.PolicyError:
        return  # refusing to compile is as good
    failed = [r.name for r in results if not r.passed]
    assert any("roles.toml" in name for name in failed)


def test_deny_reasons_say_what_to_do() -> None:
    bundle = policy.load_dir(DEFAULT)
    base = bundle.tests["dpia.toml"]["case"][2]
    decision = policy.decide(bundle, base["gate"], base["input"])
    assert not decision.allow
    [reason] = decision.reasons
    assert "credit-risk@1" in reason and "DPIA" in reason and "`ledgerml model risk" in reason
    assert decision.input["gate"] == "register"


def test_decide_refuses_an_unknown_gate() -> None:
    with pytest.raises(UsageError, match="unknown gate"):
        policy.decide(policy.load_dir(DEFAULT), "launch", {})


def test_a_reason_quoting_the_input_survives_any_characters() -> None:
    """rego-cpp writes strings unescaped in its JSON answer; the plan answers in base64."""
    column = 'naïve "q" \\ \u2028'
    decision = policy.decide(
        policy.load_dir(DEFAULT),
        "score",
        {"model": {"ref": "m@1", "name": "m", "pii_inputs": True, "pii_columns": [column]}},
    )
    [reason] = decision.reasons
    assert f"m@1 reads PII columns ({column})" in reason


def test_a_reason_that_is_not_a_string_is_an_error_not_dropped(tmp_path: Path) -> None:
    folder = write_bundle(
        tmp_path / "b",
        'deny contains msg if {\n\tinput.gate == "score"\n\tmsg := 42\n}\n',
        '[[case]]\nname = "x"\ngate = "register"\nallow = true\n',
    )
    bundle = policy.load_dir(folder)
    with pytest.raises(policy.PolicyError, match="not strings"):
        policy.decide(bundle, "score", {})


# ---- gates on a real workspace ----------------------------------------------------------


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str]:
    return build_team(tmp_path_factory.mktemp("policy") / "ws")


def test_without_a_policy_register_records_no_decision(team: tuple[Workspace, str]) -> None:
    from core.modelling import models

    ws, run_id = team
    row, created = models.register(ws, "sam", run_id, "before-policy")
    assert created
    assert "policy" not in event(ws, row.seq)
    with pytest.raises(NotFoundError, match="no policy is installed"):
        policy_views.check(ws, "register", row.ref, actor="sam")


def test_install_records_an_admins_event_and_installing_twice_changes_nothing(
    team: tuple[Workspace, str],
) -> None:
    ws, _ = team
    before = ledger_size(ws)
    bundle, installed = policy.install(ws, "alice", DEFAULT, "adopt the default pack")
    assert installed and ledger_size(ws) == before + 1
    body = event(ws, before + 1)
    assert body["action"] == "policy.install" and body["data"]["digest"] == bundle.digest
    again, installed = policy.install(ws, "alice", DEFAULT, "again")
    assert not installed and again.digest == bundle.digest and ledger_size(ws) == before + 1
    [line] = [i for i in policy_views.installs(ws) if i.in_force]
    assert line.digest == bundle.digest and line.installed_by == "alice"
    shown = policy_views.show(ws)
    assert shown.in_force and shown.fixtures() == 72 and shown.bundle.name == "default"
    assert policy_views.show(ws, bundle.digest[7:19]).bundle.digest == bundle.digest


def test_register_under_policy_carries_its_allow_decision(team: tuple[Workspace, str]) -> None:
    from core.modelling import models

    ws, run_id = team
    row, _ = models.register(ws, "sam", run_id, "credit-risk")
    member = event(ws, row.seq)["policy"]
    assert member["gate"] == "register" and member["allow"] is True and member["reasons"] == []
    assert member["bundle"] == policy.load_dir(DEFAULT).digest
    seen = member["input"]
    assert seen["subject"] == f"model:{row.ref}" and seen["actor"]["name"] == "sam"
    assert seen["actor"]["roles"] == ["data-scientist"]
    facts = seen["model"]
    assert facts["ref"] == row.ref and facts["digest"] == row.model_digest
    assert facts["developers"] == ["sam"] and facts["pii_inputs"] is False
    assert facts["tier"] == 1 and facts["tier_assessed"] is False  # untiered = 1
    decided = policy_views.decisions(ws, model=row.ref)
    assert [(d.seq, d.gate, d.allow) for d in decided] == [(row.seq, "register", True)]


def test_policy_check_is_a_dry_run_on_real_facts(team: tuple[Workspace, str]) -> None:
    ws, _ = team
    before = ledger_size(ws)
    as_sam = policy_views.check(
        ws, "promote", "credit-risk@1", actor="sam", request={"to_stage": "validated"}
    )
    assert not as_sam.allow
    assert any("sam does not hold the validator role" in r for r in as_sam.reasons)
    as_val = policy_views.check(
        ws, "promote", "credit-risk@1", actor="val", request={"to_stage": "validated"}
    )
    assert as_val.reasons == [
        "credit-risk@1 has no evaluation evidence; record one with `ledgerml evaluate "
        "credit-risk@1 --suite SUITE` before promoting it to validated"
    ]
    self_approval = policy_views.check(
        ws,
        "approve",
        "credit-risk@1",
        actor="sam",
        request={"stage": "approved", "decision": "approve", "role": "validator"},
    )
    assert any("sam developed credit-risk@1" in r for r in self_approval.reasons)
    assert any("does not hold the role validator" in r for r in self_approval.reasons)
    assert self_approval.input["approvals"]["stage"] == "approved"
    to_approved = policy_views.check(
        ws, "promote", "credit-risk@1", actor="sam", request={"to_stage": "approved"}
    )
    assert to_approved.input["request"] == {
        "to_stage": "approved",
        "from_stage": "candidate",
        "break_glass": False,
    }
    check = to_approved.input["approvals"]["check"]
    assert check["ok"] is False and check["k"] == 4  # untiered: tier 1, four people
    assert any("credit-risk@1 lacks the approvals tier 1 needs" in r for r in to_approved.reasons)
    assert ledger_size(ws) == before  # nothing recorded


def test_policy_check_with_a_given_input(team: tuple[Workspace, str], tmp_path: Path) -> None:
    ws, _ = team
    case = policy.load_dir(DEFAULT).tests["separation.toml"]["case"][1]
    given = tmp_path / "input.json"
    given.write_text(json.dumps(case["input"]))
    decision = policy_views.check(ws, "approve", "credit-risk@1", input_file=given)
    assert not decision.allow and decision.input["model"]["developers"] == ["sam"]
    given.write_text("[1, 2]")
    with pytest.raises(UsageError, match="no JSON object"):
        policy_views.check(ws, "approve", "credit-risk@1", input_file=given)
    given.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read"):
        policy_views.check(ws, "approve", "credit-risk@1", input_file=given)
    with pytest.raises(UsageError, match="unknown gate"):
        policy_views.check(ws, "launch", "credit-risk@1")
    with pytest.raises(NotFoundError):
        policy_views.check(ws, "register", "nope@9")


def test_a_denied_register_is_recorded_and_registers_nothing(
    team: tuple[Workspace, str], tmp_path: Path
) -> None:
    from core.modelling import models

    ws, run_id = team
    strict = write_bundle(tmp_path / "strict", BLOCK_REGO, BLOCK_CASES)
    policy.install(ws, "alice", strict, "block one name")
    before = ledger_size(ws)
    with pytest.raises(PolicyDeniedError, match="blocked@1 is blocked by name"):
        models.register(ws, "sam", run_id, "blocked")
    assert ledger_size(ws) == before + 1
    body = event(ws, before + 1)
    assert body["action"] == "policy.deny" and body["actor"] == "sam"
    assert body["data"] == {"gate": "register", "subject": "model:blocked@1"}
    assert body["policy"]["allow"] is False
    assert body["policy"]["reasons"] == ["blocked@1 is blocked by name"]
    assert body["policy"]["bundle"] == policy.load_dir(strict).digest
    with ws.session() as s:
        assert s.catalog.models("blocked") == []
    [denied] = policy_views.decisions(ws, deny_only=True)
    assert denied.seq == before + 1 and denied.subject == "model:blocked@1"
    # a name the policy allows registers under the new bundle
    row, _ = models.register(ws, "sam", run_id, "fine")
    assert event(ws, row.seq)["policy"]["bundle"] == policy.load_dir(strict).digest
    policy.install(ws, "alice", DEFAULT, "back to the default pack")


def test_export_carries_its_decision(team: tuple[Workspace, str], tmp_path: Path) -> None:
    from core.audit import bundle as bundles
    from core.modelling import models

    ws, _ = team
    models.sign(ws, "alice", "credit-risk@1")
    bundles.export(ws, "alice", "credit-risk@1", tmp_path / "b.zip")
    size = ledger_size(ws)
    found = [event(ws, seq) for seq in range(size - 2, size + 1)]
    [exported] = [b for b in found if b["action"] == "bundle.export"]
    assert exported["policy"]["gate"] == "export" and exported["policy"]["allow"] is True
    assert exported["policy"]["input"]["model"]["developers"] == ["alice", "sam"]


def test_audit_verify_re_evaluates_every_decision(team: tuple[Workspace, str]) -> None:
    from core.audit import policy_checks
    from core.identity.signer import authority_of

    ws, _ = team
    report = verify(ws)
    assert report.ok, report.failures
    with ws.session() as s:
        auth = authority_of(s)
    assert policy_checks.problems(ws, auth, ledger_size(ws)) == []
    decided = policy_views.decisions(ws)
    assert {d.gate for d in decided} == {"register", "export"}
    assert any(not d.allow for d in decided)


# ---- properties over generated inputs ---------------------------------------------------

_VERDICT = st.sampled_from(["PASS", "WARN", "INCONCLUSIVE", "FAIL"]) | st.none()
_ROLE = st.sampled_from(["validator", "approver", "admin", "data-scientist", "compliance"])


@st.composite
def gate_inputs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A gate input with the fields the default pack reads, each value drawn (some omitted)."""
    gate = draw(st.sampled_from(policy.GATES))
    name = draw(st.sampled_from(["sam", "val", "cora", "alice"]))
    model: dict[str, Any] = {
        "ref": "m@1",
        "name": "m",
        "tier": draw(st.integers(1, 3)),
        "pii_inputs": draw(st.booleans()),
        "pii_columns": draw(st.lists(st.sampled_from(["age", "zip"]), max_size=2)),
        "developers": draw(st.lists(st.sampled_from(["sam", "val", "alice"]), max_size=2)),
        "verdicts": {"evaluation": draw(_VERDICT), "fairness": draw(_VERDICT)},
        "evidence_age_days": {"evaluation": draw(st.floats(0, 500))},
    }
    if draw(st.booleans()):
        model["dpia"] = draw(st.sampled_from(["DPIA-1", ""]))
    doc: dict[str, Any] = {
        "actor": {"name": name, "roles": draw(st.lists(_ROLE, max_size=3)), "kind": "person"},
        "subject": "model:m@1",
        "model": model,
        "request": {
            "to_stage": draw(st.sampled_from(["validated", "approved", "retired"])),
            "break_glass": draw(st.booleans()),
            "decision": draw(st.sampled_from(["approve", "reject"])),
            "role": draw(_ROLE),
            "stage": "approved",
        },
        "approvals": {"check": {"ok": draw(st.booleans()), "missing_roles": [], "problems": []}},
    }
    return gate, doc


@functools.cache
def _default_engine() -> policy.Engine:
    """The default pack's compiled engine, loaded once for all examples: reading the pack's
    files and digesting it cost more than the two queries each example compares."""
    return policy.engine(policy.load_dir(DEFAULT))


@settings(
    max_examples=budget(100, 2000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(gate_inputs())
def test_the_compiled_plan_answers_as_the_plain_query_and_the_rules_hold(
    case: tuple[str, dict[str, Any]],
) -> None:
    gate, doc = case
    full = {"gate": gate, **doc}
    engine = _default_engine()
    planned = engine.deny_reasons(full)
    assert planned == engine.deny_reasons_unplanned(full)
    denied = bool(planned)
    model, request, actor = doc["model"], doc["request"], doc["actor"]
    if gate == "approve" and actor["name"] in model["developers"]:
        assert denied  # (d) no self-approval, admins included
    if gate == "approve" and request["role"] not in actor["roles"]:
        assert denied  # (f)
    promote_to = request["to_stage"] if gate == "promote" else None
    glass = request["break_glass"] and "admin" in actor["roles"]
    if promote_to == "approved" and not doc["approvals"]["check"]["ok"] and not glass:
        assert denied  # (c)
    if promote_to == "validated" and "validator" not in actor["roles"]:
        assert denied  # (e)
    reduces = (gate == "approve" and request["decision"] == "reject") or promote_to == "retired"
    dpia_gate = gate in ("register", "promote", "approve", "deploy", "score")
    if dpia_gate and not reduces and model["pii_inputs"] and not model.get("dpia"):
        assert denied  # (a)
    if gate == "erase":
        assert "erasure" not in doc and denied  # no declared legal basis: erasure fails closed
    elif gate in ("register", "export", "score", "risk") and denied:
        assert gate in ("register", "score") and model["pii_inputs"]  # only (a) applies there


def test_the_bundle_verifiers_identity_follows_policy_installs() -> None:
    """The stand-alone verifier learns the policy in force like other authority state."""
    from storage.bundle_verifier import FORMAT, GOVERNED, _Identity

    ident = _Identity(FORMAT, "ws", [], [], None)
    assert ident.policy_at(5) is None
    ident.note(3, {"action": "policy.install", "data": {"digest": "sha256:aa"}})
    ident.note(9, {"action": "policy.install", "data": {"digest": "sha256:bb"}})
    assert ident.policy_at(3) is None and ident.policy_at(4) == (3, "sha256:aa")
    assert ident.policy_at(9) == (3, "sha256:aa") and ident.policy_at(10) == (9, "sha256:bb")
    assert GOVERNED["model.promote"] == "promote" and set(GOVERNED.values()) <= set(policy.GATES)


def test_decisions_from_several_threads_do_not_mix() -> None:
    """A TUI worker and the main thread share one compiled engine per bundle."""
    from concurrent.futures import ThreadPoolExecutor

    bundle = policy.load_dir(DEFAULT)
    cases = bundle.tests["separation.toml"]["case"][:2]  # allow, then deny
    want = [bool(c["allow"]) for c in cases]

    def run(i: int) -> bool:
        case = cases[i % 2]
        return policy.decide(bundle, case["gate"], case["input"]).allow == want[i % 2]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(run, range(400)))
