"""Cosigned checkpoints: every workstation is a witness of the shared log.

A server that shows two workstations two different histories, each consistent on its own, is
caught only where the two views meet. So on every sync a workstation signs the checkpoint of
its verified replica (log size and Merkle root) with its actor's own key, and publishes it to
the server, to its own ``ledger/cosigned/`` folder and to every witness folder
(``[witnesses] paths``, which the identity issue introduced for the organisation's
checkpoints); then it checks every cosigned checkpoint it can find, from the server and from
those folders, against its own tree. A root that differs at the same size is a fork; a size
beyond what the server serves is history the server withholds.

The text is a C2SP ``tlog-checkpoint`` (origin line, size, base64 root), signed as a C2SP
``signed-note``: an Ed25519 key signs with type ``0x01`` and the spec's key ID; an ECDSA P-256
key (ledgerml's default) with type ``0x02``, the type the spec assigns to ECDSA witness
signatures, its key ID the first four bytes of SHA-256 over the key's DER SubjectPublicKeyInfo
and its signature ASN.1 DER over the note text. These are the published formats, so other
tlog tools can read the notes; ledgerml has not been tested against another implementation.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from core.identity.authority import Authority, KeyState, verify
from core.kernel.errors import IntegrityError
from storage.fsutil import atomic_write, private_dir

DASH = "\u2014"
_FILE = re.compile(r"^(\d{12})-([0-9a-f]{8})\.note$")
FOLDER = "cosigned"


def origin(workspace_id: str) -> str:
    """The log's origin line: schema-less, unique to the workspace, as C2SP recommends."""
    return f"ledgerml.invalid/{workspace_id}"


def key_name(actor: str, workspace_id: str) -> str:
    """The signed-note key name of an actor's key in this workspace."""
    return f"{origin(workspace_id)}/{actor}"


def checkpoint_text(workspace_id: str, size: int, root: bytes) -> str:
    """The C2SP checkpoint body (ends with a newline)."""
    return f"{origin(workspace_id)}\n{size}\n{base64.b64encode(root).decode()}\n"


def _raw_public(key: KeyState) -> tuple[int, bytes]:
    """``(signature type, key bytes for the key ID)`` of a key."""
    public = serialization.load_pem_public_key(key.public_pem.encode())
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return 0x01, raw
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return 0x02, der


def key_id(key: KeyState, name: str) -> bytes:
    """The four-byte key ID the signed-note spec gives for this key and name."""
    kind, raw = _raw_public(key)
    if kind == 0x01:
        return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw).digest()[:4]
    return hashlib.sha256(raw).digest()[:4]


@dataclass(frozen=True)
class Note:
    """One cosigned checkpoint (parsed, not yet verified)."""

    text: str
    name: str
    key_id: bytes
    signature: bytes
    size: int
    root: bytes
    origin: str

    @property
    def actor(self) -> str:
        """Who the key name says signed it (verification checks the key)."""
        return self.name.rsplit("/", 1)[-1]

    def serialise(self) -> str:
        """The signed note as C2SP writes it."""
        sig = base64.b64encode(self.key_id + self.signature).decode()
        return f"{self.text}\n{DASH} {self.name} {sig}\n"

    @property
    def file_name(self) -> str:
        """``<size>-<key id>.note``: one file per size and signer."""
        return f"{self.size:012d}-{self.key_id.hex()}.note"


def sign(
    sign_fn: object, key: KeyState, actor: str, workspace_id: str, size: int, root: bytes
) -> Note:
    """Cosign the checkpoint ``(size, root)`` with ``key`` (``sign_fn`` signs bytes)."""
    text = checkpoint_text(workspace_id, size, root)
    name = key_name(actor, workspace_id)
    signature = sign_fn(text.encode())  # type: ignore[operator]
    return Note(text, name, key_id(key, name), bytes(signature), size, root, origin(workspace_id))


def parse(data: str, where: str) -> Note:
    """Read one signed note.

    Raises:
        IntegrityError: naming ``where`` if it is not a one-signature checkpoint note.
    """
    text, sep, sigs = data.partition("\n\n")
    lines = [line for line in sigs.split("\n") if line]
    body = text.split("\n")
    try:
        if not sep or len(lines) != 1 or len(body) < 3:
            raise ValueError("not a signed checkpoint note")
        dash, name, blob = lines[0].split(" ")
        raw = base64.b64decode(blob, validate=True)
        if dash != DASH or len(raw) < 5:
            raise ValueError("malformed signature line")
        size = int(body[1])
        root = base64.b64decode(body[2], validate=True)
        if len(root) != 32 or size < 1:
            raise ValueError("malformed size or root")
    except ValueError as err:
        raise IntegrityError(f"cosigned checkpoint {where} is malformed: {err}") from err
    return Note(text + "\n", name, raw[:4], raw[4:], size, root, body[0])


def check(note: Note, auth: Authority, workspace_id: str) -> str | None:
    """Why ``note`` is not a valid cosignature of this workspace's log; None if it is."""
    if note.origin != origin(workspace_id):
        return f"is for another log ({note.origin})"
    for key in auth.keys.values():
        if key.actor != note.actor or key.purpose != "actor" or not key.certified:
            continue
        if key_id(key, note.name) != note.key_id:
            continue
        if verify(key.public_pem, note.text.encode(), note.signature):
            return None
        return f"has a signature by {note.actor}'s key that does not match its text"
    return f"is signed by no certified key of {note.actor!r} this ledger knows"


def write(folder: Path, note: Note) -> bool:
    """Keep ``note`` in ``folder`` (never overwriting a different one); True if written."""
    path = folder / note.file_name
    data = note.serialise().encode()
    if path.exists():
        return False
    private_dir(folder)
    atomic_write(path, data)
    return True


def read_folder(folder: Path) -> list[tuple[str, str]]:
    """``(where, text)`` of every note file in ``folder`` (none if it cannot be read)."""
    try:
        paths = sorted(p for p in folder.iterdir() if _FILE.match(p.name))
    except OSError:
        return []
    out = []
    for path in paths:
        try:
            out.append((str(path), path.read_text()))
        except (OSError, UnicodeDecodeError):
            continue
    return out
