"""The environment a run was made in: interpreter, platform, every installed package, code.

Recorded with each training run so an auditor can see what produced a model and a
reproduction can say exactly what differs ("scikit-learn 1.5.2 → 1.6.0"), not just that
something does.

It also holds the limit on native thread pools. OpenMP (scikit-learn's histogram gradient
boosting) and BLAS size their pools by the machine's CPU count; on a shared machine, or in a
process confined to fewer cores, those threads wait on each other at every parallel region, and
a fit that takes 84 s on one thread took 18 minutes. :func:`native_threads` caps every pool at
the cores this process may actually use (its CPU affinity, a cgroup CPU quota, or
``LEDGERML_THREADS`` if lower), and the run's environment record says which limit applied:
a floating-point reduction split over a different number of threads may round differently.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from core.kernel.errors import UsageError
from storage.canonical import canonical_bytes

THREADS_ENV = "LEDGERML_THREADS"
_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def packages() -> dict[str, str]:
    """Every installed distribution and its version, by normalised name."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            found[name] = dist.version
    return dict(sorted(found.items()))


def _cgroup_cpus() -> int | None:
    """Whole CPUs a cgroup CPU quota allows (rounded up), or None without a quota."""
    try:
        if _CGROUP_V2.is_file():
            quota, _, period = _CGROUP_V2.read_text().partition(" ")
            if quota.strip() == "max":
                return None
            return max(1, math.ceil(int(quota) / int(period)))
        quota_path, period_path = _CGROUP_V1
        if quota_path.is_file() and period_path.is_file():
            quota_us = int(quota_path.read_text())
            return (
                None
                if quota_us <= 0
                else max(1, math.ceil(quota_us / int(period_path.read_text())))
            )
    except (OSError, ValueError):
        return None
    return None


def cpu_budget() -> tuple[int, str]:
    """How many cores this process may use for native threads, and what set that number.

    Raises:
        UsageError: if ``LEDGERML_THREADS`` is not a positive whole number.
    """
    try:
        cores, basis = len(os.sched_getaffinity(0)), "CPU affinity"
    except (AttributeError, OSError):  # not Linux
        cores, basis = os.cpu_count() or 1, "CPU count"
    quota = _cgroup_cpus()
    if quota is not None and quota < cores:
        cores, basis = quota, "cgroup CPU quota"
    wanted = os.environ.get(THREADS_ENV, "").strip()
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise UsageError(
                f"{THREADS_ENV}={wanted!r} is not a positive number of threads",
                hint=(
                    f"Set it to 1 or more, or unset it to use the {cores} available "
                    f"core{'s' if cores != 1 else ''}."
                ),
            )
        if int(wanted) < cores:
            cores, basis = int(wanted), THREADS_ENV
    return cores, basis


@contextmanager
def native_threads() -> Iterator[dict[str, Any]]:
    """Cap OpenMP and BLAS pools at :func:`cpu_budget` inside the block; yield the record.

    Call it after the numerical libraries are imported (threadpoolctl limits the pools that
    are loaded). OpenMP's limit applies to the calling thread, which is the one that fits.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    limit, basis = cpu_budget()
    with threadpool_limits(limits=limit):
        pools = [
            {
                "api": p.get("user_api"),
                "library": p.get("internal_api"),
                "version": p.get("version"),
                "threads": p.get("num_threads"),
            }
            for p in threadpool_info()  # file paths are left out: they name this machine
        ]
        pools.sort(key=lambda p: tuple(str(v) for v in p.values()))
        yield {"limit": limit, "basis": basis, "pools": pools}


def capture(threads: dict[str, Any] | None = None) -> dict[str, Any]:
    """Python, OS, machine, the package freeze with its hash, and the native thread limit."""
    freeze = packages()
    env = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "packages": freeze,
        "freeze_digest": hashlib.sha256(canonical_bytes(freeze)).hexdigest(),
    }
    if threads is not None:
        env["threads"] = threads
    return env


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
    old_limit = (recorded.get("threads") or {}).get("limit")
    new_limit = (current.get("threads") or {}).get("limit")
    if old_limit != new_limit and old_limit is not None and new_limit is not None:
        out.append(f"native thread limit: {old_limit} → {new_limit}")
    old, new = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            out.append(f"package {name}: {old.get(name, 'absent')} → {new.get(name, 'absent')}")
    return out
