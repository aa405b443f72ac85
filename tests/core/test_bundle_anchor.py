"""Bundles verify against an anchor (the organisation key), not against themselves.

Real workspaces, the real CLI (its entry point, in this process), and the bundle's own
verify.py in a fresh process. Each attack is the one a person in that position could mount:
an outsider who rewrites the bundle with a key of their own, one who builds a whole workspace
of their own, an insider with a real key the organisation never certified, a swapped
verify.py, a forged event.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.audit import admin, bundle
from core.data import features, snapshots, validation
from core.identity import actors, certify, keys
from core.identity.events import KeyRecord
from core.identity.keys.backends import backend
from core.identity.signing import pae
from core.kernel.events import Seal, seal, signing_input, split_sealed
from core.kernel.workspace import Workspace
from core.modelling import models, training
from storage import bundle_verifier, merkle
from storage.canonical import canonical_bytes
from tests.conftest import copy_workspace, run_cli_here
from tests.core.test_bundle import SAMPLE, members_of, run_bundled_verifier, write_canonical

COMPAT = Path(__file__).parents[1] / "data" / "bundles" / "v1" / "credit-risk-1.zip"


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of the test's own: no trusted-keys file unless a test writes one."""
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


def build_world(root: Path, founder: str = "alice", demo: bool = False) -> tuple[Workspace, Path]:
    """A workspace with a signed model, exported by an auditor: what an organisation ships.

    Built from nothing, for a founder or identities of its own; the genuine organisation's
    (alice, not demo) is the suite's ``credit_registered`` template plus :func:`ship`.
    """
    ws = admin.init(root / "ws", founder, demo=demo)
    actors.add(ws, founder, "val", ["validator"], demo=demo)
    actors.add(ws, founder, "audrey", ["auditor"], demo=demo)
    snapshots.add(
        ws, founder, SAMPLE / "german.data", dataset="german-credit", sensitive=["column08"]
    )
    features.build(ws, founder, SAMPLE / "features.toml")
    validation.run(ws, founder, "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, founder, SAMPLE / "train.toml")
    models.register(ws, founder, run.run_id, "credit-risk")
    return ws, ship(ws, root)


def ship(ws: Workspace, root: Path) -> Path:
    """val signs credit-risk@1 and audrey exports it to ``root``/credit-risk-1.zip."""
    models.sign(ws, "val", "credit-risk@1")
    out = root / "credit-risk-1.zip"
    bundle.export(ws, "audrey", "credit-risk@1", out, reason="audit")
    return out


@pytest.fixture(scope="module")
def world(
    credit_registered: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workspace, Path, Path]:
    """The genuine organisation's workspace, its bundle, and its org key as it hands it out."""
    root = tmp_path_factory.mktemp("genuine")
    ws = copy_workspace(credit_registered, root / "ws")
    out = ship(ws, root)
    org = root / "org.pem"
    run_cli_here(
        "key", "export-public", "organisation", "-o", str(org), "-w", str(ws.root), "--as",
        "alice", check=True,
    )  # fmt: skip
    return ws, out, org


def cli_verify(path: Path, *args: str) -> Any:
    """`ledgerml bundle verify`, with the test's config folder: the console script's entry
    point in this process (the CLI's verdict is the point; the fresh process, with no
    ledgerml at all, is the bundle's own verify.py in :func:`both`)."""
    import os

    return run_cli_here(
        "bundle", "verify", str(path), *args, env={"XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]}
    )


def rewrite(entries: dict[str, bytes], sign: Any, key_id: str) -> None:
    """Re-list every member in the manifest and sign it through ``sign`` as ``key_id``."""
    manifest = json.loads(entries["manifest.json"])
    old = {m["path"]: m for m in manifest["members"]}
    manifest["members"] = [
        {
            "path": name,
            "sha256": hashlib.sha256(entries[name]).hexdigest(),
            "size": len(entries[name]),
            "media_type": old.get(name, {}).get("media_type", "application/octet-stream"),
            "ledger_object": old.get(name, {}).get("ledger_object", False),
        }
        for name in sorted(entries)
        if name not in ("manifest.json", "manifest.dsse.json")
    ]
    manifest["signed_by"] = key_id
    raw = canonical_bytes(manifest)
    sig = sign(pae(bundle_verifier.MANIFEST_TYPE, raw))
    entries["manifest.json"] = raw
    entries["manifest.dsse.json"] = canonical_bytes(
        envelope(bundle_verifier.MANIFEST_TYPE, raw, key_id, sig)
    )


def envelope(kind: str, payload: bytes, key_id: str, sig: bytes) -> dict[str, Any]:
    return {
        "payloadType": kind,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id, "sig": base64.b64encode(sig).decode()}],
    }


class Attacker:
    """A P-256 key pair made outside any workspace."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(der).hexdigest()
        self.pem = (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data, ec.ECDSA(hashes.SHA256()))

    def entry(self, actor: str, purpose: str, certificate: Any = None) -> dict[str, Any]:
        return {
            "key_id": self.key_id, "actor": actor, "purpose": purpose, "algorithm": "ecdsa-p256",
            "label": "mine", "status": "active", "created_seq": 2, "status_seq": None,
            "status_reason": None, "compromised_since": None, "certificate": certificate,
            "public_pem": self.pem,
        }  # fmt: skip


def add_key(entries: dict[str, bytes], entry: dict[str, Any]) -> None:
    listed = json.loads(entries["keys/keys.json"])
    listed.append(entry)
    entries["keys/keys.json"] = canonical_bytes(listed)
    entries[f"keys/{entry['key_id']}.pem"] = str(entry["public_pem"]).encode()


def both(path: Path, *args: str) -> tuple[Any, Any]:
    """The CLI's verdict and the bundle's own verify.py's, on the same arguments."""
    return cli_verify(path, *args), run_bundled_verifier(path, *args)


# ---- (a) a good bundle --------------------------------------------------------------------


def test_a_good_bundle_is_unanchored_until_the_organisation_key_is_pinned(
    world: tuple[Workspace, Path, Path], _config: Path
) -> None:
    ws, path, org = world
    manifest = json.loads(members_of(path)["manifest.json"])
    with ws.session() as s:
        org_id = next(k.key_id for k in s.catalog.keys_of() if k.purpose == "organisation")
    for result in both(path):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "SELF-CONSISTENT but UNANCHORED" in result.stdout
        assert org_id in result.stdout and manifest["signed_by"] in result.stdout
        assert "another channel" in result.stdout and "--key" in result.stdout
        assert "VERIFIED" not in result.stdout
    cli, own = both(path, "--key", str(org))
    for result in (cli, own):
        assert result.returncode == 0, result.stdout + result.stderr
        assert "VERIFIED: credit-risk@1, anchored to" in result.stdout
    assert "matches release" in cli.stdout and "this installation" in cli.stdout
    (_config / "ledgerml").mkdir()
    (_config / "ledgerml" / "trusted-keys.pem").write_text(Path(org).read_text())
    trusted = cli_verify(path)
    assert trusted.returncode == 0 and "your trusted keys" in trusted.stdout, trusted.stdout


def test_the_bundle_lists_certificates_labels_and_actors(
    world: tuple[Workspace, Path, Path],
) -> None:
    _, path, _ = world
    entries = members_of(path)
    listed = json.loads(entries["keys/keys.json"])
    assert [k["purpose"] for k in listed].count("organisation") == 1
    for k in listed:
        assert "label" in k
        assert (k["certificate"] is None) == (k["purpose"] == "organisation")
    people = {a["name"]: a for a in json.loads(entries["identity/actors.json"])}
    assert people["audrey"] == {
        "name": "audrey", "roles": ["auditor"], "status": "active", "kind": "person", "demo": False
    }  # fmt: skip
    manifest = json.loads(entries["manifest.json"])
    assert manifest["format"] == "ledgerml-bundle/v2" and manifest["demo_identities"] is False
    page = entries["VERIFY.md"].decode()
    assert hashlib.sha256(entries["verify.py"]).hexdigest() in page and "--key" in page


def test_demo_identities_are_said_in_every_verdict(tmp_path: Path) -> None:
    ws, out = build_world(tmp_path, demo=True)
    assert json.loads(members_of(out)["manifest.json"])["demo_identities"] is True
    org = tmp_path / "org.pem"
    with ws.session() as s:
        org.write_text(
            next(k for k in s.catalog.keys_of() if k.purpose == "organisation").public_pem
        )
    for args in ((), ("--key", str(org))):
        for result in both(out, *args):
            assert result.returncode in (0, 1) and "demo identities: no assurance" in result.stdout


# ---- (b) an outsider's key ----------------------------------------------------------------


def test_members_resigned_with_an_outsiders_key_are_rejected_without_any_anchor(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    _, path, org = world
    entries = members_of(path)
    entries["reports/forged.md"] = b"# All fair\n"
    eve = Attacker()
    add_key(entries, eve.entry("audrey", "actor"))
    rewrite(entries, eve.sign, eve.key_id)
    bad = tmp_path / "outsider.zip"
    write_canonical(bad, entries)
    for args in ((), ("--key", str(org))):
        for result in both(bad, *args):
            out = result.stdout + result.stderr
            assert result.returncode == 3, out
            assert "a key the organisation never certified" in out


def test_a_whole_world_of_the_attackers_own_is_unanchored_and_refused_under_the_real_key(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    """The attacker replaces the organisation key and every certificate consistently, by
    building a workspace of their own: the bundle agrees with itself, and only the pinned key
    tells it apart."""
    _, _, org = world
    _, fake = build_world(tmp_path / "attacker", founder="mallory")
    for result in both(fake):
        assert result.returncode == 1 and "UNANCHORED" in result.stdout, result.stdout
    for result in both(fake, "--key", str(org)):
        out = result.stdout + result.stderr
        assert result.returncode == 3, out
        assert "organisation key" in out and "differs from the one you pinned" in out


def test_an_organisation_key_swapped_in_the_key_list_alone_is_rejected_without_any_anchor(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    """Swapping the organisation key and re-issuing every certificate under it is not enough:
    the ledger's own events record the real keys and certificates."""
    ws, path, _ = world
    entries = members_of(path)
    fake_org = Attacker()
    listed = json.loads(entries["keys/keys.json"])
    for k in listed:
        if k["purpose"] == "organisation":
            del entries[f"keys/{k['key_id']}.pem"]
            k.update(key_id=fake_org.key_id, public_pem=fake_org.pem)
            entries[f"keys/{k['key_id']}.pem"] = fake_org.pem.encode()
        else:
            k["certificate"] = certify.issue(
                fake_org.sign, fake_org.key_id, ws.workspace_id, actor=k["actor"],
                key_id=k["key_id"], purpose=k["purpose"], algorithm=k["algorithm"],
            )  # fmt: skip
    entries["keys/keys.json"] = canonical_bytes(listed)
    signer = json.loads(entries["manifest.json"])["signed_by"]
    with ws.session() as s:
        row = s.catalog.key(signer)
    assert row is not None
    rewrite(entries, lambda data: keys.sign_with(row, data), signer)
    bad = tmp_path / "swapped-org.zip"
    write_canonical(bad, entries)
    for result in both(bad):
        out = result.stdout + result.stderr
        assert result.returncode == 3 and "differs from the record event #1" in out, out


# ---- (c) an insider's key -----------------------------------------------------------------


def _uncertified(ws: Workspace, owner: str) -> KeyRecord:
    """A real key in this workspace's keyring that no organisation key ever certified."""
    return keys.generate_record("keyring", "ecdsa-p256", owner=owner, purpose="actor", label="side")


def _entry(record: KeyRecord, certificate: Any = None) -> dict[str, Any]:
    return {
        "key_id": record.key_id, "actor": record.actor, "purpose": record.purpose,
        "algorithm": record.algorithm, "label": record.label, "status": "active",
        "created_seq": 3, "status_seq": None, "status_reason": None, "compromised_since": None,
        "certificate": certificate, "public_pem": record.public_pem,
    }  # fmt: skip


def test_an_insiders_key_the_organisation_never_certified_is_rejected(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    ws, path, org = world
    side = _uncertified(ws, "val")
    sign_side = lambda data: backend(side.backend).sign(side.handle, side.algorithm, data)  # noqa: E731
    with ws.session() as s:
        val_key = next(k for k in s.catalog.keys_of("val") if k.purpose == "actor")
        org_row = next(k for k in s.catalog.keys_of() if k.purpose == "organisation")
    # The insider certifies their side key with their own actor key (not the organisation's).
    self_signed = certify.issue(
        lambda data: keys.sign_with(val_key, data), val_key.key_id, ws.workspace_id,
        actor="val", key_id=side.key_id, purpose="actor", algorithm=side.algorithm,
    )  # fmt: skip
    for name, cert in (("none", None), ("self", self_signed)):
        entries = members_of(path)
        entries["reports/model-card.md"] = b"# Approved by val\n"
        add_key(entries, _entry(side, cert))
        rewrite(entries, sign_side, side.key_id)
        bad = tmp_path / f"insider-{name}.zip"
        write_canonical(bad, entries)
        for result in both(bad, "--key", str(org)):
            out = result.stdout + result.stderr
            assert result.returncode == 3 and "the organisation never certified" in out, out
    # An admin with the organisation key's secret signs the manifest with it directly.
    entries = members_of(path)
    rewrite(entries, lambda data: keys.sign_with(org_row, data), org_row.key_id)
    bad = tmp_path / "org-signed.zip"
    write_canonical(bad, entries)
    for result in both(bad, "--key", str(org)):
        out = result.stdout + result.stderr
        assert result.returncode == 3 and "must be signed by an actor's own key" in out, out


# ---- (d) a swapped verify.py --------------------------------------------------------------


def test_a_tampered_verify_py_is_named_and_caught(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    ws, path, org = world
    entries = members_of(path)
    entries["verify.py"] += b"\n# print('VERIFIED') and exit 0, whatever the bundle holds\n"
    bad = tmp_path / "verifier.zip"
    write_canonical(bad, entries)
    result = cli_verify(bad, "--key", str(org))
    out = result.stdout + result.stderr
    assert result.returncode == 3 and "member 'verify.py' was changed" in out, out
    assert "DIFFERS from every known release: do not run it; use your own trusted copy" in out
    # An insider re-signs the manifest over the swapped verifier with their real key: every
    # signature holds, so only the release check can warn the auditor.
    signer = json.loads(entries["manifest.json"])["signed_by"]
    with ws.session() as s:
        row = s.catalog.key(signer)
    assert row is not None
    rewrite(entries, lambda data: keys.sign_with(row, data), signer)
    write_canonical(bad, entries)
    result = cli_verify(bad, "--key", str(org))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify.py inside the bundle DIFFERS from every known release" in result.stdout


def test_the_format_1_verifier_is_a_known_release() -> None:
    result = cli_verify(COMPAT)
    assert result.returncode == 1 and "UNANCHORED" in result.stdout, result.stdout
    assert "verify.py inside the bundle: matches release ledgerml 0.1.0" in result.stdout


# ---- (e) a forged event -------------------------------------------------------------------


def test_a_forged_event_signed_by_an_uncertified_key_is_rejected(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    """An insider rewrites an event of val's, seals it with a side key, rebuilds the Merkle
    proofs and signs a new checkpoint with their real key: the event's key gives it away."""
    ws, path, org = world
    entries = members_of(path)
    lines = entries["ledger/events.jsonl"].decode().splitlines()
    at = next(i for i, line in enumerate(lines) if '"action":"model.sign"' in line)
    seq, prev, body = lines[at].split(" ", 2)
    split = split_sealed(body.encode())
    assert split is not None
    doc = json.loads(split[0])
    doc["reason"] = "approved for every use"
    unsigned = canonical_bytes(doc)
    side = _uncertified(ws, "val")
    sig = backend(side.backend).sign(side.handle, side.algorithm, signing_input(unsigned))
    forged = seal(unsigned, Seal(side.key_id, side.algorithm, sig)).decode()
    lines[at] = f"{seq} {prev} {forged}"
    entries["ledger/events.jsonl"] = ("\n".join(lines) + "\n").encode()
    add_key(entries, _entry(side))
    # New proofs and a new checkpoint over the forged leaf, signed by the exporter's real key.
    checkpoint = json.loads(
        base64.b64decode(json.loads(entries["ledger/checkpoint.json"])["payload"])
    )
    size = int(checkpoint["size"])
    leaves = list(ws.ledger.leaf_hashes(size))
    leaves[int(seq) - 1] = merkle.leaf_hash(hashlib.sha256(lines[at].encode()).digest())
    proofs = json.loads(entries["ledger/proofs.json"])
    proofs["inclusion"] = {
        q: [h.hex() for h in merkle.inclusion_proof(int(q) - 1, leaves)]
        for q in proofs["inclusion"]
    }
    proofs["consistency"] = {}
    entries["ledger/proofs.json"] = canonical_bytes(proofs)
    checkpoint["root"] = merkle.root(leaves).hex()
    signer = json.loads(entries["manifest.json"])["signed_by"]
    with ws.session() as s:
        row = s.catalog.key(signer)
    assert row is not None
    payload = canonical_bytes(checkpoint)
    cp_sig = keys.sign_with(row, pae(bundle_verifier.CHECKPOINT_TYPE, payload))
    entries["ledger/checkpoint.json"] = canonical_bytes(
        envelope(bundle_verifier.CHECKPOINT_TYPE, payload, signer, cp_sig)
    )
    rewrite(entries, lambda data: keys.sign_with(row, data), signer)
    bad = tmp_path / "forged-event.zip"
    write_canonical(bad, entries)
    for args in ((), ("--key", str(org))):
        for result in both(bad, *args):
            out = result.stdout + result.stderr
            assert result.returncode == 3, out
            assert f"event #{seq} is signed by key {side.key_id[:16]}" in out
            assert "the organisation never certified" in out


def test_an_unsigned_format_1_event_is_refused_in_a_format_2_bundle() -> None:
    ident = bundle_verifier._Identity(bundle_verifier.FORMAT, "w", [], None, None)
    body = b'{"action":"model.sign","actor":"val","v":1}'
    with pytest.raises(bundle_verifier.RejectedError, match="not signed"):
        ident.check_event(5, body, json.loads(body))
    old = bundle_verifier._Identity(bundle_verifier.FORMAT_1, "w", [], None, None)
    assert old.check_event(5, body, json.loads(body)) is False


def test_what_an_actor_signed_before_being_suspended_still_verifies(
    world: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    """Status is judged at each event: val's signature stays good after val is suspended."""
    ws = copy_workspace(world[0].root, tmp_path / "ws")  # the genuine world, to change
    actors.change(ws, "alice", "val", "suspend", "left the team")
    later = tmp_path / "after-suspension.zip"
    bundle.export(ws, "audrey", "credit-risk@1", later, overwrite=True)
    org = tmp_path / "org.pem"
    with ws.session() as s:
        org.write_text(
            next(k for k in s.catalog.keys_of() if k.purpose == "organisation").public_pem
        )
    people = {a["name"]: a for a in json.loads(members_of(later)["identity/actors.json"])}
    assert people["val"]["status"] == "suspended"
    for result in both(later, "--key", str(org)):
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_second_founding_event_in_an_excerpt_is_rejected() -> None:
    from storage.bundle_verifier import RejectedError, _Identity

    ident = _Identity("ledgerml-bundle/v2", "w", [], [], None)
    with pytest.raises(RejectedError, match="a second time"):
        ident.note(7, {"action": "workspace.init", "data": {"key": {}, "founder": "x"}})
