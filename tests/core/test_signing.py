"""DSSE envelopes and in-toto statements: golden PAE, round trips, and every mutation caught."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from core.identity.signing import (
    INTOTO_PAYLOAD_TYPE,
    canonical_payload,
    envelope,
    key_id_for,
    pae,
    public_pem,
    statement,
    verify_envelope,
)
from core.kernel.errors import IntegrityError

EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def der(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def signed(
    payload: bytes, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = EC_KEY
) -> tuple[dict, dict[str, str]]:
    message = pae(INTOTO_PAYLOAD_TYPE, payload)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        sig = key.sign(message, ec.ECDSA(hashes.SHA256()))
    else:
        sig = key.sign(message)
    key_id = key_id_for(der(key))
    return envelope(INTOTO_PAYLOAD_TYPE, payload, key_id, sig), {key_id: public_pem(der(key))}


def test_pae_matches_the_dsse_specification_example() -> None:
    # From the DSSE protocol document: PAE("http://example.com/HelloWorld", "hello world").
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_statement_shape_is_in_toto_v1() -> None:
    doc = statement([("model.skops", "ab" * 32)], "https://ledgerml.dev/run/v1", {"seed": 7})
    assert canonical_payload(doc) == (
        b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"seed":7},'
        b'"predicateType":"https://ledgerml.dev/run/v1","subject":[{"digest":{"sha256":"'
        + b"ab" * 32
        + b'"},"name":"model.skops"}]}'
    )


@pytest.mark.parametrize("key", [EC_KEY, ED_KEY], ids=["ecdsa-p256", "ed25519"])
def test_round_trip(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
    env, keys = signed(b'{"x":1}', key)
    verified = verify_envelope(env, keys, expected_type=INTOTO_PAYLOAD_TYPE)
    assert verified.payload == b'{"x":1}' and verified.key_id in keys


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0, max_value=10_000), bit=st.integers(0, 7))
def test_any_flipped_payload_bit_is_rejected(position: int, bit: int) -> None:
    payload = canonical_payload({"subject": "model", "digest": "ab" * 32})
    env, keys = signed(payload)
    raw = bytearray(payload)
    raw[position % len(raw)] ^= 1 << bit
    env["payload"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(IntegrityError):
        verify_envelope(env, keys)


def test_unknown_key_wrong_type_and_malformed_envelopes() -> None:
    env, keys = signed(b"{}")
    with pytest.raises(IntegrityError, match="no signature by a known key"):
        verify_envelope(env, {})
    with pytest.raises(IntegrityError, match="expected"):
        verify_envelope(env, keys, expected_type="application/other")
    other = dict(env, payloadType="application/other")
    with pytest.raises(IntegrityError, match="does not match"):
        verify_envelope(other, keys)
    with pytest.raises(IntegrityError, match="malformed"):
        verify_envelope({"payload": "!!", "signatures": []}, keys)
    assert json.loads(json.dumps(env)) == env


def test_event_bodies_start_with_their_action() -> None:
    """verify() finds key and actor events by this prefix; canonical order guarantees it."""
    from core.kernel.events import Event

    body = Event("alice", "key.create", ["key:x"], {"z": 1, "a": 2}, "why").body()
    assert body.startswith(b'{"action":"key.create","actor":"alice","data":')
