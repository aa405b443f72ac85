"""The front door of encryption at rest: `snapshot add --encrypt`, `config encrypt-pii`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.data import encryption, snapshots
from core.kernel.workspace import Workspace

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit" / "german.data"


def test_encrypt_the_setting_and_an_explicit_no(ws: Workspace, cli: Any) -> None:
    w = ["--workspace", str(ws.root), "--as", "alice"]
    add = ["snapshot", "add", str(SAMPLE), "--pii", "column00"]
    done = cli(*w, "--json", *add, "--dataset", "explicit", "--encrypt", check=True)
    row = json.loads(done.stdout)
    assert row["encryption"]["scheme"] == "ledgerml-at-rest/1" and row["created"]
    shown = cli(*w, "snapshot", "show", "explicit@1", check=True).stdout
    assert "encrypted at rest" in shown and "ledgerml-at-rest/1" in shown
    refused = cli("--workspace", str(ws.root), "--as", "sam", "config", "encrypt-pii", "on")
    assert refused.returncode == 2 and "admin" in refused.stderr  # admins only
    assert cli(*w, "config", "encrypt-pii", "maybe").returncode == 2
    assert "on" in cli(*w, "config", "encrypt-pii", "on", check=True).stdout
    by_default = json.loads(cli(*w, "--json", *add, "--dataset", "default", check=True).stdout)
    assert by_default["encryption"] is not None
    plain = cli(*w, *add, "--dataset", "plain", "--no-encrypt", check=True)
    assert "stored in plaintext" in plain.stderr and "no (plaintext copies)" in plain.stdout
    ws.load_config()
    assert snapshots.encrypt_pii(ws)
    assert not encryption.is_encrypted(snapshots.show(ws, "plain@1"))
    assert cli(*w, "audit", "verify").returncode == 0
