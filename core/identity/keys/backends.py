"""Where private keys live: the OS keyring or a PKCS#11 token. They never touch disk in clear.

A backend generates a key pair, keeps the private half, hands back an opaque ``handle`` and
the public key (DER SubjectPublicKeyInfo), and later signs with the handle. Verification never
needs a backend: it uses only public keys (see :mod:`core.identity.signing`).

- ``keyring``: the private key, PKCS#8 PEM, is stored as a secret through the ``keyring``
  library (Secret Service on Linux, Keychain on macOS, Credential Locker on Windows), which
  keeps it encrypted at rest. Backends that would store it in plain text, or not at all, are
  refused.
- ``passphrase``: the private key, PKCS#8 PEM encrypted with a passphrase (scrypt-derived
  AES-256 via ``cryptography``'s best available encryption), is kept in the user's config
  folder (:func:`core.identity.secrets.key_dir`), mode 0600. Using it needs the passphrase
  (:func:`core.identity.secrets.secret`); holding the file alone is not enough.
- ``pkcs11``: the key pair is generated inside the token, the private key marked sensitive and
  non-extractable, and signing happens in the token (``CKM_ECDSA`` over a SHA-256 digest, which
  every token supports; SoftHSM2 has no ``CKM_ECDSA_SHA256``). Configure it with
  ``LEDGERML_PKCS11_MODULE`` (default: SoftHSM2's library), ``LEDGERML_PKCS11_TOKEN`` (token
  label) and ``LEDGERML_PKCS11_PIN`` (the user PIN, read from the environment only).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.identity.secrets import key_dir, secret
from core.kernel.errors import IdentityError, KeyStoreError, UsageError

if TYPE_CHECKING:  # cryptography is imported where keys are made or used, not by every command
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

ALGORITHMS = ("ecdsa-p256", "ed25519")
KEYRING_SERVICE = "ledgerml"
SOFTHSM_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
_REFUSED_KEYRINGS = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


class KeyBackend(Protocol):
    """Generates, holds and uses private keys."""

    name: str

    def availability(self) -> str | None:
        """None when usable, else why not (shown by ``status`` and in errors)."""

    def generate(self, algorithm: str) -> tuple[str, bytes]:
        """Create a key pair; return ``(handle, public key DER)``."""

    def sign(self, handle: str, algorithm: str, data: bytes) -> bytes:
        """Sign ``data``: DER ECDSA over SHA-256, or raw Ed25519."""

    def unlock(self, handle: str, algorithm: str, who: str) -> Callable[[bytes], bytes]:
        """Prove this process holds the private key: a signer, kept for the process.

        Raises:
            IdentityError: naming ``who`` if the key, its passphrase or PIN is not at hand.
        """


def _public_der(public: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class KeyringBackend:
    """Private keys as secrets in the OS keyring."""

    name = "keyring"

    def _keyring(self) -> Any:
        import keyring

        backend = keyring.get_keyring()
        inner = list(getattr(backend, "backends", [backend]))
        names = [f"{type(b).__module__}.{type(b).__name__}" for b in inner]
        usable = [n for n in names if not n.startswith(_REFUSED_KEYRINGS)]
        if not usable:
            raise KeyStoreError(
                f"no secure OS keyring is available (found {', '.join(names) or 'none'})",
                hint="On a desktop, unlock your keyring. On a headless machine start one: "
                "`dbus-run-session -- sh -c 'echo -n PASS | gnome-keyring-daemon --unlock "
                "--components=secrets; ledgerml …'`, or use --backend pkcs11. Plain-text and "
                "null keyrings are refused for private keys.",
            )
        return keyring

    def availability(self) -> str | None:
        """Whether a secure keyring answers."""
        try:
            self._keyring()
        except KeyStoreError as err:
            return err.msg
        return None

    def generate(self, algorithm: str) -> tuple[str, bytes]:
        """Create a key in memory, store its private half in the keyring, forget it."""
        from cryptography.hazmat.primitives import serialization

        keyring = self._keyring()
        private = _new_private(algorithm)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        handle = f"key-{uuid.uuid4()}"
        try:
            keyring.set_password(KEYRING_SERVICE, handle, pem)
            stored = keyring.get_password(KEYRING_SERVICE, handle)
        except Exception as err:
            raise KeyStoreError(f"the OS keyring refused to store the key: {err}") from err
        if stored != pem:
            raise KeyStoreError("the OS keyring did not keep the key it was given")
        return handle, _public_der(private.public_key())

    def sign(self, handle: str, algorithm: str, data: bytes) -> bytes:
        """Sign with the private key from the keyring."""
        return self.unlock(handle, algorithm, "")(data)

    def unlock(self, handle: str, algorithm: str, who: str) -> Callable[[bytes], bytes]:
        """The keyring entry's key as a signer (read once per process)."""
        cached = _UNLOCKED.get(("keyring", handle))
        if cached is not None:
            return cached
        from cryptography.hazmat.primitives import serialization

        keyring = self._keyring()
        try:
            pem = keyring.get_password(KEYRING_SERVICE, handle)
        except Exception as err:
            raise KeyStoreError(f"the OS keyring could not be read: {err}") from err
        if pem is None:
            raise IdentityError(
                f"this OS account does not hold the secret of {who or 'key ' + handle}: "
                f"its private key {handle} is not in this account's keyring",
                hint="Act as yourself, on the OS account (and machine) where your key was "
                "made. Nothing was recorded.",
            )
        signer = _signer(serialization.load_pem_private_key(pem.encode(), password=None))
        _UNLOCKED[("keyring", handle)] = signer
        return signer


@cache
def _pkcs11_lib(path: str) -> Any:
    import pkcs11

    return pkcs11.lib(path)


class Pkcs11Backend:
    """Private keys generated and used inside a PKCS#11 token."""

    name = "pkcs11"

    def __init__(self, module: str = "", token: str = "") -> None:
        """Use ``module``/``token``, else the environment, else SoftHSM2's library."""
        self.module = module or os.environ.get("LEDGERML_PKCS11_MODULE", "")
        if not self.module:
            self.module = next((p for p in SOFTHSM_PATHS if Path(p).is_file()), "")
        self.token = token or os.environ.get("LEDGERML_PKCS11_TOKEN", "")

    def availability(self) -> str | None:
        """Whether the module loads and the token is configured."""
        if not self.module or not Path(self.module).is_file():
            return "no PKCS#11 module found (set LEDGERML_PKCS11_MODULE)"
        if not self.token:
            return "no token configured (set LEDGERML_PKCS11_TOKEN to the token label)"
        return None

    def _pin(self) -> str:
        pin = os.environ.get("LEDGERML_PKCS11_PIN") or secret(f"PIN of token {self.token}")
        if not pin:
            raise KeyStoreError(
                f"no user PIN for token {self.token!r}",
                hint="Give it in the file named by LEDGERML_SECRET_FILE.",
            )
        return pin

    def _session(self) -> Any:
        """One logged-in session per token and process (a token allows one login per app)."""
        import pkcs11

        problem = self.availability()
        if problem:
            raise KeyStoreError(f"the PKCS#11 backend is not usable: {problem}")
        pin = self._pin()
        slot = (self.module, self.token)
        cached = _PKCS11_SESSIONS.get(slot)
        if cached is not None:
            if cached[0] == pin:
                return cached[1]
            _PKCS11_SESSIONS.pop(slot)
            for name in [k for k in _UNLOCKED if k[0] == "pkcs11"]:
                _UNLOCKED.pop(name)
            with contextlib.suppress(pkcs11.exceptions.PKCS11Error):
                cached[1].close()
        try:
            token = _pkcs11_lib(self.module).get_token(token_label=self.token)
            session = token.open(user_pin=pin, rw=True)
        except pkcs11.exceptions.NoSuchToken as err:
            raise KeyStoreError(
                f"no PKCS#11 token labelled {self.token!r} in {self.module}",
                hint="Check LEDGERML_PKCS11_TOKEN (softhsm2-util --show-slots lists tokens).",
            ) from err
        except pkcs11.exceptions.PinIncorrect as err:
            raise KeyStoreError(f"the PIN for token {self.token!r} is wrong") from err
        except pkcs11.exceptions.PKCS11Error as err:
            raise KeyStoreError(f"the PKCS#11 token refused the session: {err!r}") from err
        _PKCS11_SESSIONS[slot] = (pin, session)
        return session

    def generate(self, algorithm: str) -> tuple[str, bytes]:
        """Generate a P-256 key pair in the token; the private key never leaves it."""
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

        if algorithm != "ecdsa-p256":
            raise UsageError(
                f"the pkcs11 backend supports only ecdsa-p256, not {algorithm!r}",
                hint="Ed25519 is available on the keyring backend.",
            )
        handle = f"ledgerml-{uuid.uuid4()}"
        session = self._session()
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, _ = params.generate_keypair(
            store=True,
            label=handle,
            id=handle.encode(),
            private_template={
                Attribute.EXTRACTABLE: False,
                Attribute.SENSITIVE: True,
                Attribute.SIGN: True,
            },
        )
        return handle, bytes(encode_ec_public_key(public))

    def sign(self, handle: str, algorithm: str, data: bytes) -> bytes:
        """Sign inside the token and return a DER ECDSA signature."""
        return self.unlock(handle, algorithm, "")(data)

    def unlock(self, handle: str, algorithm: str, who: str) -> Callable[[bytes], bytes]:
        """A signer over a token session opened with the PIN (kept for the process)."""
        cached = _UNLOCKED.get(("pkcs11", handle))
        if cached is not None:
            return cached
        import pkcs11
        from pkcs11 import Mechanism, ObjectClass
        from pkcs11.util.ec import encode_ecdsa_signature

        try:
            session = self._session()
        except KeyStoreError as err:
            raise IdentityError(
                f"cannot prove the secret of {who or 'key ' + handle}: {err.msg}",
                hint="Give the token's PIN through LEDGERML_SECRET_FILE. Nothing was recorded.",
            ) from err
        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=handle)
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned) as err:
            raise IdentityError(
                f"the token {self.token!r} holds no single private key {handle} of "
                f"{who or 'this key'}",
                hint="Use the token the key was created in (LEDGERML_PKCS11_TOKEN).",
            ) from err

        def sign(data: bytes) -> bytes:
            raw = key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
            return bytes(encode_ecdsa_signature(raw))

        _UNLOCKED[("pkcs11", handle)] = sign
        return sign


class PassphraseBackend:
    """Private keys encrypted with a passphrase, in the user's config folder."""

    name = "passphrase"

    def availability(self) -> str | None:
        """Usable wherever the user's config folder can be written."""
        return None

    def _path(self, handle: str) -> Path:
        return key_dir() / f"{handle}.pem"

    def generate(self, algorithm: str) -> tuple[str, bytes]:
        """Create a key and store it encrypted with the passphrase of the secret file/prompt."""
        from cryptography.hazmat.primitives import serialization

        phrase = secret("passphrase for the new key")
        if not phrase:
            raise KeyStoreError(
                "a passphrase key needs a passphrase",
                hint="Give it in the file named by LEDGERML_SECRET_FILE, or at the prompt.",
            )
        private = _new_private(algorithm)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(phrase.encode()),
        )
        handle = f"key-{uuid.uuid4()}"
        folder = key_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(handle)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        return handle, _public_der(private.public_key())

    def sign(self, handle: str, algorithm: str, data: bytes) -> bytes:
        """Sign after unlocking the key with its passphrase."""
        return self.unlock(handle, algorithm, "")(data)

    def unlock(self, handle: str, algorithm: str, who: str) -> Callable[[bytes], bytes]:
        """Decrypt the key with the passphrase (asked once per process)."""
        cached = _UNLOCKED.get(("passphrase", handle))
        if cached is not None:
            return cached
        from cryptography.hazmat.primitives import serialization

        path = self._path(handle)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise IdentityError(
                f"this OS account does not hold the key of {who or handle}: {path} is missing",
                hint="Act on the account where the key was made. Nothing was recorded.",
            ) from err
        phrase = secret(f"passphrase of {who or handle}")
        if not phrase:
            raise IdentityError(
                f"acting as {who or 'this key'} needs its passphrase, and none was given",
                hint="Give it in the file named by LEDGERML_SECRET_FILE (never on the command "
                "line), or at the prompt. Nothing was recorded.",
            )
        try:
            private = serialization.load_pem_private_key(data, password=phrase.encode())
        except (ValueError, TypeError) as err:
            raise IdentityError(
                f"the passphrase of {who or 'this key'} is wrong", hint="Nothing was recorded."
            ) from err
        signer = _signer(private)
        _UNLOCKED[("passphrase", handle)] = signer
        return signer


_UNLOCKED: dict[tuple[str, str], Callable[[bytes], bytes]] = {}
_PKCS11_SESSIONS: dict[tuple[str, str], tuple[str, Any]] = {}
"""Open, logged-in token sessions by (module, token), with the PIN that opened them."""
"""Signers proven in this process, by (backend, handle): a secret is asked for once."""


def forget_unlocked() -> None:
    """Drop every unlocked key of this process (tests; a TUI session's lock)."""
    _UNLOCKED.clear()


def _new_private(algorithm: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise UsageError(f"unknown algorithm {algorithm!r}; choose {', '.join(ALGORITHMS)}")


def _signer(private: Any) -> Callable[[bytes], bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(private, ec.EllipticCurvePrivateKey):
        # RFC 6979 deterministic ECDSA: the same bytes signed twice give the same signature,
        # so an export of the same ledger state is byte-identical.
        algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        return lambda data: private.sign(data, algorithm)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return private.sign
    raise KeyStoreError(f"unsupported private key type {type(private).__name__}")


@dataclass(frozen=True)
class BackendInfo:
    """One key backend as the CLI and ``status`` describe it, and how to make it."""

    name: str
    summary: str  # a few words, for option help: "OS keyring"
    requires: str  # what must be present for it to work
    algorithms: tuple[str, ...]
    make: Callable[[], KeyBackend]


# Every key backend, once. A new backend is a class above and a row here; the CLI's option
# help, ``status``'s backend list and :func:`backend` read this table.
BACKENDS: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        BackendInfo(
            "keyring",
            "OS keyring",
            "an OS keyring service that encrypts at rest (Secret Service, Keychain, "
            "Credential Locker)",
            ALGORITHMS,
            KeyringBackend,
        ),
        BackendInfo(
            "pkcs11",
            "HSM token",
            "a PKCS#11 module and token: LEDGERML_PKCS11_MODULE, LEDGERML_PKCS11_TOKEN, "
            "LEDGERML_PKCS11_PIN",
            ("ecdsa-p256",),
            Pkcs11Backend,
        ),
        BackendInfo(
            "passphrase",
            "passphrase-protected file",
            "a passphrase, given in the file named by LEDGERML_SECRET_FILE or at a prompt",
            ALGORITHMS,
            PassphraseBackend,
        ),
    )
}


def backend_help() -> str:
    """The backends in words for option help (``keyring (OS keyring) or pkcs11 …``)."""
    return " or ".join(f"{b.name} ({b.summary})" for b in BACKENDS.values()) + "."


def backend_names() -> str:
    """The backends' names as a choice: ``keyring or pkcs11``."""
    return " or ".join(BACKENDS)


def backend(name: str) -> KeyBackend:
    """The backend called ``name``."""
    info = BACKENDS.get(name)
    if info is None:
        raise UsageError(f"unknown key backend {name!r}; choose {backend_names()}")
    return info.make()
