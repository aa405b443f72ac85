"""Keys in the real OS keyring and in a real SoftHSM2 token; rotation and revocation."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import null
from pkcs11 import Attribute, ObjectClass

from core.identity import keys
from core.identity.keys.backends import KEYRING_SERVICE, Pkcs11Backend
from core.identity.signing import verify_raw
from core.kernel.errors import KeyStoreError, NotFoundError, PermissionDeniedError, UsageError


def test_keyring_key_signs_and_its_private_half_is_only_in_the_keyring(ws, tmp_path) -> None:
    key, created = keys.create(ws, "alice", owner="sam", label="sam-runs", reason="sign runs")
    assert created and key.backend == "keyring" and key.algorithm == "ecdsa-p256"
    secret = keyring.get_password(KEYRING_SERVICE, key.handle)
    assert secret is not None and "PRIVATE KEY" in secret
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path
    sig = keys.sign_with(key, b"payload")
    assert verify_raw(key.public_pem, b"payload", sig)
    assert not verify_raw(key.public_pem, b"other", sig)


def test_create_is_idempotent_per_owner_and_label(ws) -> None:
    first, _ = keys.create(ws, "alice", owner="sam")
    again, created = keys.create(ws, "alice", owner="sam")
    assert not created and again.key_id == first.key_id
    other, created = keys.create(ws, "alice", owner="sam", label="second", algorithm="ed25519")
    assert created and other.key_id != first.key_id and other.algorithm == "ed25519"


def test_pkcs11_key_is_non_extractable_and_signs_in_the_token(ws, hsm) -> None:
    key, _ = keys.create(ws, "alice", owner="sam", backend="pkcs11", reason="hsm")
    sig = keys.sign_with(key, b"in the token")
    assert verify_raw(key.public_pem, b"in the token", sig)
    backend = Pkcs11Backend()
    with backend._session() as session:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=key.handle)
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.SENSITIVE] is True


def test_pkcs11_refuses_ed25519_and_a_wrong_pin(ws, hsm, monkeypatch) -> None:
    with pytest.raises(UsageError, match="only ecdsa-p256"):
        keys.create(ws, "alice", owner="sam", backend="pkcs11", algorithm="ed25519")
    monkeypatch.setenv("LEDGERML_PKCS11_PIN", "0000")
    with pytest.raises(KeyStoreError, match="PIN"):
        keys.create(ws, "alice", owner="sam", backend="pkcs11", label="wrong-pin")
    assert {k.backend for k in keys.list_keys(ws)} == {"keyring"}  # no token key was made


def test_pkcs11_without_configuration_is_a_clear_error(ws) -> None:
    with pytest.raises(KeyStoreError, match="LEDGERML_PKCS11_TOKEN"):
        keys.create(ws, "alice", owner="sam", backend="pkcs11")


def test_plaintext_or_null_keyrings_are_refused(ws) -> None:
    before = len(keys.list_keys(ws))
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    try:
        with pytest.raises(KeyStoreError, match="no secure OS keyring"):
            keys.create(ws, "alice", owner="sam", label="sam-plain")
    finally:
        keyring.set_keyring(previous)
    assert len(keys.list_keys(ws)) == before


def test_rotation_and_revocation_rules(ws) -> None:
    key, _ = keys.create(ws, "alice", owner="sam", label="sam-rotating")
    with pytest.raises(PermissionDeniedError, match="only admins use"):
        keys.rotate(ws, "sam", key.key_id[:12], reason="a new key needs certifying")
    old, new = keys.rotate(ws, "alice", key.key_id[:12], reason="yearly")
    assert old.status == "rotated" and old.replaced_by == new.key_id and new.status == "active"
    with pytest.raises(KeyStoreError, match="rotated"):
        keys.sign_with(old, b"x")
    with pytest.raises(PermissionDeniedError, match="'admin'"):
        keys.revoke(ws, "bob", new.key_id, reason="not mine")
    with pytest.raises(UsageError, match="--reason"):
        keys.revoke(ws, "sam", new.key_id, reason=" ")
    revoked, changed = keys.revoke(ws, "sam", new.key_id, reason="laptop stolen")
    assert changed and revoked.status == "revoked" and revoked.status_reason == "laptop stolen"
    assert keys.revoke(ws, "alice", new.key_id, reason="again")[1] is False
    with pytest.raises(KeyStoreError, match="no longer signs"):
        keys.sign_with(revoked, b"x")
    before = keys.key_verdict(revoked, revoked.status_seq - 1)
    after = keys.key_verdict(revoked, revoked.status_seq)
    assert before.ok and before.status == "signed-then-revoked"
    assert not after.ok and after.status == "revoked"


def test_only_owner_or_admin_creates_keys_for_others(ws) -> None:
    with pytest.raises(PermissionDeniedError, match="'admin'"):
        keys.create(ws, "sam", owner="bob")
    key, _ = keys.create(ws, "alice", owner="bob")
    assert key.actor == "bob"
    with pytest.raises(NotFoundError, match="no actor"):
        keys.create(ws, "alice", owner="nobody")
    with pytest.raises(PermissionDeniedError, match="unknown actor 'mallory'"):
        keys.create(ws, "mallory")


def test_resolve_by_prefix_and_label(ws) -> None:
    key, _ = keys.create(ws, "alice", owner="sam", label="sam-main")
    assert keys.show(ws, "sam-main").key_id == key.key_id
    assert keys.show(ws, key.key_id[:10]).key_id == key.key_id
    with pytest.raises(NotFoundError, match="no key"):
        keys.show(ws, "does-not-exist")


def test_the_backends_table_feeds_the_help_and_status(ws) -> None:  # type: ignore[no-untyped-def]
    from core.audit import admin
    from core.identity.keys import backends

    names = ["keyring", "pkcs11", "passphrase"]
    assert list(backends.BACKENDS) == names
    assert backends.backend_help() == (
        "keyring (OS keyring) or pkcs11 (HSM token) or passphrase (passphrase-protected file)."
    )
    assert list(admin.status(ws, "alice", run_verify=False).key_backends) == names
    with pytest.raises(UsageError, match="choose keyring or pkcs11 or passphrase"):
        backends.backend("floppy")
