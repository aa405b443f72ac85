"""The environment a run was made in: interpreter, platform, every installed package, code.

Recorded with each training run so an auditor can see what produced a model and a
reproduction can say exactly what differs ("scikit-learn 1.5.2 → 1.6.0"), not just that
something does.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from storage.canonical import canonical_bytes


def packages() -> dict[str, str]:
    """Every installed distribution and its version, by normalised name."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            found[name] = dist.version
    return dict(sorted(found.items()))


def capture() -> dict[str, Any]:
    """Python, OS, machine and the package freeze with its hash."""
    freeze = packages()
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "packages": freeze,
        "freeze_digest": hashlib.sha256(canonical_bytes(freeze)).hexdigest(),
    }


def git_state(path: Path) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout holding ``path``, if any."""
    folder = path.resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", str(path.resolve())))
    except (OSError, subprocess.SubprocessError):
        return {"git": None}
    return {"git": {"commit": commit, "dirty": dirty}}


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between two captured environments, in words."""
    out = []
    for key in ("python", "implementation", "machine"):
        if recorded.get(key) != current.get(key):
            out.append(f"{key}: {recorded.get(key)} → {current.get(key)}")
    old, new = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            out.append(f"package {name}: {old.get(name, 'absent')} → {new.get(name, 'absent')}")
    return out
