"""Two real OS users, each with their own keyring: one cannot act as the other.

This is the separation the docs promise: a person's key lives in their own account's keyring,
so another person, even with a full copy of the workspace they can write to, cannot sign as
them. The test creates two OS users (it needs root, as in CI; elsewhere it is skipped, saying
so) and runs the real CLI as each, in a keyring session of their own.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

USERS = ("lmtest-ada", "lmtest-bo")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"),
    reason="needs root, useradd and runuser to create two OS users (CI runs as root)",
)


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)


PYTHON: tuple[str, str] = ("", "")


@pytest.fixture(scope="module")
def homes() -> Iterator[dict[str, Path]]:
    global PYTHON
    base = Path(tempfile.mkdtemp(prefix="ledgerml-users-"))
    base.chmod(0o755)
    out = {}
    for name in USERS:
        _ensure_user(name)
        home = base / name
        home.mkdir(mode=0o700)
        shutil.chown(home, name, name)
        out[name] = home
    shared = base / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    out["shared"] = shared
    PYTHON = _interpreter()
    yield out
    shutil.rmtree(base, ignore_errors=True)


def _interpreter() -> tuple[str, str]:
    """A Python the test users may run, and the PYTHONPATH that gives it our packages.

    The suite's own interpreter may live in a folder only its owner can enter (a pyenv under
    /root); then a system Python of the same minor version runs the same installed packages
    (their compiled parts target that version's ABI).
    """
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    probe = ["runuser", "-u", USERS[0], "--", "test", "-x"]
    for candidate in (
        sys.executable,
        shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}"),
        "/usr/bin/python3",
    ):
        if not candidate:
            continue
        if subprocess.run([*probe, candidate], check=False).returncode != 0:
            continue
        version = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version == str(tuple(sys.version_info[:2])):
            return candidate, f"{ROOT}:{site}"
    pytest.skip("no Python of this version that the test users may run")


def as_user(
    user: str, home: Path, *args: str, input_files: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as ``user``, with a keyring of their own in their home folder."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LEDGERML_KEYRING_DIR": str(home / ".keyring"),
        "LEDGERML_KEYRING_PASSWORD": f"keyring of {user}",
        "LEDGERML_PYTHON": PYTHON[0],
        "PYTHONPATH": PYTHON[1],
        "XDG_CONFIG_HOME": str(home / ".config"),
        **(input_files or {}),
    }
    return subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            "env",
            "-i",
            *(f"{k}={v}" for k, v in env.items()),
            str(ROOT / "scripts" / "with-keyring"),
            PYTHON[0],
            "-m",
            "app",
            *args,
        ],
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_one_os_user_cannot_act_as_another(homes: dict[str, Path]) -> None:
    ada, bo = USERS
    ws = homes[ada] / "ws"
    request = homes["shared"] / "bo.keyreq.json"

    def ok(result: subprocess.CompletedProcess[str]) -> str:
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    ok(as_user(ada, homes[ada], "--workspace", str(ws), "--as", ada, "init"))
    # bo makes his key on his own account; only its public half leaves it.
    ok(as_user(bo, homes[bo], "key", "generate", "--out", str(request)))
    ok(
        as_user(
            ada,
            homes[ada],
            "--workspace",
            str(ws),
            "--as",
            ada,
            "actor",
            "add",
            bo,
            "--role",
            "auditor",
            "--key-request",
            str(request),
        )
    )
    # bo gets a full copy of the workspace that he can write to.
    copy = homes[bo] / "ws"
    shutil.copytree(ws, copy)
    subprocess.run(["chown", "-R", f"{bo}:{bo}", str(copy)], check=True)
    head_before = (copy / "ledger" / "segments" / "00000000.log").read_bytes()

    forged = as_user(
        bo,
        homes[bo],
        "--workspace",
        str(copy),
        "--as",
        ada,
        "actor",
        "add",
        "mallory",
        "--role",
        "admin",
    )
    assert forged.returncode == 2, forged.stdout + forged.stderr
    assert "does not hold the secret" in forged.stderr
    assert (copy / "ledger" / "segments" / "00000000.log").read_bytes() == head_before

    # As himself he can act, with his own key from his own keyring, and it verifies.
    ok(as_user(bo, homes[bo], "--workspace", str(copy), "--as", bo, "audit", "checkpoint"))
    report = json.loads(
        ok(
            as_user(
                bo, homes[bo], "--workspace", str(copy), "--as", bo, "--json", "audit", "verify"
            )
        )
    )
    assert report["ok"] and report["anchored"] == 2

    # And ada, on her own workspace, cannot act as bo.
    reverse = as_user(ada, homes[ada], "--workspace", str(ws), "--as", bo, "audit", "checkpoint")
    assert reverse.returncode == 2, reverse.stdout + reverse.stderr
    assert "does not hold the secret" in reverse.stderr
