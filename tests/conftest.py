"""Shared fixtures: a real keyring, a real SoftHSM2 token, real workspaces in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
HSM_PIN = "4711"
HSM_TOKEN = "ledgerml-tests"
# One token folder per process: under pytest-xdist every worker imports this file and makes
# its own, so two workers never initialise or write tokens in the same SOFTHSM2_CONF folder.
_HSM_DIR = Path(
    tempfile.mkdtemp(prefix=f"ledgerml-softhsm-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
)
_CONFIG_DIR = Path(
    tempfile.mkdtemp(prefix=f"ledgerml-config-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
)


def _init_softhsm() -> None:
    """Create a SoftHSM2 token before any PKCS#11 library is loaded in this process."""
    tokens = _HSM_DIR / "tokens"
    tokens.mkdir()
    conf = _HSM_DIR / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    util = shutil.which("softhsm2-util")
    if util is None:
        raise pytest.UsageError("softhsm2-util is missing: install softhsm2 (see .ci/run)")
    subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            HSM_TOKEN,
            "--pin",
            HSM_PIN,
            "--so-pin",
            "0000",
        ],
        check=True,
        capture_output=True,
    )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per core this process may use, by the rule training uses (CPU
    affinity, then a cgroup CPU quota, then LEDGERML_THREADS), so a container with a quota
    smaller than the host's CPU count is not flooded. PYTEST_XDIST_AUTO_NUM_WORKERS wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    from core.kernel.errors import UsageError
    from core.modelling.environment import cpu_budget

    try:
        return cpu_budget()[0]
    except UsageError as err:
        raise pytest.UsageError(err.msg) from err


# Property-based tests run an everyday budget of examples; `LEDGERML_HYPOTHESIS=campaign`
# runs each one's long campaign (more examples, longer state-machine runs: minutes each), for
# a change to the rules they explore and for the nightly run.
HYPOTHESIS_CAMPAIGN = os.environ.get("LEDGERML_HYPOTHESIS", "") == "campaign"


def budget(everyday: int, campaign: int) -> int:
    """How many Hypothesis examples (or state-machine steps) a test runs: ``everyday`` in the
    default suite, ``campaign`` under ``LEDGERML_HYPOTHESIS=campaign``. The failing examples
    Hypothesis finds are kept in its database (.hypothesis/) and replayed first next time."""
    return campaign if HYPOTHESIS_CAMPAIGN else everyday


_OWN_BUS: list[str] = []  # the pid of this process's private D-Bus daemon, if it started one


def _own_keyring() -> None:
    """Give this test process (an xdist worker, or the only process) a keyring of its own.

    A private D-Bus session bus and a gnome-keyring daemon on it, both ended with the process:
    one worker's thousands of test keys never slow the other's lookups (the daemon searches
    its items one by one), a daemon that fails takes only its own worker's tests with it,
    and the suite can delete each test's keys when it ends (``_keyring_items``), so a test
    never meets an earlier test's entries under a shared workspace id. Where the two
    programs are missing (a desktop, macOS) the keyring already in the environment is used.
    """
    if os.environ.get("LEDGERML_TEST_SHARED_KEYRING") == "1":
        return
    dbus, daemon = shutil.which("dbus-daemon"), shutil.which("gnome-keyring-daemon")
    if not (dbus and daemon and sys.platform.startswith("linux")):
        return
    started = subprocess.run(
        [dbus, "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        check=True,
    )
    address, pid = started.stdout.split()[:2]
    _OWN_BUS.append(pid)
    data = Path(tempfile.mkdtemp(prefix="ledgerml-keyring-"))
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    os.environ["XDG_DATA_HOME"] = str(data)
    subprocess.run(
        [daemon, "--unlock", "--components=secrets", "--daemonize"],
        input="ledgerml-tests",
        capture_output=True,
        text=True,
        check=True,
    )
    # --daemonize returns once the daemon is up; confirm it owns the Secret Service name, so
    # no call can race a D-Bus activation of a second daemon.
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus="SESSION") as bus:
        for _ in range(200):
            reply = bus.send_and_get_reply(message_bus.NameHasOwner("org.freedesktop.secrets"))
            if reply.body[0]:
                return
            bus.send_and_get_reply(message_bus.ListNames(), timeout=1)  # a round trip, no sleep
    raise pytest.UsageError("the tests' gnome-keyring daemon did not take its D-Bus name")


def _build_the_command_tree_once() -> None:
    """Typer's test runner turns ``app.cli.app`` into Click commands on every ``invoke``
    (about 0.15 s of CPU each, for a tree that never changes once built): build it once per
    test process, as the ``ledgerml`` console script builds it once per process. Any other
    Typer app (a section built by a test) is still converted afresh on each call."""
    import typer.testing
    from typer.main import get_command

    built: list[Any] = []

    def command_of(typer_app: Any) -> Any:
        import app.cli

        if typer_app is not app.cli.app:
            return get_command(typer_app)
        if not built:
            built.append(get_command(typer_app))
        return built[0]

    typer.testing._get_command = command_of  # type: ignore[attr-defined]


def pytest_configure(config: pytest.Config) -> None:
    _init_softhsm()
    _build_the_command_tree_once()
    # Passphrase keys and the trusted-keys file live in the user's config folder: the tests
    # get one of their own (per worker), never the tester's ~/.config. Tests that need an
    # empty or prepared folder point XDG_CONFIG_HOME elsewhere themselves.
    _CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["XDG_CONFIG_HOME"] = str(_CONFIG_DIR)
    _own_keyring()
    # Keys made by the tests go to the keyring daemon's in-memory "session" collection: the
    # same Secret Service API and daemon, without rewriting the keyring file on every key
    # (about 60 ms each, and growing with the file). Subprocesses inherit it. The two-OS-
    # users test starts keyrings of its own, which persist. Under pytest-xdist all workers
    # share this one daemon and collection: it serves its clients' D-Bus calls one at a time,
    # and every key's entry is named by a fresh UUID, so workers never meet each other's keys.
    os.environ.setdefault(
        "KEYRING_PROPERTY_PREFERRED_COLLECTION", "/org/freedesktop/secrets/collection/session"
    )
    import keyring

    backend = keyring.get_keyring()
    names = [type(b).__module__ for b in getattr(backend, "backends", [backend])]
    if not any(
        n.startswith("keyring.backends.SecretService") or n.startswith("keyring.backends.macOS")
        for n in names
    ):
        raise pytest.UsageError(
            "no OS keyring service: run the tests with `make test` (it starts one), or "
            "`scripts/with-keyring .venv/bin/python -m pytest`"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_BUS:
        subprocess.run(["kill", _OWN_BUS[0]], check=False, capture_output=True)
    shutil.rmtree(_HSM_DIR, ignore_errors=True)
    shutil.rmtree(_CONFIG_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "LEDGERML_WORKSPACE",
        "LEDGERML_ACTOR",
        "LEDGERML_FAILPOINT",
        "LEDGERML_FAILPOINT_DETAIL",
        "LEDGERML_PKCS11_TOKEN",
        "LEDGERML_PKCS11_PIN",
        "LEDGERML_PKCS11_MODULE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEDGERML_BUSY_TIMEOUT", "10")


class _KeyringWatch:
    """Notices when the keyring the suite started with is no longer the one it talks to.

    Every copy of a template workspace signs with keys made once per worker and held in the
    keyring daemon's in-memory session collection. If the daemon answering
    ``org.freedesktop.secrets`` changes during a run (a crash and a D-Bus activation of a
    fresh one), or this process's keyring backend stops pointing at the session collection,
    those keys are gone for every later test on the worker, which then fail far from the
    cause. The watch names the first test that meets the change, puts the template keys it
    kept back (the product never deletes signing keys, so restoring them hides no bug of
    ours), and warns, so the run says what happened instead of failing a hundred tests.
    """

    def __init__(self) -> None:
        self.owner: str | None = None
        self.kept: dict[str, str] = {}
        self._bus: Any = None

    def _owner(self) -> str | None:
        try:
            from jeepney.bus_messages import message_bus
            from jeepney.io.blocking import open_dbus_connection

            if self._bus is None:
                self._bus = open_dbus_connection(bus="SESSION")
            reply = self._bus.send_and_get_reply(
                message_bus.GetNameOwner("org.freedesktop.secrets"), timeout=10
            )
            return str(reply.body[0])
        except Exception:  # noqa: BLE001  no session bus (macOS), or the name has no owner now
            return None

    def keep(self, workspace: Any) -> None:
        import keyring

        from core.identity.keys.backends import KEYRING_SERVICE
        from core.identity.keys.lifecycle import list_keys

        for key in list_keys(workspace):
            if key.backend == "keyring":
                pem = keyring.get_password(KEYRING_SERVICE, key.handle)
                if pem is not None:
                    self.kept[key.handle] = pem
        self.owner = self.owner or self._owner()

    def check(self, test: str) -> None:
        import warnings

        import keyring

        backend = keyring.get_keyring()
        for inner in getattr(backend, "backends", [backend]):
            if type(inner).__module__.startswith("keyring.backends.SecretService"):
                wanted = os.environ["KEYRING_PROPERTY_PREFERRED_COLLECTION"]
                if getattr(inner, "preferred_collection", None) != wanted:
                    inner.preferred_collection = wanted
                    warnings.warn(
                        f"before {test}: the keyring backend had left the session "
                        "collection; pointed it back",
                        stacklevel=1,
                    )
        if self.owner is None:
            return
        owner = self._owner()
        if owner is not None and owner != self.owner:
            from core.identity.keys.backends import KEYRING_SERVICE

            for handle, pem in self.kept.items():
                keyring.set_password(KEYRING_SERVICE, handle, pem)
            warnings.warn(
                f"before {test}: the keyring daemon changed ({self.owner} -> {owner}); "
                f"{len(self.kept)} template keys put back, keys made earlier elsewhere are lost",
                stacklevel=1,
            )
            self.owner = owner


_KEYRING_WATCH = _KeyringWatch()


@pytest.fixture(autouse=True)
def _keyring_watch(request: pytest.FixtureRequest) -> None:
    _KEYRING_WATCH.check(request.node.nodeid)


_SESSION_COLLECTION = "/org/freedesktop/secrets/collection/session"
_ITEMS_BUS: list[Any] = []


@pytest.fixture(autouse=True)
def _keyring_items(_keyring_watch: None) -> Iterator[None]:
    """Delete the keyring entries a test made when it ends (on this process's own daemon).

    Fixtures of a wider scope (templates, module workspaces) are set up before this one, so
    their keys are in the snapshot and survive for the tests that share them.
    """
    if not _OWN_BUS:
        yield
        return
    import secretstorage

    if not _ITEMS_BUS:
        _ITEMS_BUS.append(secretstorage.dbus_init())
    collection = secretstorage.Collection(_ITEMS_BUS[0], _SESSION_COLLECTION)

    def entry(item: Any) -> tuple[tuple[str, str], ...]:
        # by what it is named, not by its D-Bus path: a test that deletes a shared entry
        # and sets it back (a KEK replaced, then restored) makes a new item of an old name
        return tuple(sorted(item.get_attributes().items()))

    before = {entry(item) for item in collection.get_all_items()}
    yield
    for item in collection.get_all_items():
        if entry(item) not in before:
            item.delete()


@pytest.fixture
def hsm(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the pkcs11 backend at the test SoftHSM2 token."""
    monkeypatch.setenv("LEDGERML_PKCS11_TOKEN", HSM_TOKEN)
    monkeypatch.setenv("LEDGERML_PKCS11_PIN", HSM_PIN)
    return HSM_TOKEN


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    return tmp_path / "ws"


def copy_workspace(source: Path, target: Path):  # type: ignore[no-untyped-def]
    """A private copy of the workspace folder ``source`` at ``target``, opened.

    The copy is the same workspace (its id, its ledger, its actors' key handles): keys live
    in the test keyring, which every copy shares, so each actor can still sign in it. A
    fixture builds an expensive workspace once and hands each test a copy of it.
    """
    from core.kernel.workspace import Workspace

    shutil.copytree(source, target, symlinks=True)
    return Workspace.open(target)


@pytest.fixture(scope="session")
def ws_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the ``ws`` fixture copies, made once per worker process.

    Per process, never shared between xdist workers: copies share the workspace id, and a
    test may change what the keyring holds under it (the data KEK), which must never reach
    a test running at the same time on the other worker.
    """
    from core.audit import admin
    from core.identity import actors

    root = tmp_path_factory.mktemp("ws-template") / "ws"
    workspace = admin.init(root, "alice", reason="test")
    actors.add(workspace, "alice", "bob", ["auditor"])
    actors.add(workspace, "alice", "sam", ["data-scientist"])
    _KEYRING_WATCH.keep(workspace)
    return root


@pytest.fixture
def ws(ws_path: Path, ws_template: Path):  # type: ignore[no-untyped-def]
    """A fresh workspace with admin 'alice', auditor 'bob' and data scientist 'sam'.

    A copy of ``ws_template`` (an ``init`` and two ``actor add`` cost about 0.8 s of CPU;
    a copy about 0.05 s), so every test gets its own folder with the same three actors.
    """
    return copy_workspace(ws_template, ws_path)


SAMPLE = ROOT / "sample_data" / "german-credit"


def _credit_model(root: Path, *, auditor: bool, sensitive: list[str]):  # type: ignore[no-untyped-def]
    """The governed German-credit pipeline up to a registered model, all of it done by alice:
    init, validator val (and auditor audrey if ``auditor``), the snapshot (``sensitive``
    columns tagged), the feature view and its suite, training of the sample spec,
    ``credit-risk@1`` registered. Returns the opened workspace."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.identity import actors
    from core.modelling import models, training

    workspace = admin.init(root, "alice")
    actors.add(workspace, "alice", "val", ["validator"])
    if auditor:
        actors.add(workspace, "alice", "audrey", ["auditor"])
    snapshots.add(
        workspace, "alice", SAMPLE / "german.data", dataset="german-credit", sensitive=sensitive
    )
    features.build(workspace, "alice", SAMPLE / "features.toml")
    validation.run(workspace, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(workspace, "alice", SAMPLE / "train.toml")
    models.register(workspace, "alice", run.run_id, "credit-risk")
    return workspace


@pytest.fixture(scope="session")
def credit_registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace folder, made once per worker: admin alice, validator val, auditor audrey;
    German credit ingested with ``column08`` (sex and personal status) tagged sensitive, the
    feature view validated, ``credit-risk@1`` trained and registered; nothing signed, no key
    made beyond the actors' own.

    What the bundle-anchor and standard-export modules start from: its events are exactly
    the first ones of the builds they made themselves, so a copy (:func:`copy_workspace`)
    plus a module's own further steps numbers its events as before. The minimisation module
    uses it too (it built the same data without val and audrey, and reads no actor or event
    number). Per worker for the reason ``ws_template`` gives.
    """
    root = tmp_path_factory.mktemp("credit-registered") / "ws"
    _KEYRING_WATCH.keep(_credit_model(root, auditor=True, sensitive=["column08"]))
    return root


@pytest.fixture(scope="session")
def credit_keyed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace folder, made once per worker: admin alice and validator val; German
    credit ingested untagged, the feature view validated, ``credit-risk@1`` trained and
    registered, then a signing key made for val (unsigned, not evaluated).

    The state the evaluation, privacy-probe and printing modules start from, event for
    event as their own builds made it. The crash tests' export uses it too (they built it
    without val, and count only the export's events).
    """
    from core.identity import keys

    root = tmp_path_factory.mktemp("credit-keyed") / "ws"
    workspace = _credit_model(root, auditor=False, sensitive=[])
    keys.create(workspace, "val")
    _KEYRING_WATCH.keep(workspace)
    return root


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real `ledgerml` in a subprocess (stdin is /dev/null: never the tester's tty)."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ledgerml {' '.join(args)} failed:\n{result.stderr}")
    return result


def run_cli_here(
    *args: str, env: dict[str, str] | None = None, check: bool = False, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `ledgerml` through its console-script entry point (``app.cli.main``) in this process.

    The same command line, parsing, guards, exit codes and streams as :func:`run_cli`, without
    an interpreter start and the imports of the data and model stack (2-4 s of CPU each time
    on this suite's machines). Use it where a test is about what a command does or prints; keep
    :func:`run_cli` where the guarantee is about a fresh process (start-up imports, a crash, a
    signal, a second process holding the workspace). stdin is empty, as /dev/null is there.
    It runs from ``cwd`` (default: the project root, where :func:`run_cli` runs).
    """
    from click.testing import CliRunner

    from app.cli import main

    argv, before = sys.argv, Path.cwd()
    code: int | str | None = 0
    with CliRunner().isolation(input="", env=env) as (stdout, stderr, _):
        sys.argv = ["ledgerml", *args]
        os.chdir(cwd or ROOT)
        try:
            main()
        except SystemExit as done:
            code = done.code
        finally:
            sys.argv = argv
            os.chdir(before)
            sys.stdout.flush()
            sys.stderr.flush()
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    returncode = code if isinstance(code, int) else 0 if code is None else 1
    result = subprocess.CompletedProcess(["ledgerml", *args], returncode, out, err)
    if check and result.returncode != 0:
        raise AssertionError(f"ledgerml {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture
def cli() -> Iterator[object]:
    yield run_cli
