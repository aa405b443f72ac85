"""The air-gapped install path: a wheelhouse whose pins and SBOM match its wheels, installed
with no index, and refused when a wheel's bytes change.

Only ledgerml's own wheel is packed here (``--no-deps``): the full set is about 300 MiB of
downloads, which `make wheelhouse` builds and the closing note of the newcomer issue measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse") / "wheelhouse"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "wheelhouse.py"), "--out", str(out), "--no-deps"],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1764547200"},
    )
    return out


def test_pins_and_sbom_name_the_wheels_bytes(house: Path) -> None:
    import hashlib

    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    (wheel,) = house.glob("ledgerml-*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    pins = [ln for ln in (house / "requirements.txt").read_text().splitlines() if ln[:1] != "#"]
    assert pins == [f"ledgerml==0.1.0 --hash=sha256:{digest}"]

    text = (house / "sbom.cdx.json").read_text()
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, errors
    doc = json.loads(text)
    root = doc["metadata"]["component"]
    assert (root["name"], root["version"], root["purl"]) == (
        "ledgerml",
        "0.1.0",
        "pkg:pypi/ledgerml@0.1.0",
    )
    assert root["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert doc["metadata"]["timestamp"].startswith("2025-12-01")  # from SOURCE_DATE_EPOCH
    assert "--require-hashes" in (house / "INSTALL.txt").read_text()


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(path)
    return path / "bin" / "python"


def test_installs_with_no_index_and_refuses_a_changed_wheel(house: Path, tmp_path: Path) -> None:
    python = _fresh_venv(tmp_path / "venv")
    install = [
        str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--find-links",
        str(house), "--require-hashes", "-r", str(house / "requirements.txt"),
    ]  # fmt: skip
    done = subprocess.run(install, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    dist = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('ledgerml'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert dist.stdout.strip() == "0.1.0"

    # An insider swaps the wheel for one with one byte more: pip must refuse it.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (wheel,) = house.glob("ledgerml-*.whl")
    (tampered / wheel.name).write_bytes(wheel.read_bytes() + b"\0")
    (tampered / "requirements.txt").write_text((house / "requirements.txt").read_text())
    again = [str(python), "-m", "pip", "uninstall", "-y", "ledgerml"]
    subprocess.run(again, check=True, capture_output=True)
    install[install.index(str(house))] = str(tampered)
    install[-1] = str(tampered / "requirements.txt")
    refused = subprocess.run(install, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr
