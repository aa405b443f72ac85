"""Verify a ledgerml audit bundle with nothing but Python and the `cryptography` package.

This file is copied verbatim into every bundle as ``verify.py``, and ``ledgerml bundle
verify`` runs this same code, so both always reach the same verdict. Do not run the copy
inside a bundle: whoever could alter the bundle could alter it too. Run your own trusted copy
(each ledgerml release publishes it with its SHA-256). Read it top to bottom:

1. Open the zip without extracting anything, and refuse unsafe archives (absolute paths,
   ``..``, backslashes, symlinks, duplicate names, too many members, zip bombs).
2. Check the manifest's DSSE signature with the key it names, and every member against the
   manifest (SHA-256 and size): nothing added, removed, renamed or changed.
3. Check the keys: each key id is the SHA-256 of its public key, each entry matches the ledger
   event that added it. Format 2: the manifest, the checkpoint and every ledger event are
   signed by an actor's own key, whose certificate verifies under an organisation key the
   bundle lists, and which had not been rotated or revoked (nor its actor suspended) then.
   Each event's signature must be by its own actor. Format 1 (before December 2026): one
   workspace key signed manifest and checkpoint; events were not signed.
4. Check the signed checkpoint, then every ledger event's Merkle inclusion proof against it,
   and that every evidence member is named by an included event.
5. With ``--checkpoint OLD.json`` (a checkpoint you saw before), check the log only grew.
6. Anchor: all of the above only shows the bundle agrees with itself. ``--key ORG.pem`` (the
   organisation's public key, obtained from the organisation through another channel; for a
   format-1 bundle its workspace key) pins the anchor the certificates must lead to. Your
   earlier checkpoint anchors too, if the organisation key was in the log by then.

7. Governance (no Rego runs here): every approval of the model is checked (its envelope
   is the one its event names, signed by the approver's own certified key usable then, for
   this version's digest and this workspace, saying what the event says; the approver held
   the role, is a person, and did not develop the version), every promotion to approved
   that is not break-glass meets its tier's k-of-n rule (``approval_check``, the function
   the workstation runs) under the bundled policy in force then, every risk tier is the
   policy's band for its impact and likelihood, and every policy decision names the bundle
   in force, whose bytes must hash to its installed digest.

8. With ``--recompute``: recompute the headline figures (ROC AUC, accuracy, per-group rates,
   TPR/FPR gaps, disparate impact) from the bundled test predictions with the standard
   library alone, and name every figure that differs from the signed evidence. A bundle
   exported with ``--data hashes`` holds digests only: it says the recomputation was not
   possible.

9. Operations: the model's deployments (``operations/deployments.json``) are exactly what
   the signed events record; each deployment to production is of a version the signed
   promotions had approved then, and each carries an allow decision of the ``deploy`` gate.

10. Privacy: the access log (``privacy/access-log.json``: every recorded read of the bundled
   data and every bundle export the excerpt holds) is exactly what the signed events record,
   so an exporter cannot leave an access out of it or edit one.

11. Retention: ``privacy/retention.json`` (rules, legal holds, erasures with their receipts'
   digests, retention runs, and flags such as an erasure made before its retention had run
   out by the wall clock) is exactly what the signed events record.

12. Privacy: every erasure in the excerpt carries its deletion receipt, whose SHA-256 is
   the digest its signed ``data.erase`` event names and whose claims equal the event's.

Usage: ``python verify.py BUNDLE.zip [--checkpoint OLD.json] [--key ORG.pem] [--recompute]``.
Exit code 0 verified and anchored, 1 self-consistent but unanchored, 3 rejected (also: a
recomputed figure differs), 2 usage error.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import stat
import struct
import sys
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any

FORMAT_1 = "ledgerml-bundle/v1"
FORMAT = "ledgerml-bundle/v2"
"""Format 2: every signature by an actor's own key, certified by the organisation key."""
KEYS = "keys/keys.json"
ACTORS = "identity/actors.json"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.dsse.json"
MANIFEST_TYPE = "application/vnd.ledgerml.bundle-manifest+json"
CHECKPOINT_TYPE = "application/vnd.ledgerml.checkpoint+json"
EVENT_TYPE = "application/vnd.ledgerml.event+json"
CERTIFICATE_TYPE = "application/vnd.ledgerml.key-certificate+json"
CERTIFICATE_STATEMENT = "ledgerml/key-certificate/v1"
SIG_MEMBER = b',"~sig":'
GOVERNED = {
    "model.register": "register",
    "model.promote": "promote",
    "model.approve": "approve",
    "bundle.export": "export",
    "model.risk": "risk",
    "data.erase": "erase",
}
"""The governed actions and the policy gate each must pass: once a policy is in force, an
event of one of these carries an allow decision of that gate as its ``policy`` member (the
workstation's ``audit verify`` and this verifier check the same table)."""
DECIDED_BY = {"model.deploy": "deploy", "model.rollback": "deploy"}
"""Actions whose decision, when they carry one, is of this gate. A deployment of a model
always carries one (the operations checks require it), and so does a rule-based baseline
put live in a model's place (since it must pass the gate too); ledgers written before that
hold baselines without one, so the table above cannot require it of every event. A model's
bundle carries only that model's deployments, never a baseline's, so this verifier has no
baseline rule of its own (the workstation's ``audit verify`` checks them)."""
"""An event's signature is its body's last member; the signed bytes are the body without it."""
EXIT_VERIFIED, EXIT_UNANCHORED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3
MAX_MEMBERS = 100_000
MAX_TOTAL = 64 * 1024**3
MAX_RATIO = 200


class RejectedError(Exception):
    """The bundle does not verify; the message says exactly what failed."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _n(count: int, word: str, many: str = "") -> str:
    """A count with its noun in the right number: ``1 approval``, ``3 approvals``, ``0 runs``.

    ``many`` is the plural when it is not ``word`` + s (``decision batches``).
    """
    return f"{count} {word if count == 1 else (many or word + 's')}"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@functools.lru_cache(maxsize=256)
def _public_key(pem: str) -> Any:
    """A PEM public key, parsed once: a ledger's events are signed by a few keys, many times."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(pem.encode())


def verify_signature(pem: str, message: bytes, signature: bytes) -> bool:
    """ECDSA P-256/SHA-256 (DER) or Ed25519 signature check with a PEM public key."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = _public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # a garbled PEM: it matches nothing
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def open_envelope(raw: bytes, payload_type: str, pem: str, what: str) -> bytes:
    """Verify a one-signature DSSE envelope and return its payload."""
    try:
        env = json.loads(raw)
        payload = base64.b64decode(env["payload"], validate=True)
        sig = base64.b64decode(env["signatures"][0]["sig"], validate=True)
        kind = env["payloadType"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise RejectedError(f"{what}: malformed signature envelope ({err!r})") from err
    if kind != payload_type:
        raise RejectedError(f"{what}: envelope carries {kind!r}, expected {payload_type!r}")
    if not verify_signature(pem, pae(kind, payload), sig):
        raise RejectedError(f"{what}: the signature does not verify")
    return payload


def leaf_hash(entry_hash: bytes) -> bytes:
    """RFC 6962 leaf hash of an event (its entry hash is the leaf data)."""
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_ok(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_ok(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return True
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


FIXED_TIME = (1980, 1, 1, 0, 0, 0)
ZIP64_AT = 2**31 - 1


def canonical_info(name: str, size: int) -> tuple[zipfile.ZipInfo, bool]:
    """The one header a member may have, and whether it needs zip64.

    Stored (no compression), fixed time, rw-r--r--, made on Unix. The exporter writes exactly
    this and the verifier rewrites it to compare.
    """
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = 0o644 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_STORED
    return info, size > ZIP64_AT


class AppendOnly:
    """A write-only, non-seekable stream, so zipfile writes every byte once, in order."""

    def __init__(self, sink: Any) -> None:
        """Wrap ``sink`` (anything with ``write`` and ``flush``)."""
        self.sink, self.position = sink, 0

    def write(self, data: bytes) -> int:
        """Pass bytes on and count them."""
        self.sink.write(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        """Bytes written so far."""
        return self.position

    def flush(self) -> None:
        """Flush the sink."""
        self.sink.flush()

    def seekable(self) -> bool:
        """Never: so zipfile uses data descriptors instead of rewriting headers."""
        return False

    def seek(self, *_: Any) -> int:
        """Refuse to seek."""
        raise OSError("not seekable")


class _Compare:
    """Receives the canonical archive and compares it with the bundle file as it goes.

    Member data is the exception: :func:`_canonical_pass` reads it from the file at the very
    position the canonical layout puts it (``trusted`` bytes), so there is nothing to compare;
    its SHA-256 is what gets checked, against the signed manifest.
    """

    def __init__(self, handle: Any) -> None:
        self.handle, self.mismatch, self.trusted = handle, -1, 0

    def write(self, data: bytes) -> int:
        size = len(data)
        if self.trusted:
            self.trusted -= size
            return size
        if self.mismatch < 0:
            here = self.handle.tell()
            actual = self.handle.read(size)
            if actual != data:
                first = next(
                    (i for i, (a, b) in enumerate(zip(actual, data, strict=False)) if a != b),
                    min(len(actual), len(data)),
                )
                self.mismatch = here + first
        return size

    def flush(self) -> None:
        pass


CHUNK = 1 << 22


def _canonical_pass(path: str, members: dict[str, zipfile.ZipInfo]) -> dict[str, tuple[str, int]]:
    """Rewrite the archive canonically while comparing it with the file; hash every member.

    Any byte of the file that differs from what the exporter writes (in a member, a header,
    the central directory or the end record) is found here. Each member's bytes are read once,
    from where the canonical layout puts them: the SHA-256 (checked against the signed
    manifest) and the CRC-32 the canonical headers carry (compared with the file's) are both
    computed over that one read, side by side in two threads; zipfile's own CRC check on
    reading is not needed on top.
    """
    digests: dict[str, tuple[str, int]] = {}
    buffers = (memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK)))
    with open(path, "rb") as handle, ThreadPoolExecutor(max_workers=1) as pool:
        total = handle.seek(0, 2)
        handle.seek(0)
        compare = _Compare(handle)
        writer = AppendOnly(compare)
        spans: list[tuple[int, str]] = []  # where each member's record (header to CRC) starts
        with zipfile.ZipFile(writer, "w") as canonical:  # type: ignore[call-overload]
            for name in sorted(members):
                spans.append((writer.position, name))
                info, zip64 = canonical_info(name, members[name].file_size)
                digest, left = hashlib.sha256(), members[name].file_size
                with canonical.open(info, "w", force_zip64=zip64) as dst:
                    if compare.mismatch >= 0:
                        break  # the local header already differs: stop reading here
                    hashing: Future[None] | None = None
                    turn = 0
                    while left:
                        # Two buffers: the next read fills one while the other is hashed.
                        chunk = buffers[turn][: min(CHUNK, left)]
                        got = handle.readinto(chunk)
                        if hashing is not None:
                            hashing.result()
                            hashing = None
                        if not got:
                            break  # the file ends inside the member: found just below
                        chunk = chunk[:got]
                        # SHA-256 in the helper thread while zipfile takes the CRC-32 here:
                        # both release the GIL, so on two cores this costs one hash's time.
                        hashing = pool.submit(digest.update, chunk)
                        compare.trusted = got
                        dst.write(chunk)
                        left -= got
                        turn = 1 - turn
                    if hashing is not None:
                        hashing.result()
                if left:
                    compare.mismatch = handle.tell() if compare.mismatch < 0 else compare.mismatch
                    break
                digests[name] = (digest.hexdigest(), members[name].file_size)
            else:
                spans.append((writer.position, ""))  # then the central directory
        if compare.mismatch >= 0:
            # A changed data byte shows as its CRC-32 differing, right after the data: name
            # the member whose record holds the byte, so the reader knows what was altered.
            where = next((n for start, n in reversed(spans) if start <= compare.mismatch), "")
            inside = f" (in member {where!r})" if where else " (in the central directory)"
            raise RejectedError(
                f"byte {compare.mismatch} of the archive differs from its "
                f"canonical layout{inside}: the file was altered after export"
            )
        if writer.position != total:
            raise RejectedError(
                f"the archive holds {total - writer.position} bytes beyond its canonical layout"
            )
    return digests


def _safe_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise RejectedError(f"too many members ({len(infos)})")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or "\\" in name
            or ":" in parts[0]
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise RejectedError(f"unsafe member name {name!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise RejectedError(f"member {name!r} is a symbolic link")
        if name in members:
            raise RejectedError(f"duplicate member name {name!r}")
        if (
            info.compress_type != zipfile.ZIP_STORED
            and info.compress_size
            and info.file_size / info.compress_size > MAX_RATIO
        ):
            raise RejectedError(
                f"member {name!r} expands {info.file_size // info.compress_size}x (a zip bomb?)"
            )
        total += info.file_size
        if total > MAX_TOTAL:
            raise RejectedError("members add up to more than the size limit")
        members[name] = info
    return members


class PinError(Exception):
    """An anchor file (``--key``, trusted keys) holds no usable public key: a usage error."""


_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def key_id_of(pem: str) -> str:
    """A key's id: the SHA-256 of its DER SubjectPublicKeyInfo, which is its fingerprint.

    The verifier computes it from the public key itself, never takes the id a list states:
    a certificate names a key by this id, so the id must bind the key.
    """
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem.encode())
    return _sha256(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def read_anchor(text: str) -> set[str]:
    """The key ids of every PEM public key in an anchor file (one key or several)."""
    blocks = _PEM.findall(text)
    if not blocks:
        raise PinError("it holds no PEM public key (-----BEGIN PUBLIC KEY-----)")
    try:
        return {key_id_of(b) for b in blocks}
    except (ValueError, TypeError) as err:
        raise PinError(f"a PEM block in it is not a public key ({err})") from err


def _short(key_id: str) -> str:
    return f"{key_id[:16]}…"


class _Identity:
    """The bundle's keys and actors, checked against each other and against the events.

    Format 2: every signature (manifest, checkpoint, each event) must be by an actor's key
    whose certificate verifies under an organisation key the bundle lists, restricted to the
    keys the auditor pinned when they pinned any. Format 1 certified nothing: its one
    workspace key signed manifest and checkpoint, and its events are unsigned.
    """

    def __init__(
        self,
        fmt: str,
        workspace: str,
        keys: list[dict[str, Any]],
        actors: list[dict[str, Any]] | None,
        pinned: set[str] | None,
    ) -> None:
        self.fmt, self.workspace = fmt, workspace
        self.keys: dict[str, dict[str, Any]] = {}
        for k in keys:
            kid = str(k["key_id"])
            if kid in self.keys:
                raise RejectedError(f"the key list names key {_short(kid)} twice")
            if key_id_of(str(k["public_pem"])) != kid:
                raise RejectedError(
                    f"the key list gives key {_short(kid)} a public key whose SHA-256 "
                    "fingerprint is another"
                )
            self.keys[kid] = k
        self.root_purpose = "organisation" if fmt == FORMAT else "workspace"
        self.roots = {kid for kid, k in self.keys.items() if k.get("purpose") == self.root_purpose}
        self.pinned = pinned
        self.trusted = self.roots if pinned is None else self.roots & pinned
        self.actors = {str(a["name"]): a for a in actors or []}
        self.ends: dict[str, tuple[int, str]] = {}
        self.compromised: dict[str, str] = {}
        for kid, k in self.keys.items():
            if k.get("status") in ("rotated", "revoked") and k.get("status_seq") is not None:
                self.ends[kid] = (int(k["status_seq"]), str(k["status"]))
            if k.get("compromised_since"):
                self.compromised[kid] = str(k["compromised_since"])
        self.introduced: dict[str, int] = {}
        self.history: dict[str, list[tuple[int, str]]] = {}  # actor -> (seq, status) changes
        self.demo = False
        self._why: dict[str, str | None] = {}
        self.policies: list[tuple[int, str]] = []  # (seq, digest) of each policy.install

    def root_of(self, kid: str) -> str:
        """The root key a signing key leads to (itself in format 1)."""
        if self.fmt == FORMAT_1:
            return kid
        try:
            return str(self.keys[kid]["certificate"]["signatures"][0]["keyid"])
        except (KeyError, IndexError, TypeError):
            return ""

    def uncertified(self, kid: str) -> str | None:
        """Why key ``kid`` is not certified by a trusted organisation key; None if it is."""
        if kid not in self._why:
            self._why[kid] = self._uncertified(self.keys[kid])
        return self._why[kid]

    def _uncertified(self, k: dict[str, Any]) -> str | None:
        if self.fmt == FORMAT_1:
            return "a format-1 bundle certifies no keys"
        cert = k.get("certificate")
        if not isinstance(cert, dict):
            return "it carries no certificate by the organisation key"
        try:
            kind = str(cert["payloadType"])
            payload = base64.b64decode(cert["payload"], validate=True)
            sig = base64.b64decode(cert["signatures"][0]["sig"], validate=True)
            by = str(cert["signatures"][0]["keyid"])
        except (ValueError, KeyError, IndexError, TypeError):
            return "its certificate is malformed"
        if kind != CERTIFICATE_TYPE:
            return f"its certificate carries {kind!r}, not a key certificate"
        if by not in self.roots:
            return (
                f"its certificate is by key {_short(by)}, which the bundle does not list as "
                "an organisation key"
            )
        if by not in self.trusted:
            return f"its certificate is by organisation key {_short(by)}, not by the one you pinned"
        org = self.keys[by]
        if not verify_signature(str(org["public_pem"]), pae(kind, payload), sig):
            return "its certificate's signature does not verify"
        expected = {
            "type": CERTIFICATE_STATEMENT,
            "workspace": self.workspace,
            "actor": k.get("actor"),
            "key_id": k.get("key_id"),
            "purpose": k.get("purpose"),
            "algorithm": k.get("algorithm"),
        }
        try:
            stated = json.loads(payload)
        except ValueError:
            stated = None
        if stated != expected:
            return "its certificate is for another key, actor, purpose or workspace"
        added, end = int(k["created_seq"]), self.ends.get(by)
        if added < int(org["created_seq"]) or (end is not None and added > end[0]):
            return (
                f"its certificate is by organisation key {_short(by)}, which was not in force "
                f"when the key was added (event #{added})"
            )
        return None

    def unusable(self, kid: str, position: int, ts: str | None = None) -> str | None:
        """Why key ``kid`` could not sign at ledger position ``position``; None if it could."""
        end = self.ends.get(kid)
        if end is not None and position > end[0]:
            return f"{end[1]} at event #{end[0]}"
        since = self.compromised.get(kid)
        if since is not None and (ts is None or ts >= since):
            return f"compromised since {since}"
        return None

    def policy_at(self, seq: int) -> tuple[int, str] | None:
        """The policy install in force just before event ``seq`` (None before any)."""
        found = [p for p in self.policies if p[0] < seq]
        return found[-1] if found else None

    def actor_status(self, name: str, seq: int) -> str:
        """An actor's status just before event ``seq``, as the identity events tell it."""
        state = "not registered"
        for at, status in self.history.get(name, []):
            if at < seq:
                state = status
        return state

    def signer(self, what: str, kid: str, position: int | None) -> dict[str, Any]:
        """The key that signed the manifest or a checkpoint, if it may have; else reject.

        ``position`` is where in the ledger it signed (None: an earlier checkpoint of yours,
        whose signer's later status does not matter).
        """
        k = self.keys.get(kid)
        if k is None:
            raise RejectedError(
                f"{what} is signed by key {_short(kid)}, which the bundle does not list"
            )
        if self.fmt == FORMAT_1:
            if k.get("purpose") != "workspace":
                raise RejectedError(
                    f"{what} is signed by key {_short(kid)}, which the bundle does not list as "
                    "the workspace key"
                )
            if self.pinned is not None and kid not in self.pinned:
                raise RejectedError(
                    f"{what} is signed by workspace key {_short(kid)}, not by the key you pinned"
                )
        else:
            if k.get("purpose") != "actor":
                raise RejectedError(
                    f"{what} is signed by key {_short(kid)} of purpose {k.get('purpose')!r}; a "
                    "format-2 bundle must be signed by an actor's own key"
                )
            why = self.uncertified(kid)
            if why is not None:
                raise RejectedError(
                    f"{what} is signed by key {_short(kid)} (actor {k.get('actor')!r}), a key "
                    f"the organisation never certified: {why}"
                )
            actor = self.actors.get(str(k.get("actor")))
            if position is not None:
                state = self.actor_status(str(k.get("actor")), position)
                if actor is not None and actor.get("status") != "active":
                    state = str(actor.get("status"))
                if state != "active":
                    raise RejectedError(
                        f"{what} is signed by {k.get('actor')!r}, who was {state} at the export"
                    )
        why = self.unusable(kid, position) if position is not None else None
        if why is not None:
            raise RejectedError(f"{what} is signed by key {_short(kid)}, {why} before the export")
        return k

    def note(self, seq: int, body: dict[str, Any]) -> None:
        """Follow an identity event: keys introduced and ended, actors' status, demo marks."""
        action, data = body.get("action"), body.get("data")
        if not isinstance(data, dict):
            return
        records = []
        if action == "workspace.init" and seq != 1:  # it would bring its own organisation key
            raise RejectedError(f"event #{seq} founds the workspace a second time: only #1 may")
        if action == "workspace.init":
            records = [data.get("key"), data.get("founder_key")]
            self.history.setdefault(str(data.get("founder")), []).append((seq, "active"))
        elif action == "actor.add":
            records = [data.get("key")]
            self.history.setdefault(str(data.get("name")), []).append((seq, "active"))
        elif action in ("key.create", "key.rotate"):
            records = [data.get("key")]
        if action in ("workspace.init", "actor.add") and data.get("demo"):
            self.demo = True
        if action == "policy.install":  # authority state, like roles: the policy in force
            self.policies.append((seq, str(data.get("digest"))))
        status = {"actor.suspend": "suspended", "actor.resume": "active", "actor.remove": "removed"}
        if action in status:
            self.history.setdefault(str(data.get("name")), []).append((seq, status[str(action)]))
        for record in records:
            if isinstance(record, dict) and str(record.get("key_id")) in self.keys:
                self._introduce(seq, record)
        ended = None
        if action == "key.rotate":
            ended = (str(data.get("old_key_id")), "rotated")
        elif action == "key.revoke":
            ended = (str(data.get("key_id")), "revoked")
            if data.get("compromised_since"):
                since = str(data["compromised_since"])
                self.compromised[ended[0]] = min(self.compromised.get(ended[0], since), since)
        if ended is not None and (ended[0] not in self.ends or self.ends[ended[0]][0] > seq):
            self.ends[ended[0]] = (seq, ended[1])

    def _introduce(self, seq: int, record: dict[str, Any]) -> None:
        kid = str(record["key_id"])
        listed = self.keys[kid]
        fields = ["public_pem", "actor", "purpose", "algorithm"]
        if self.fmt == FORMAT:
            fields.append("certificate")
        differs = [f for f in fields if record.get(f) != listed.get(f)]
        if int(listed["created_seq"]) != seq:
            differs.append("created_seq")
        if differs:
            raise RejectedError(
                f"the key list's entry for key {_short(kid)} differs from the record event "
                f"#{seq} made of it ({', '.join(differs)})"
            )
        self.introduced[kid] = seq

    def check_event(self, seq: int, raw: bytes, body: dict[str, Any]) -> bool:
        """Check one event's ``~sig``; return whether it carried one."""
        at = raw.rfind(SIG_MEMBER)
        if at < 0 or not raw.endswith(b"}}"):
            if self.fmt == FORMAT:
                raise RejectedError(
                    f"event #{seq} is not signed (format 1): a format-2 bundle holds only "
                    "signed events"
                )
            return False
        try:
            seal = json.loads(raw[at + len(SIG_MEMBER) : -1])
            kid, sig = str(seal["key"]), base64.b64decode(seal["sig"], validate=True)
        except (ValueError, KeyError, TypeError) as err:
            raise RejectedError(f"event #{seq} has a malformed signature member ({err!r})") from err
        k = self.keys.get(kid)
        if k is None:
            raise RejectedError(
                f"event #{seq} is signed by key {_short(kid)}, which the bundle does not list"
            )
        if not verify_signature(str(k["public_pem"]), pae(EVENT_TYPE, raw[:at] + b"}"), sig):
            raise RejectedError(
                f"event #{seq}: its signature does not verify with key {_short(kid)} (the "
                "event was altered or forged)"
            )
        if k.get("actor") != body.get("actor"):
            raise RejectedError(
                f"event #{seq} claims actor {body.get('actor')!r} but is signed by key "
                f"{_short(kid)} of {k.get('actor')!r}"
            )
        why = self.uncertified(kid)
        if why is not None:
            raise RejectedError(
                f"event #{seq} is signed by key {_short(kid)}, a key the organisation never "
                f"certified: {why}"
            )
        added = int(k["created_seq"])
        if seq < added or (seq == added and seq != 1):
            raise RejectedError(
                f"event #{seq} is signed by key {_short(kid)}, added only at event #{added}"
            )
        why = self.unusable(kid, seq, str(body.get("ts", "")))
        if why is not None:
            raise RejectedError(f"event #{seq} is signed by key {_short(kid)}, {why}")
        state = self.actor_status(str(body.get("actor")), seq)
        if seq != 1 and state != "active":
            raise RejectedError(
                f"event #{seq} is by {body.get('actor')!r}, who was {state} at the time"
            )
        return True


def _no_replayed_event(events: list[tuple[int, bytes, dict[str, Any]]]) -> None:
    """Refuse a signed event not dated after the event before it in the excerpt.

    A signature covers an event's body, not its number, so an insider can copy a genuine
    signed event (an approval, a deployment) to a new place, re-chain the ledger after it
    and export a bundle signed with their own key: the copy verifies on its own. Every
    sealing signs a new, later time than the ledger's head (the workspace's verifier holds
    the ledger to the same rule, :mod:`core.audit.signatures`), so a copy, or an event
    slipped in with an old date, is out of order. Format-1 events (unsigned) may share a
    time.
    """
    last_seq, last_ts = 0, ""
    for seq, raw, body in sorted(events, key=lambda e: e[0]):
        ts = str(body.get("ts", ""))
        signed = raw.rfind(SIG_MEMBER) >= 0
        if last_ts and (ts <= last_ts if signed else ts < last_ts):
            raise RejectedError(
                f"event #{seq} is dated {ts}, not later than event #{last_seq} before it "
                f"({last_ts}): backdated, or a replayed copy of an earlier signed event"
            )
        last_seq, last_ts = seq, ts


def verify(
    path: str,
    previous: dict[str, Any] | None = None,
    pinned_key: str | None = None,
    *,
    anchor: str = "the organisation key you pinned",
) -> dict[str, Any]:
    """Verify a bundle; return what was checked and whether it is anchored.

    ``pinned_key`` is the text of an anchor file (one or more PEM public keys): the
    organisation key(s), or for a format-1 bundle its workspace key; ``anchor`` names it in
    the report. Without it (and without ``previous``) a good bundle is only self-consistent.

    Raises:
        RejectedError: naming the failure.
        PinError: if ``pinned_key`` holds no public key.
    """
    pinned = read_anchor(pinned_key) if pinned_key is not None else None
    try:
        return _verify(path, previous, pinned, anchor)
    except RejectedError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        UnicodeDecodeError,
        NotImplementedError,
        RuntimeError,
        struct.error,
    ) as err:
        raise RejectedError(f"corrupt bundle: {type(err).__name__}: {err}") from err


def _envelope_key(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["signatures"][0]["keyid"])
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise RejectedError(f"malformed signature envelope ({err!r})") from err


def _verify(
    path: str, previous: dict[str, Any] | None, pinned: set[str] | None, anchor: str
) -> dict[str, Any]:
    checked: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise RejectedError(f"not a readable zip archive: {err}") from err
    with archive:
        members = _safe_members(archive)
        checked.append(f"{len(members)} member names are safe and unique")
        digests = _canonical_pass(path, members)
        checked.append("every byte of the archive is in its canonical layout")
        for required in (MANIFEST, MANIFEST_SIG, KEYS):
            if required not in members:
                raise RejectedError(f"{required} is missing")
        manifest_raw = archive.read(members[MANIFEST])
        try:
            manifest = json.loads(manifest_raw)
            listed = {m["path"]: m for m in manifest["members"]}
            key_list = json.loads(archive.read(members[KEYS]))
            actor_list = json.loads(archive.read(members[ACTORS])) if ACTORS in members else None
        except (KeyError, ValueError, TypeError) as err:
            raise RejectedError(f"manifest or key list is malformed: {err!r}") from err
        fmt = manifest.get("format")
        if fmt not in (FORMAT_1, FORMAT):
            raise RejectedError(f"unknown bundle format {fmt!r}")
        ident = _Identity(fmt, str(manifest.get("workspace")), key_list, actor_list, pinned)
        signed_by = str(manifest.get("signed_by", ""))
        manifest_env = archive.read(members[MANIFEST_SIG])
        if _envelope_key(manifest_env) != signed_by:
            raise RejectedError(
                "manifest.dsse.json names another key than the manifest's signed_by"
            )
        if signed_by not in ident.keys:
            raise RejectedError(
                f"the manifest is signed by key {_short(signed_by)}, which the bundle does not list"
            )
        signed = open_envelope(
            manifest_env, MANIFEST_TYPE, str(ident.keys[signed_by]["public_pem"]), "manifest"
        )
        if signed != manifest_raw:
            raise RejectedError("manifest.json is not the manifest that was signed")
        extra = set(members) - set(listed) - {MANIFEST, MANIFEST_SIG}
        if extra:
            raise RejectedError(
                f"member {sorted(extra)[0]!r} is not in the manifest (added or renamed)"
            )
        for name, entry in sorted(listed.items()):
            if name not in members:
                raise RejectedError(
                    f"member {name!r} listed in the manifest is missing (removed or renamed)"
                )
            digest, size = digests[name]
            if digest != entry["sha256"] or size != entry["size"]:
                raise RejectedError(
                    f"member {name!r} was changed: sha256 {digest[:16]}… does not "
                    f"match the manifest's {entry['sha256'][:16]}…"
                )
        checked.append(f"{len(listed)} members match the signed manifest's SHA-256 and size")
        for kid in ident.keys:
            pem_member = f"keys/{kid}.pem"
            if pem_member in members and archive.read(members[pem_member]).decode() != str(
                ident.keys[kid]["public_pem"]
            ):
                raise RejectedError(f"{pem_member} is not the public key the key list gives")
        if not ident.roots:
            raise RejectedError(f"the bundle lists no {ident.root_purpose} key")
        if pinned is not None and not ident.trusted:
            raise RejectedError(
                f"the bundle's {ident.root_purpose} key "
                f"{', '.join(_short(r) for r in sorted(ident.roots))} differs from the one you "
                f"pinned ({anchor}: {', '.join(_short(p) for p in sorted(pinned))})"
            )

        cp_raw = archive.read(members["ledger/checkpoint.json"])
        cp_signed = _envelope_key(cp_raw)
        if cp_signed not in ident.keys:
            raise RejectedError(
                f"the checkpoint is signed by key {_short(cp_signed)}, which the bundle does "
                "not list"
            )
        checkpoint = json.loads(
            open_envelope(
                cp_raw, CHECKPOINT_TYPE, str(ident.keys[cp_signed]["public_pem"]), "checkpoint"
            )
        )
        if checkpoint.get("workspace") != manifest.get("workspace"):
            raise RejectedError("the checkpoint belongs to another workspace")
        root = bytes.fromhex(checkpoint["root"])
        size = int(checkpoint["size"])
        if size != int(manifest["exported_at"]):
            raise RejectedError(
                f"the checkpoint (#{size}) is not the one the manifest names "
                f"(#{manifest['exported_at']})"
            )
        proofs = json.loads(archive.read(members["ledger/proofs.json"]))
        lines = archive.read(members["ledger/events.jsonl"]).decode().splitlines()
        events: list[tuple[int, bytes, dict[str, Any]]] = []
        named: set[str] = set()
        for line in lines:
            seq_text, _, body_text = line.split(" ", 2)
            proof = proofs["inclusion"].get(seq_text)
            if proof is None:
                raise RejectedError(f"event #{seq_text} has no inclusion proof")
            entry_hash = hashlib.sha256(line.encode()).digest()
            if not inclusion_ok(
                int(seq_text) - 1,
                size,
                leaf_hash(entry_hash),
                [bytes.fromhex(h) for h in proof],
                root,
            ):
                raise RejectedError(
                    f"event #{seq_text} is not included under the signed checkpoint of size {size}"
                )
            raw_body = body_text.encode()
            body = json.loads(raw_body)
            events.append((int(seq_text), raw_body, body))
            named.update(o["sha256"] for o in body.get("objects", []))
        checked.append(
            f"{len(lines)} ledger events proven included under checkpoint "
            f"#{size} (root {checkpoint['root'][:16]}…)"
        )
        # The identity events say which keys were added, rotated and revoked, and when
        # actors stopped: follow them all before judging any signature.
        for seq, _, body in events:
            ident.note(seq, body)
        sign_key = ident.signer("the manifest", signed_by, size + 1)
        cp_key = ident.signer("the checkpoint", cp_signed, size + 1)
        root_note = (
            f"certified by organisation key {_short(ident.root_of(signed_by))}"
            if fmt == FORMAT
            else "the workspace key (format 1)"
        )
        checked.append(
            f"manifest signed by key {_short(signed_by)} of {sign_key.get('actor')!r}, {root_note}"
        )
        checked.append(
            f"checkpoint #{size} signed by key {_short(cp_signed)} of {cp_key.get('actor')!r}"
        )
        sealed = sum(ident.check_event(seq, raw, body) for seq, raw, body in events)
        _no_replayed_event(events)
        missing = sorted(set(ident.keys) - set(ident.introduced))
        if missing and fmt == FORMAT:
            raise RejectedError(
                f"key {_short(missing[0])} is in the key list, but no event of the ledger "
                "excerpt adds it"
            )
        if fmt == FORMAT:
            checked.append(f"{sealed} event signatures verify, each by its actor's certified key")
        else:
            checked.append("the events are of format 1, which signed no events")
        for name, entry in sorted(listed.items()):
            if entry.get("ledger_object") and entry["sha256"] not in named:
                raise RejectedError(
                    f"evidence member {name!r} is not named by any event included "
                    "under the checkpoint"
                )
        checked.append("every evidence member is named by an included event")
        gov_checked, governance = _Governance(
            archive, members, digests, events, ident, manifest
        ).run()
        checked += gov_checked
        ops_checked, operations = _operations(archive, members, events, str(manifest.get("model")))
        checked += ops_checked
        access_checked, accesses = _access(archive, members, events)
        checked += access_checked
        checked += _retention(archive, members, events)
        checked += _receipts(archive, members, events)
        checked += _report_pdfs(archive, members, listed, digests, events)

        anchored_by = anchor if pinned is not None else None
        if previous is not None:
            old_raw = json.dumps(previous).encode()
            old_key = ident.signer("your earlier checkpoint", _envelope_key(old_raw), None)
            old = json.loads(
                open_envelope(
                    old_raw, CHECKPOINT_TYPE, str(old_key["public_pem"]), "your earlier checkpoint"
                )
            )
            old_size, old_root = int(old["size"]), bytes.fromhex(old["root"])
            if old_size > size:
                raise RejectedError(
                    f"the log shrank: you saw {old_size} events, the bundle's "
                    f"checkpoint has {size} (rollback)"
                )
            proof = proofs.get("consistency", {}).get(str(old_size))
            if proof is None and old_size != size:
                raise RejectedError(f"the bundle has no consistency proof from size {old_size}")
            if not consistency_ok(
                old_size, size, old_root, root, [bytes.fromhex(h) for h in proof or []]
            ):
                raise RejectedError(
                    f"the log of size {size} is not an extension of the one of size "
                    f"{old_size} you saw before"
                )
            checked.append(f"the log only grew since your checkpoint #{old_size}")
            # Your checkpoint anchors the keys the log had added by then: the organisation
            # key behind both signatures must be one of them.
            used = {ident.root_of(signed_by), ident.root_of(cp_signed)}
            if anchored_by is None and all(
                ident.introduced.get(r, size + 1) <= old_size for r in used
            ):
                anchored_by = f"your earlier checkpoint #{old_size}"
    demo = bool(
        manifest.get("demo_identities")
        or ident.demo
        or any(a.get("demo") for a in ident.actors.values())
    )
    return {
        "verified": True,
        "anchored": anchored_by is not None,
        "anchor": anchored_by,
        "format": fmt,
        "checked": checked,
        "model": manifest.get("model"),
        "workspace": manifest.get("workspace"),
        "organisation_keys": sorted(ident.roots),
        "signing_key": signed_by,
        "signing_actor": sign_key.get("actor"),
        "checkpoint_key": cp_signed,
        "checkpoint_size": size,
        "demo_identities": demo,
        "governance": governance,
        "operations": operations,
        "access_log": accesses,
    }


# --- 7. Governance: approvals, k-of-n, separation of duties, decisions --------------------
#
# A bundle of a governed model carries each approval's DSSE envelope (signed by the
# approver's own key), the policy bundles in force (canonical JSON named by its SHA-256) and
# the ledger events that record approvals, promotions and decisions. No Rego runs here: the
# declarative half of the policy (tiers, k-of-n, roles) is re-applied by approval_check, the
# same function the workstation runs. Attacks each check answers are named beside it.

APPROVAL_PREDICATE = "https://ledgerml.dev/approval/v1"
INTOTO_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
IMPORT_ROLES = ("approver", "validator", "data-owner", "security", "compliance", "admin")
DEVELOPER_ACTS = ("train.run", "model.register", "model.sign")
MOVES: dict[str, tuple[str, ...]] = {
    "candidate": ("validated", "retired"),
    "validated": ("approved", "retired"),
    "approved": ("retired",),
    "retired": (),
}
"""The lifecycle's allowed moves (core.governance.lifecycle.MOVES, restated: this file is
stand-alone). Replayed over the bundled promotions, they make a stage the ledger never
reached unreachable, whatever the catalog was edited to say."""
EVIDENCE_KINDS: dict[str, tuple[str, str, str]] = {
    "validation": ("validation.run", "result_digest", "snapshot"),
    "evaluation": ("model.evaluate", "evidence", "model"),
    "reproduction": ("reproduce.run", "result_digest", "run_id"),
}
"""A decision input's evidence kind -> (the event's action, its digest field, the field
naming what it is about: the run's input snapshot, the version, the run). The same events
the workstation's facts read; the bundle's excerpt carries all of them, since each names a
node of the version's lineage among its subjects."""


def approval_member(seq: int) -> str:
    """The member holding the envelope of the approval recorded at event ``seq``."""
    return f"signatures/approval-{seq}.dsse.json"


def policy_member(digest: str) -> str:
    """The member holding the policy bundle ``sha256:<hex>`` (its stored canonical JSON)."""
    return f"policy/{digest.removeprefix('sha256:')}.json"


class _Actors:
    """Each actor's roles, kind and status over the ledger, from the identity events."""

    def __init__(self, events: list[tuple[int, bytes, dict[str, Any]]]) -> None:
        self.changes: dict[str, list[tuple[int, frozenset[str], str, str]]] = {}
        for seq, _, body in events:
            action, data = body.get("action"), body.get("data")
            if not isinstance(data, dict):
                continue
            if action == "workspace.init":
                self._set(seq, str(data.get("founder")), set(data.get("roles") or []), "person")
            elif action == "actor.add":
                kind = str(data.get("kind") or "person")
                self._set(seq, str(data.get("name")), set(data.get("roles") or []), kind)
            elif action in ("role.grant", "role.revoke"):
                roles, kind, status = self.at(str(data.get("name")), seq + 1)
                role = {str(data.get("role"))}
                new = roles | role if action == "role.grant" else roles - role
                self._set(seq, str(data.get("name")), set(new), kind, status)
            elif action in ("actor.suspend", "actor.resume", "actor.remove"):
                roles, kind, _ = self.at(str(data.get("name")), seq + 1)
                status = {"actor.suspend": "suspended", "actor.resume": "active"}.get(
                    str(action), "removed"
                )
                self._set(seq, str(data.get("name")), set(roles), kind, status)

    def _set(self, seq: int, name: str, roles: set[str], kind: str, status: str = "active") -> None:
        self.changes.setdefault(name, []).append((seq, frozenset(roles), kind, status))

    def at(self, name: str, seq: int) -> tuple[frozenset[str], str, str]:
        """``(roles, kind, status)`` just before event ``seq``."""
        state: tuple[frozenset[str], str, str] = (frozenset(), "unknown", "not registered")
        for at, roles, kind, status in self.changes.get(name, []):
            if at < seq:
                state = (roles, kind, status)
        return state


class _Governance:
    """What the bundled ledger says of the model's governance, checked as it is read."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        members: dict[str, zipfile.ZipInfo],
        digests: dict[str, tuple[str, int]],
        events: list[tuple[int, bytes, dict[str, Any]]],
        ident: _Identity,
        manifest: dict[str, Any],
    ) -> None:
        self.archive, self.members, self.digests = archive, members, digests
        self.events, self.ident = events, ident
        self.workspace = str(manifest.get("workspace"))
        self.ref = str(manifest.get("model"))
        self.name = self.ref.split("@", 1)[0]
        self.actors = _Actors(events)
        self.installs = ident.policies  # (seq, digest) of each policy.install, in order
        self._rules: dict[str, dict[str, Any]] = {}
        self.digest, self.run_id = self._model()

    def _model(self) -> tuple[str | None, str | None]:
        """The bundled version's digest and run, as its registration recorded them.

        Attack: a model member swapped for another build, with the manifest re-signed. The
        registration event is signed and proven included; the member must be its bytes.
        """
        name, _, version = self.ref.partition("@")
        for seq, _, body in self.events:
            data = body.get("data") or {}
            if (
                body.get("action") == "model.register"
                and data.get("name") == name
                and str(data.get("version")) == version
            ):
                digest = str(data.get("model_digest"))
                for member, (sha, _) in self.digests.items():
                    model_member = member.startswith("model/") and member.endswith("/model.skops")
                    if model_member and sha != digest:
                        raise RejectedError(
                            f"{member} is not the model event #{seq} registered as "
                            f"{self.ref} (sha256 {_short(sha)}, registered {_short(digest)})"
                        )
                return digest, str(data.get("run_id"))
        return None, None

    def in_force(self, seq: int) -> tuple[int, str] | None:
        """The policy installed last before event ``seq``: ``(install seq, digest)``."""
        return self.ident.policy_at(seq)

    def rules(self, digest: str, why: str) -> dict[str, Any]:
        """The ``[governance]`` data of a bundled policy bundle, its bytes checked.

        Attack: the policy member edited (a lower k, a role dropped) and the manifest
        re-signed: the bytes no longer hash to the digest the signed policy.install named.
        """
        if digest in self._rules:
            return self._rules[digest]
        member = policy_member(digest)
        if member not in self.members:
            raise RejectedError(f"{why}, but the bundle does not carry that policy ({member})")
        doc = json.loads(self.archive.read(self.members[member]))
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise RejectedError(f"{member} is not a policy bundle")
        rules: dict[str, Any] = doc["data"]
        self._rules[digest] = rules
        return rules

    def check_policies(self) -> list[str]:
        """Every policy member hashes to the digest it is named by, which an install recorded."""
        installed = {d for _, d in self.installs}
        found = []
        for member in sorted(self.members):
            if not (member.startswith("policy/") and member.endswith(".json")):
                continue
            named = "sha256:" + member[len("policy/") : -len(".json")]
            sha = self.digests[member][0]
            if "sha256:" + sha != named:
                raise RejectedError(
                    f"{member} was edited: its SHA-256 is {_short(sha)}, not the digest "
                    f"{_short(named.removeprefix('sha256:'))} it is named by and the ledger "
                    "installed"
                )
            if named not in installed:
                raise RejectedError(f"{member} is a policy no bundled policy.install put in force")
            found.append(named)
        return found

    def developers(self) -> dict[str, list[int]]:
        """Who developed the version (trainer, registrant, signers) and at which events."""
        out: dict[str, list[int]] = {}
        for seq, _, body in self.events:
            action, data = body.get("action"), body.get("data") or {}
            subjects = [str(x) for x in body.get("subjects", [])]
            if action not in DEVELOPER_ACTS:
                continue
            if (action == "train.run" and data.get("run_id") == self.run_id) or (
                action != "train.run" and f"model:{self.ref}" in subjects
            ):
                out.setdefault(str(body.get("actor")), []).append(seq)
        return out

    def newest_evidence(self, before: int) -> int | None:
        """The newest evidence about the version before ``before`` (what voids approvals).

        The same evidence the workstation's facts list: validations of the run's input, the
        run's reproductions, the version's evaluations.
        """
        trained_on = None
        for _, _, body in self.events:
            data = body.get("data") or {}
            if body.get("action") == "train.run" and data.get("run_id") == self.run_id:
                trained_on = (data.get("input") or {}).get("ref")
        newest = None
        for seq, _, body in self.events:
            action, data = body.get("action"), body.get("data") or {}
            if seq >= before:
                break
            if (
                (action == "validation.run" and data.get("snapshot") == trained_on)
                or (action == "reproduce.run" and data.get("run_id") == self.run_id)
                or (action == "model.evaluate" and data.get("model") == self.ref)
            ):
                newest = seq
        return newest

    def risk(self, seq: int, body: dict[str, Any]) -> None:
        """A risk tier is the policy's band of impact times likelihood, as in force then.

        Attack: a tier lowered by hand (fewer approvers needed) in an event signed by someone
        allowed to assess risk, with a real decision copied onto it.
        """
        data = body.get("data") or {}
        in_force = self.in_force(seq)
        if in_force is None:
            return  # the decisions check reports a tier recorded with no policy at all
        rules = self.rules(in_force[1], f"risk assessment #{seq} was made under a policy")
        try:
            score = int(data["impact"]) * int(data["likelihood"])
            bands = [b for b in rules.get("bands", []) if int(b["min_score"]) <= score]
            tier = max(bands, key=lambda b: int(b["min_score"]))["tier"] if bands else None
        except (KeyError, TypeError, ValueError):
            tier = None
        if tier is None or tier != data.get("tier"):
            raise RejectedError(
                f"risk assessment #{seq} of {self.name} records tier {data.get('tier')!r}, but "
                f"impact {data.get('impact')!r} x likelihood {data.get('likelihood')!r} is tier "
                f"{tier!r} under the policy in force then"
            )

    def approval(self, seq: int, body: dict[str, Any], devs: dict[str, list[int]]) -> None:
        """One recorded approval or rejection of the version; reject on the first fault."""
        data = body.get("data") or {}
        who, role = str(data.get("approver")), str(data.get("role"))
        what = f"approval #{seq} ({who} as {role}, {data.get('decision')} for {data.get('stage')})"
        member = approval_member(seq)
        # Replay or swap: the envelope in the bundle must be the one the signed event names.
        if member not in self.members:
            raise RejectedError(f"{what}: its signed statement {member} is not in the bundle")
        if self.digests[member][0] != data.get("envelope"):
            raise RejectedError(
                f"{what}: {member} is not the envelope the event recorded (sha256 "
                f"{_short(self.digests[member][0])}, recorded {_short(str(data.get('envelope')))})"
                ": it was swapped"
            )
        raw = self.archive.read(self.members[member])
        # Forge: signed by the approver's own certified key, usable at that position.
        kid = str(data.get("key_id"))
        if _envelope_key(raw) != kid:
            raise RejectedError(
                f"{what}: the envelope is signed by another key than the event names"
            )
        k = self.ident.keys.get(kid)
        if k is None:
            raise RejectedError(
                f"{what}: signed with key {_short(kid)}, which the bundle does not list"
            )
        if k.get("actor") != who or k.get("purpose") != "actor":
            raise RejectedError(
                f"{what}: signed with key {_short(kid)} of {k.get('actor')!r} "
                f"({k.get('purpose')}), not {who}'s own key"
            )
        why = self.ident.uncertified(kid)
        if why is None and int(k["created_seq"]) >= seq:
            why = f"it was added only at event #{k['created_seq']}"
        why = why or self.ident.unusable(kid, seq, str(body.get("ts", "")))
        if why is not None:
            raise RejectedError(
                f"{what}: signed with key {_short(kid)}, which could not sign then: {why}"
            )
        doc = json.loads(open_envelope(raw, INTOTO_TYPE, str(k["public_pem"]), what))
        if (
            not isinstance(doc, dict)
            or doc.get("_type") != STATEMENT_V1
            or doc.get("predicateType") != APPROVAL_PREDICATE
            or not isinstance(doc.get("predicate"), dict)
        ):
            raise RejectedError(f"{what}: the envelope does not carry an approval statement")
        # Replay of another build or another model: the subject is this version's digest.
        if data.get("model_digest") != self.digest:
            raise RejectedError(
                f"{what} is bound to build {_short(str(data.get('model_digest')))}, not "
                f"{self.ref}'s registered digest {_short(str(self.digest))}: an approval of "
                "another build approves nothing here"
            )
        wanted = [{"name": f"model:{self.ref}", "digest": {"sha256": self.digest}}]
        if doc.get("subject") != wanted:
            subject = doc.get("subject")
            named = subject[0].get("name") if isinstance(subject, list) and subject else subject
            raise RejectedError(
                f"{what}: the approver signed it for {named!r}, not model:{self.ref} with its "
                "registered digest: a replayed approval"
            )
        pred = doc["predicate"]
        if pred.get("workspace") != self.workspace:
            raise RejectedError(
                f"{what} was signed for workspace {pred.get('workspace')!r}, not this one: "
                "replayed from another workspace"
            )
        # Relabel: the event's fields are what the approver signed.
        for field in ("model", "stage", "decision", "approver", "role", "policy", "conditions"):
            if pred.get(field) != data.get(field):
                raise RejectedError(
                    f"{what}: the event records {field} {data.get(field)!r}, the approver "
                    f"signed {pred.get(field)!r}"
                )
        seen = [e.get("digest") for e in pred.get("evidence", []) if isinstance(e, dict)]
        if seen != list(data.get("evidence") or []):
            raise RejectedError(f"{what}: the event's evidence digests are not the ones signed")
        in_force = self.in_force(seq)
        if in_force is None or in_force[1] != data.get("policy"):
            raise RejectedError(
                f"{what} names policy {_short(str(data.get('policy')).removeprefix('sha256:'))}"
                ", which was not the policy in force then"
            )
        # Usurp: the approver held the role, was active and a person at that point.
        roles, kind, status = self.actors.at(who, seq)
        if status != "active":
            raise RejectedError(f"{what}: {who} was {status} at event #{seq}")
        if role not in roles:
            raise RejectedError(
                f"{what}: {who} did not hold the role {role!r} at event #{seq} "
                f"(held: {', '.join(sorted(roles)) or 'none'})"
            )
        if kind != "person":
            raise RejectedError(f"{what}: {who} is a {kind} actor, and only people approve")
        importer = str(body.get("actor"))
        if not data.get("imported") and importer != who:
            raise RejectedError(f"{what} is recorded by {importer}, not by the approver")
        if data.get("imported") and not self.actors.at(importer, seq)[0] & set(IMPORT_ROLES):
            raise RejectedError(f"{what} was imported by {importer}, who may not import approvals")
        # Separation of duties, admins included.
        if data.get("decision") == "approve" and who in devs:
            at = ", ".join(f"#{q}" for q in devs[who])
            raise RejectedError(
                f"{what}: {who} developed {self.ref} (events {at}): an approver is never the "
                "trainer, registrant or signer of the version (separation of duties)"
            )

    def promotion(
        self, seq: int, body: dict[str, Any], devs: list[str], found: list[dict[str, Any]]
    ) -> str:
        """A promotion to approved: its approvals meet k-of-n under the policy in force then."""
        data = body.get("data") or {}
        what = f"promotion #{seq} of {self.ref} to approved"
        in_force = self.in_force(seq)
        if in_force is None:
            raise RejectedError(f"{what} was recorded with no policy in force")
        rules = self.rules(in_force[1], f"{what} was governed by policy {_short(in_force[1][7:])}")
        tier: Any = rules.get("untiered", 1)
        for at, _, b in self.events:
            d = b.get("data") or {}
            if at < seq and b.get("action") == "model.risk" and d.get("name") == self.name:
                tier = d.get("tier")
        approvals = [
            {
                "seq": a["seq"],
                "approver": a["approver"],
                "role": a["role"],
                "decision": a["decision"],
                "model_digest": a["model_digest"],
                "stage": a["stage"],
                "ts": a["ts"],
            }
            for a in found
            if a["seq"] < seq and a["stage"] == "approved"
        ]
        kinds = {str(a["approver"]): self.actors.at(str(a["approver"]), seq)[1] for a in approvals}
        result = approval_check(
            rules,
            int(tier),
            str(self.digest),
            devs,
            approvals,
            kinds=kinds,
            newest_evidence_seq=self.newest_evidence(seq),
            now=str(body.get("ts")),
        )
        if not result["ok"]:
            raise RejectedError(
                f"{what} does not meet tier {tier}'s approval rule under the bundled policy "
                f"(k = {result['k']}, roles {', '.join(result['roles']) or 'any'}): "
                + "; ".join(result["problems"])
            )
        for counted in data.get("approvals") or []:
            if int(counted) not in result["counted"]:
                why = result["why_not"].get(str(counted), "it is not an approval of the version")
                raise RejectedError(
                    f"{what} counts approval #{counted}, which does not count: {why}"
                )
        return (
            f"{what} meets tier {tier}'s rule under policy {_short(in_force[1][7:])}: "
            f"{len(result['people'])} distinct people ({', '.join(result['people'])}) of the "
            f"{result['k']} needed, roles covered: {', '.join(result['roles']) or 'none named'}"
        )

    @functools.cached_property
    def trained_on(self) -> str | None:
        """The snapshot the version's run trained on, as its bundled ``train.run`` says.

        Cached: every decision about the version asks, and a bundle may carry many events.
        """
        for _, _, body in self.events:
            data = body.get("data") or {}
            if body.get("action") == "train.run" and data.get("run_id") == self.run_id:
                return str((data.get("input") or {}).get("ref"))
        return None

    def move(self, seq: int, body: dict[str, Any], stage: str) -> str:
        """Replay one promotion of the version over the stage before it; return the new stage.

        Attacks: a retired version brought back by deleting its lifecycle row from the
        catalog and promoting again (the event says "validated -> approved"); a stage
        skipped; a promotion of another build; a break-glass by someone the policy in force
        does not let break glass (its decision copied from a real one).
        """
        data = body.get("data") or {}
        came, to = str(data.get("from_stage")), str(data.get("to_stage"))
        what = f"promotion #{seq} of {self.ref} ({came} -> {to})"
        if came != stage:
            raise RejectedError(
                f"{what} starts from {came}, but the bundled promotions before it leave "
                f"{self.ref} {stage}"
            )
        if to not in MOVES.get(stage, ()):
            allowed = ", ".join(MOVES.get(stage, ())) or "nothing (retired is final)"
            raise RejectedError(
                f"{what} is not an allowed move: from {stage} the lifecycle allows {allowed}"
            )
        if data.get("model_digest") != self.digest:
            raise RejectedError(
                f"{what} moves build {_short(str(data.get('model_digest')))}, not "
                f"{self.ref}'s registered digest {_short(str(self.digest))}"
            )
        if data.get("break_glass"):
            actor = str(body.get("actor"))
            in_force = self.in_force(seq)
            if in_force is None:
                raise RejectedError(f"{what} broke glass with no policy in force")
            rules = self.rules(in_force[1], f"{what} broke glass under a policy")
            allowed_roles = {str(r) for r in rules.get("break_glass_roles", ["admin"])}
            held = self.actors.at(actor, seq)[0]
            if not held & allowed_roles:
                raise RejectedError(
                    f"{what} was BREAK-GLASS by {actor}, who may not break glass: the policy "
                    f"in force then ({_short(in_force[1][7:])}) allows it to "
                    f"{', '.join(sorted(allowed_roles)) or 'nobody'}, and {actor} held "
                    f"{', '.join(sorted(held)) or 'no role'} at event #{seq}"
                )
        return to

    def decision_input(
        self,
        seq: int,
        body: dict[str, Any],
        stage: str,
        tier: Any,
        by_seq: dict[int, dict[str, Any]],
        notes: list[str],
    ) -> bool:
        """A decision's recorded input agrees with what the bundled ledger says then.

        The policy decided on what it was told; the catalog told it. So the actor (name and
        roles at this position, from the authority events), the version's digest, tier and
        replayed stage, and each piece of evidence (a bundled event of the right action
        about the version, with that digest) must be the ledger's. Attack: an evidence row
        inserted in the catalog (a ``train.run`` passed off as an evaluation) lets a
        promotion through. Returns whether the input was compared (False: no ``input.model``);
        what cannot be compared here goes into ``notes``, never a silent pass.
        """
        decision = body.get("policy")
        if not isinstance(decision, dict):
            return False
        inp = decision.get("input")
        if not isinstance(inp, dict) or not isinstance(inp.get("model"), dict):
            return False
        action, actor = str(body.get("action")), str(body.get("actor"))
        what = f"the decision of event #{seq} ({action})"
        who = inp.get("actor")
        if not isinstance(who, dict):
            raise RejectedError(f"{what} records no actor in its input")
        if who.get("name") != actor:
            raise RejectedError(
                f"{what} was told the actor is {who.get('name')!r}, but {actor} recorded it"
            )
        roles = sorted(self.actors.at(actor, seq)[0])
        told = who.get("roles")
        if not isinstance(told, list) or sorted(str(r) for r in told) != roles:
            raise RejectedError(
                f"{what} was told {actor} holds {told!r}, but the bundled authority events "
                f"give {actor} {roles!r} at that position"
            )
        model = inp["model"]
        if action == "policy.deny" and decision.get("gate") == "register":
            # A refused registration was told of a version that never existed: its ref may
            # be reused by the registration that later succeeded, of another run.
            notes.append(
                f"event #{seq} (a refused registration) decided on a version never registered "
                "(only its actor is compared)"
            )
            return True
        if model.get("ref") != self.ref:
            notes.append(
                f"event #{seq} ({action}) decided on {model.get('ref')!r}, another version "
                "(only its actor is compared)"
            )
            return True
        if model.get("digest") != self.digest:
            raise RejectedError(
                f"{what} was told {self.ref}'s digest is {_short(str(model.get('digest')))}, "
                f"but it was registered as {_short(str(self.digest))}"
            )
        if tier is None:
            if model.get("tier_assessed") is not False:
                raise RejectedError(
                    f"{what} was told {self.name}'s risk tier was assessed, but no bundled "
                    "model.risk before it assesses one"
                )
        elif model.get("tier") != tier or model.get("tier_assessed") is not True:
            raise RejectedError(
                f"{what} was told {self.name} is tier {model.get('tier')!r}, but the newest "
                f"bundled model.risk before it says tier {tier!r}"
            )
        if model.get("stage") != stage:
            raise RejectedError(
                f"{what} was told {self.ref} is {model.get('stage')!r}, but the bundled "
                f"promotions before it leave it {stage}"
            )
        about = {"validation": self.trained_on, "evaluation": self.ref, "reproduction": None}
        if about["validation"] is not None:  # the bundle carries the run itself
            about["reproduction"] = self.run_id
        evidence = model.get("evidence")
        if not isinstance(evidence, list):
            raise RejectedError(f"{what} records malformed evidence in its input")
        for item in evidence:
            if not isinstance(item, dict) or str(item.get("kind")) not in EVIDENCE_KINDS:
                kind = item.get("kind") if isinstance(item, dict) else item
                notes.append(f"event #{seq}: evidence of kind {kind!r} is not checkable here")
                continue
            kind = str(item["kind"])
            wanted, field, subject = EVIDENCE_KINDS[kind]
            named = f"{what} lists {kind} evidence #{item.get('seq')}"
            try:
                at = int(item["seq"])
            except (KeyError, TypeError, ValueError):
                raise RejectedError(f"{named}, which names no event") from None
            found = by_seq.get(at)
            if found is None or at >= seq:
                # The excerpt carries every evaluation of the version (subject model:REF),
                # every validation of its run's input and reproduction of its run (subjects
                # snapshot:/run:, lineage nodes) once the bundle carries the run itself.
                if at >= seq or kind == "evaluation" or about[kind] is not None:
                    raise RejectedError(
                        f"{named}, which is not an earlier event of the bundled ledger, "
                        "though the bundle carries all such evidence of the version"
                    )
                notes.append(f"event #{seq}: {kind} evidence #{at} is not checkable here")
                continue
            data = found.get("data") or {}
            if found.get("action") != wanted:
                raise RejectedError(
                    f"{named}, but event #{at} is a {found.get('action')}, not a {wanted}"
                )
            if str(data.get(subject)) != str(about[kind]):
                raise RejectedError(
                    f"{named}, but event #{at} is about {data.get(subject)!r}, not {about[kind]!r}"
                )
            if data.get(field) != item.get("digest"):
                raise RejectedError(
                    f"{named} with digest {_short(str(item.get('digest')))}, but event #{at} "
                    f"recorded {_short(str(data.get(field)))}"
                )
        return True

    def decisions(self) -> int:
        """Every decision names the bundle in force; every governed event carries one.

        Attacks: a decision forged under another (laxer) bundle; a governed event recorded
        with its decision stripped (it bypassed the gate), re-signed by its actor.
        """
        count = 0
        for seq, _, body in self.events:
            action = str(body.get("action"))
            decision = body.get("policy")
            in_force = self.in_force(seq)
            if decision is None:
                if action in GOVERNED and in_force is not None:
                    raise RejectedError(
                        f"event #{seq} ({action}) was recorded while policy "
                        f"{_short(in_force[1][7:])} was in force but carries no decision: it "
                        "bypassed the policy gate"
                    )
                continue
            if not isinstance(decision, dict):
                raise RejectedError(f"event #{seq} ({action}) carries a malformed decision")
            named = str(decision.get("bundle"))
            if in_force is None or named != in_force[1]:
                now = (
                    f"{_short(in_force[1][7:])} (installed at #{in_force[0]})"
                    if in_force
                    else "none"
                )
                raise RejectedError(
                    f"event #{seq} ({action}) records a decision under policy bundle "
                    f"{_short(named.removeprefix('sha256:'))}, but the bundle in force then "
                    f"was {now}"
                )
            self.rules(named, f"event #{seq} ({action}) was decided under {_short(named[7:])}")
            gate = GOVERNED.get(action, DECIDED_BY.get(action))
            if action != "policy.deny" and decision.get("gate") != gate:
                raise RejectedError(
                    f"event #{seq} ({action}) carries a decision of gate {decision.get('gate')!r}"
                    f", not {gate!r}"
                )
            if decision.get("allow") is not (action != "policy.deny"):
                raise RejectedError(
                    f"event #{seq} ({action}) carries a decision with allow = "
                    f"{decision.get('allow')!r}"
                )
            count += 1
        return count

    def run(self) -> tuple[list[str], dict[str, Any]]:
        """Check it all; return the lines for ``checked`` and the report's summary."""
        checked: list[str] = []
        policies = self.check_policies()
        decided = self.decisions()
        if self.installs:
            checked.append(
                f"{decided} policy decisions each name the policy bundle in force, and every "
                "governed event recorded under a policy carries one"
            )
        if policies:
            checked.append(
                f"{_n(len(policies), 'policy bundle')} in the bundle: each hashes to the digest "
                "the ledger installed"
            )
        devs = self.developers()
        found: list[dict[str, Any]] = []
        promotions: list[dict[str, Any]] = []
        stage = "candidate"
        tier: Any = None  # the newest bundled risk tier of the name so far
        by_seq = {seq: body for seq, _, body in self.events}
        notes: list[str] = []
        compared = 0
        for seq, _, body in self.events:
            data = body.get("data") or {}
            before = stage
            if body.get("action") == "model.promote" and data.get("model") == self.ref:
                stage = self.move(seq, body, stage)
            if body.get("action") == "model.risk" and data.get("name") == self.name:
                self.risk(seq, body)
            if data.get("model") == self.ref:
                if body.get("action") == "model.approve":
                    self.approval(seq, body, devs)
                    found.append(
                        {
                            "seq": seq,
                            "approver": data.get("approver"),
                            "role": data.get("role"),
                            "decision": data.get("decision"),
                            "stage": data.get("stage"),
                            "model_digest": data.get("model_digest"),
                            "key_id": data.get("key_id"),
                            "conditions": list(data.get("conditions") or []),
                            "ts": body.get("ts"),
                            "member": approval_member(seq),
                        }
                    )
                elif body.get("action") == "model.promote":
                    promotions.append(
                        {
                            "seq": seq,
                            "from_stage": data.get("from_stage"),
                            "to_stage": stage,
                            "break_glass": bool(data.get("break_glass")),
                            "approvals": list(data.get("approvals") or []),
                        }
                    )
                    if stage == "approved" and data.get("break_glass"):
                        checked.append(
                            f"promotion #{seq} of {self.ref} to approved was BREAK-GLASS: it "
                            "counts no approvals and needs a review"
                        )
                    elif stage == "approved":
                        checked.append(self.promotion(seq, body, sorted(devs), found))
            # After the event's own checks, which name a forgery's first fault precisely.
            compared += self.decision_input(seq, body, before, tier, by_seq, notes)
            if body.get("action") == "model.risk" and data.get("name") == self.name:
                tier = data.get("tier")
        if found:
            people = sorted({str(a["approver"]) for a in found})
            checked.append(
                f"{_n(len(found), 'approval')} of {self.ref} by {', '.join(people)} "
                + ("verifies: " if len(found) == 1 else "verify: each ")
                + "signed by the approver's own certified key, bound to the version's digest and "
                "this workspace, agreeing with its event, the role held then, no developer "
                "approving"
            )
        else:
            checked.append(f"no approval is recorded for {self.ref}")
        if promotions:
            checked.append(
                f"{_n(len(promotions), 'promotion')} of {self.ref} "
                f"{'replays' if len(promotions) == 1 else 'replay'} as allowed moves from "
                f"candidate to {stage}, each of its registered build, each break-glass by a "
                "role the policy in force allowed"
            )
        if compared:
            checked.append(
                f"{_n(compared, 'decision input')} {'agrees' if compared == 1 else 'agree'} "
                "with the bundled ledger: the actor and their roles then, and for this version "
                "its digest, tier, stage and evidence"
                + (f"; not checkable here: {'; '.join(notes)}" if notes else "")
            )
        summary = {
            "stage": stage,
            "approvals": found,
            "promotions": promotions,
            "policies": policies,
        }
        return checked, summary


# --- 8. Recompute the headline figures (``--recompute``) ---------------------------------
#
# A signature proves who stated a figure; this proves the figure. From the bundled test
# predictions (``evidence/run-*/predictions.json``: row, y_true, probability, sensitive), the
# standard library alone recomputes ROC AUC and accuracy (against the run's signed
# metrics.json) and, for each fairness comparison of each evaluation, every group's rate of
# positive predictions, TPR and FPR, the demographic-parity and equalized-odds differences
# and, where the evidence declares the favourable outcome, each group's favourable rate and
# the disparate impact. Evidence is rounded to 12 significant digits, so figures agree
# within a relative 1e-9. Bootstrap intervals are not recomputed (they depend on NumPy's
# random generator).

RECOMPUTE_TOLERANCE = 1e-9
PREDICTIONS = "predictions.json"
PREDICTION_DIGESTS = "predictions.digests.json"


# ---- approvals: k-of-n and separation of duties ------------------------------------------
# One function, run by the workstation (core.governance.separation) before a promotion, by
# `audit verify` over every recorded promotion, and by this verifier over a bundle's
# approvals, so that all three count the same people. It reads plain data: the policy
# bundle's [governance] table, the version's developers and approvals, the actors' kinds.


def parse_event_time(ts: str) -> Any:
    """An event time (``2026-12-01T10:00:00.000000Z``) as an aware datetime."""
    from datetime import UTC, datetime

    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cover(people: dict[str, set[str]], roles: list[str]) -> dict[str, str]:
    """A maximum matching of required roles to distinct people (role -> person).

    Kuhn's augmenting paths, in sorted order so the answer is deterministic: one person
    holding two roles covers one of them, never both.
    """
    match: dict[str, str] = {}  # role -> person
    owner: dict[str, str] = {}  # person -> role

    def augment(role: str, seen: set[str]) -> bool:
        for person in sorted(p for p, held in people.items() if role in held):
            if person in seen:
                continue
            seen.add(person)
            if person not in owner or augment(owner[person], seen):
                match[role], owner[person] = person, role
                return True
        return False

    for role in roles:
        augment(role, set())
    return match


def approval_check(
    rules: dict[str, Any],
    tier: int,
    model_digest: str,
    developers: list[str],
    approvals: list[dict[str, Any]],
    *,
    kinds: dict[str, str],
    newest_evidence_seq: int | None,
    now: str,
) -> dict[str, Any]:
    """Whether a model version's approvals meet its tier's k-of-n rule (stdlib only).

    ``approvals`` are ``{"seq","approver","role","decision","model_digest","stage","ts"}`` of
    one stage. An approval counts only if it is an "approve" bound to ``model_digest`` by a
    person (``kinds``; a service never approves) who is not a developer of the version
    (trainer, registrant, signer: admins included), not older than the tier's
    ``approval_valid_days`` plus ``grace_days`` (in grace it counts and is listed in
    ``expiring``) and, when ``evidence_change`` is "void", not older than the newest evidence
    about the version. Each person's newest such decision stands: a "reject" by someone in a
    required role (any approval role if the tier names none) blocks until they approve. ``k``
    counts distinct people, never keys or roles, and each required role must be covered by a
    different person (a matching, not a union).

    Attacks this answers: approving one's own model (developers never count), one person with
    two keys or two roles posing as two approvers (people are counted, roles matched),
    replaying an approval of an older build (digest), approving before damning evidence
    arrived (void), a robot approving (kind), an approval left to rot (expiry).
    """
    out: dict[str, Any] = {
        "ok": False,
        "k": 0,
        "roles": [],
        "people": [],
        "counted": [],
        "missing_roles": [],
        "missing": 0,
        "problems": [],
        "expiring": [],
        "why_not": {},
    }
    found = [t for t in rules.get("tiers", []) if isinstance(t, dict) and t.get("tier") == tier]
    if not found:
        out["problems"].append(f"the policy declares no tier {tier}")
        return out
    spec = found[0]
    k, roles = int(spec.get("k", 1)), sorted({str(r) for r in spec.get("roles", [])})
    out["k"], out["roles"] = k, roles
    valid, grace = int(spec.get("approval_valid_days", 365)), int(spec.get("grace_days", 0))
    void = rules.get("evidence_change", "void") == "void"
    blocking = set(roles) or {"approver", "validator", "data-owner", "security", "compliance"}
    devs = set(developers)
    moment = parse_event_time(now)
    why_not: dict[str, str] = {}
    latest: dict[str, dict[str, Any]] = {}  # person -> newest standing decision
    held: dict[str, dict[str, int]] = {}  # person -> role -> seq, approvals since their reject
    for a in sorted(approvals, key=lambda x: int(x["seq"])):
        seq, who, role = int(a["seq"]), str(a["approver"]), str(a["role"])
        label = f"#{seq} by {who} ({role})"
        if a.get("model_digest") != model_digest:
            why_not[str(seq)] = f"{label} is bound to another build of the model (digest)"
            continue
        if void and newest_evidence_seq is not None and seq < newest_evidence_seq:
            why_not[str(seq)] = (
                f"{label} predates evidence #{newest_evidence_seq} about the version: void"
            )
            continue
        if a.get("decision") == "reject":
            latest[who] = a
            held.pop(who, None)
            why_not[str(seq)] = f"{label} is a rejection"
            continue
        if a.get("decision") != "approve":
            why_not[str(seq)] = f"{label} has an unknown decision {a.get('decision')!r}"
            continue
        if kinds.get(who) != "person":
            why_not[str(seq)] = (
                f"{label}: {who} is a {kinds.get(who, 'unknown')} actor, not a person"
            )
            continue
        if who in devs:
            why_not[str(seq)] = f"{label}: {who} developed this version (separation of duties)"
            continue
        age = (moment - parse_event_time(str(a["ts"]))).total_seconds() / 86400
        if age > valid + grace:
            why_not[str(seq)] = f"{label} expired {age - valid:.0f} days ago"
            continue
        if age > valid - grace:
            from datetime import timedelta

            expires = parse_event_time(str(a["ts"])) + timedelta(days=valid)
            out["expiring"].append(
                {
                    "seq": seq,
                    "approver": who,
                    "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "in_grace": age > valid,
                }
            )
        latest[who] = a
        held.setdefault(who, {})[role] = seq
    for who, a in sorted(latest.items()):
        if a.get("decision") == "reject" and str(a["role"]) in blocking:
            out["problems"].append(
                f"{who} rejected it as {a['role']} (#{a['seq']}): a rejection stands until "
                "they approve or the evidence changes"
            )
    people = {who: set(r) for who, r in held.items() if latest[who].get("decision") == "approve"}
    cover = _cover(people, roles)
    counted = []
    for who in sorted(people):
        used = next((r for r, p in cover.items() if p == who), None)
        counted.append(held[who][used] if used else max(held[who].values()))
    out["people"] = sorted(people)
    out["counted"] = sorted(counted)
    out["missing_roles"] = [r for r in roles if r not in cover]
    out["missing"] = max(0, k - len(people))
    if out["missing_roles"]:
        out["problems"].append("no distinct approver yet for " + ", ".join(out["missing_roles"]))
    if out["missing"]:
        out["problems"].append(
            f"{len(people)} of the {k} distinct people tier {tier} needs have approved"
        )
    out["why_not"] = why_not
    out["ok"] = not out["problems"]
    if not out["ok"]:  # say why the approvals that did not count did not
        out["problems"] += [w for w in why_not.values() if not w.endswith("is a rejection")]
    return out


def _close(recorded: Any, recomputed: float) -> bool:
    if isinstance(recorded, bool) or not isinstance(recorded, int | float):
        return False
    return abs(recorded - recomputed) <= max(RECOMPUTE_TOLERANCE * abs(recomputed), 1e-12)


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def roc_auc(y_true: list[int], score: list[float]) -> float | None:
    """ROC AUC as the Mann-Whitney statistic, ties counted one half (None: one class only)."""
    order = sorted(range(len(score)), key=lambda i: score[i])
    ranks = [0.0] * len(score)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and score[order[j + 1]] == score[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(1 for y in y_true if y == 1)
    n_neg = len(y_true) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum = sum(r for r, y in zip(ranks, y_true, strict=True) if y == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def group_rates(
    y_true: list[int], predicted: list[int], labels: list[str]
) -> dict[str, dict[str, Any]]:
    """Per group: its count, the rate of positive predictions, TPR and FPR (None: undefined)."""
    tally: dict[str, list[int]] = {}
    for y, p, g in zip(y_true, predicted, labels, strict=True):
        t = tally.setdefault(g, [0, 0, 0, 0, 0])  # count, predicted 1, positives, tp, fp
        t[0] += 1
        t[1] += p
        t[2] += y
        t[3] += 1 if (y and p) else 0
        t[4] += 1 if (p and not y) else 0
    return {
        g: {
            "count": n,
            "selection_rate": _rate(sel, n),
            "tpr": _rate(tp, pos),
            "fpr": _rate(fp, n - pos),
        }
        for g, (n, sel, pos, tp, fp) in tally.items()
    }


def _spread(values: list[float | None]) -> tuple[float, float] | None:
    known = [v for v in values if v is not None]
    return (min(known), max(known)) if known else None


class _Recomputation:
    """The figures compared so far, those that differ, and what could not be recomputed."""

    def __init__(self) -> None:
        self.compared: list[dict[str, Any]] = []
        self.differ: list[str] = []
        self.impossible: list[str] = []

    def verdict(self, name: str, recorded: Any, recomputed: bool) -> None:
        """A yes/no the evidence states (a rule met or not), against the recomputed one."""
        agrees = recorded is recomputed
        self.compared.append(
            {"figure": name, "recorded": recorded, "recomputed": recomputed, "agrees": agrees}
        )
        if not agrees:
            self.differ.append(f"{name}: the evidence says {recorded!r}, recomputed {recomputed!r}")

    def compare(self, figure: str, recorded: Any, recomputed: float | None) -> None:
        if recomputed is None:
            if recorded is not None:
                self.impossible.append(f"{figure}: undefined on the bundled predictions")
            return
        agrees = _close(recorded, recomputed)
        self.compared.append(
            {"figure": figure, "recorded": recorded, "recomputed": recomputed, "agrees": agrees}
        )
        if not agrees:
            self.differ.append(
                f"{figure}: the evidence says {recorded!r}, recomputed {recomputed!r}"
            )


def _fairness(
    out: _Recomputation,
    where: str,
    fairness: dict[str, Any],
    preds: dict[str, Any],
    run_threshold: float | None,
) -> None:
    threshold = fairness.get("threshold", run_threshold)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        out.impossible.append(f"{where}: no decision threshold recorded")
        return
    y = [int(v) for v in preds["y_true"]]
    predicted = [1 if float(p) >= threshold else 0 for p in preds["probability"]]
    outcome = fairness.get("outcome")
    favourable = None
    if isinstance(outcome, dict) and outcome.get("favourable") in ("positive", "negative"):
        favourable = 1 if outcome["favourable"] == "positive" else 0
    else:
        out.impossible.append(
            f"{where}: the evidence does not declare the favourable outcome, so the favourable "
            "rates and the disparate impact are not recomputed"
        )
    for key, comparison in sorted(fairness.get("groups", {}).items()):
        attrs = key.split(" × ")
        missing = [a for a in attrs if a not in preds.get("sensitive", {})]
        if missing:
            out.impossible.append(f"{where} ({key}): {missing[0]!r} is not in the predictions")
            continue
        labels = [" / ".join(str(preds["sensitive"][a][i]) for a in attrs) for i in range(len(y))]
        rates = group_rates(y, predicted, labels)
        table = {str(row["group"]): row for row in comparison.get("table", [])}
        for g in sorted(set(rates) - set(table)):
            out.differ.append(
                f"{where} ({key}): group {g!r} is in the predictions, not the evidence"
            )
        for g, row in sorted(table.items()):
            got = rates.get(g)
            if got is None:
                if row.get("count"):
                    out.differ.append(
                        f"{where} ({key}) group {g!r}: the evidence counts {row['count']} rows, "
                        "the predictions none"
                    )
                continue
            out.compare(f"{where} ({key}) group {g!r} count", row.get("count"), got["count"])
            for m in ("selection_rate", "tpr", "fpr"):
                out.compare(f"{where} ({key}) group {g!r} {m}", row.get(m), got[m])
            if favourable is not None and "favourable_rate" in row:
                fav = got["selection_rate"] if favourable == 1 else 1 - got["selection_rate"]
                out.compare(
                    f"{where} ({key}) group {g!r} favourable_rate", row["favourable_rate"], fav
                )
        measured = [rates[g] for g in table if g in rates]
        sel = _spread([r["selection_rate"] for r in measured])
        if sel is not None and "demographic_parity_difference" in comparison:
            out.compare(
                f"{where} ({key}) demographic_parity_difference",
                comparison["demographic_parity_difference"],
                sel[1] - sel[0],
            )
        tpr = _spread([r["tpr"] for r in measured])
        fpr = _spread([r["fpr"] for r in measured])
        if tpr is not None and fpr is not None:
            out.compare(
                f"{where} ({key}) equalized_odds_difference",
                comparison.get("equalized_odds_difference"),
                max(tpr[1] - tpr[0], fpr[1] - fpr[0]),
            )
        if favourable is not None and sel is not None:
            fav_rates = [
                r["selection_rate"] if favourable == 1 else 1 - r["selection_rate"]
                for r in measured
            ]
            low, high = min(fav_rates), max(fav_rates)
            out.compare(
                f"{where} ({key}) disparate_impact",
                comparison.get("disparate_impact"),
                low / high if high else None,
            )
            if high and "four_fifths_rule" in comparison:
                out.verdict(
                    f"{where} ({key}) four_fifths_rule",
                    comparison["four_fifths_rule"],
                    low / high >= 0.8,
                )


# A fairness check's name starts with its figure's label and ends with "(attribute)".
_CHECK_FIGURES = (
    ("demographic parity difference (", "demographic_parity_difference"),
    ("equalized odds difference (", "equalized_odds_difference"),
    ("disparate impact on ", "disparate_impact"),
)
_ORDER = ("PASS", "WARN", "INCONCLUSIVE", "FAIL")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _checks(out: _Recomputation, where: str, doc: dict[str, Any]) -> None:
    """Each fairness threshold check against its figure, and every verdict against its check.

    A signer could state honest figures and a kinder verdict: a check's observed value must
    be the section's (recomputed) figure, its ``passed`` must follow from that value and its
    threshold, its verdict from ``passed`` and its severity (INCONCLUSIVE is allowed only
    where it does not hide a FAIL), and the evidence's verdict must be the worst of its
    checks, with ``passed`` meaning no FAIL.
    """
    groups = (doc.get("sections", {}).get("fairness") or {}).get("groups", {})
    checks = [c for c in doc.get("checks", []) if isinstance(c, dict)]
    for c in checks:
        name = str(c.get("name", ""))
        figure = next((f for prefix, f in _CHECK_FIGURES if name.startswith(prefix)), None)
        key = name[name.rfind("(") + 1 : -1] if name.endswith(")") else ""
        if c.get("section") != "fairness" or figure is None or key not in groups:
            continue
        observed, limits = c.get("observed"), c.get("threshold") or {}
        label = f"{where} check {name!r}"
        if _number(groups[key].get(figure)):
            out.compare(f"{label} observed", observed, float(groups[key][figure]))
        bound = "max" if "max" in limits else "min" if "min" in limits else ""
        if not (bound and _number(observed) and _number(limits[bound])):
            continue
        met = observed <= limits[bound] if bound == "max" else observed >= limits[bound]
        out.verdict(f"{label} passed", c.get("passed"), met)
        verdict, severity = c.get("verdict"), c.get("severity")
        if verdict is None:
            continue  # evidence from before verdicts: its verdict is derived, not stated
        if met:
            allowed = {"PASS", "INCONCLUSIVE"}
        else:
            allowed = {"FAIL"} if severity == "error" else {"WARN", "INCONCLUSIVE"}
        out.verdict(f"{label} verdict {verdict!r} fits", True, verdict in allowed)
    stated = [c.get("verdict") for c in checks]
    if "verdict" in doc and all(v in _ORDER for v in stated):
        worst = max(stated, key=_ORDER.index) if stated else "PASS"
        out.verdict(
            f"{where} verdict {doc['verdict']!r} is the worst check's",
            True,
            doc["verdict"] == worst,
        )
        out.verdict(f"{where} passed", doc.get("passed"), worst != "FAIL")


def recompute(path: str) -> dict[str, Any]:
    """Recompute the headline figures from the bundle's test predictions; see section 8.

    Run it on a bundle that :func:`verify` accepted: it reads the members without checking
    them again. Returns ``possible`` (whether any figure could be recomputed), ``compared``
    (every figure: recorded, recomputed, agrees), ``differ`` (one line per figure that does
    not agree) and ``impossible`` (what could not be recomputed, and why).
    """
    out = _Recomputation()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())

        def member(name: str) -> Any:
            return json.loads(archive.read(name))

        runs: dict[str, dict[str, Any]] = {}
        for name in sorted(names):
            parts = name.split("/")
            if len(parts) != 3 or parts[0] != "evidence" or not parts[1].startswith("run-"):
                continue
            run_id = parts[1][len("run-") :]
            if parts[2] == PREDICTIONS:
                runs.setdefault(run_id, {})["predictions"] = member(name)
            elif parts[2] == PREDICTION_DIGESTS:
                runs.setdefault(run_id, {})["hashes_only"] = True
            elif parts[2] == "metrics.json":
                runs.setdefault(run_id, {})["metrics"] = member(name)
        for run_id, run in sorted(runs.items()):
            where = f"run {run_id}"
            if run.get("hashes_only") or "predictions" not in run:
                out.impossible.append(
                    f"{where}: the bundle holds the test predictions as digests only "
                    "(exported with --data hashes), so no figure can be recomputed"
                )
                continue
            preds, metrics = run["predictions"], run.get("metrics") or {}
            y = [int(v) for v in preds["y_true"]]
            proba = [float(p) for p in preds["probability"]]
            out.compare(f"{where} roc_auc", metrics.get("roc_auc"), roc_auc(y, proba))
            threshold = metrics.get("threshold")
            if isinstance(threshold, int | float) and not isinstance(threshold, bool):
                hits = sum(1 for t, p in zip(y, proba, strict=True) if t == (p >= threshold))
                out.compare(f"{where} accuracy", metrics.get("accuracy"), hits / len(y))
            else:
                out.impossible.append(f"{where}: metrics.json records no threshold")
        for name in sorted(names):
            if not (name.startswith("evidence/evaluation-") and name.endswith(".json")):
                continue
            doc = member(name)
            where = name.split("/")[-1][: -len(".json")]
            fairness = doc.get("sections", {}).get("fairness")
            if fairness is None:
                continue
            run_id = str((doc.get("model") or {}).get("run", ""))
            run = runs.get(run_id, {})
            if "predictions" not in run or run.get("hashes_only"):
                out.impossible.append(
                    f"{where}: the test predictions it was computed from are not in the bundle "
                    "(digests only, or another test set), so its fairness is not recomputed"
                )
                continue
            data = doc.get("data") or {}
            if data.get("trained_on") or data.get("test_rows") != len(run["predictions"]["y_true"]):
                out.impossible.append(
                    f"{where}: it was computed on another test set than run {run_id}'s "
                    "held-out split, whose predictions the bundle does not hold"
                )
                continue
            _fairness(
                out,
                where,
                fairness,
                run["predictions"],
                (run.get("metrics") or {}).get("threshold"),
            )
            _checks(out, where, doc)
    return {
        "possible": bool(out.compared),
        "agrees": bool(out.compared) and not out.differ,
        "compared": out.compared,
        "differ": out.differ,
        "impossible": out.impossible,
    }


def recompute_lines(result: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether the figures held, and the lines to print (``ledgerml bundle verify`` too)."""
    lines = []
    if not result["possible"]:
        lines.append("RECOMPUTATION NOT POSSIBLE: no figure could be recomputed from this bundle")
    elif result["differ"]:
        lines.append(
            f"RECOMPUTED FIGURES DIFFER: {len(result['differ'])} of "
            f"{len(result['compared'])} figures do not match the signed evidence"
        )
        lines += [f"  differs  {d}" for d in result["differ"]]
    elif result["impossible"]:
        lines.append(
            f"PARTIALLY RECOMPUTED: all {len(result['compared'])} figures recomputed match the "
            f"signed evidence; {len(result['impossible'])} could not be recomputed (below)"
        )
    else:
        lines.append(f"RECOMPUTED: all {len(result['compared'])} figures match the signed evidence")
    lines += [f"  not recomputed  {i}" for i in result["impossible"]]
    return not result["differ"], lines


DEMO_NOTE = (
    "demo identities: no assurance (the identities were made up for a demonstration and "
    "their keys share one account: they prove nothing about who acted)"
)


# --- 9. Operations: deployments, what was live where --------------------------------------
#
# A model's bundle carries its deployments (``operations/deployments.json``), derived by the
# exporter from the ledger excerpt with :func:`deployment_history`, the function this
# verifier runs again over the same signed events: the member must be exactly what the
# events say (attack: a deployment hidden, an end date moved, an environment relabelled,
# with the manifest re-signed). The excerpt carries every event about the model and every
# event of an environment it was deployed to, so each deployment is checked against the
# stages the signed promotions gave the version at that position: ``production`` takes an
# approved version only, and every deployment of a model carries an allow decision of the
# ``deploy`` gate about that very environment (attack: an insider with an operator's key
# forges a production deployment of a version never approved, or copies a staging decision
# onto it). A rollback must restore an earlier live deployment of its environment.

DEPLOYMENTS = "operations/deployments.json"
DEPLOY_ACTIONS = ("model.deploy", "model.rollback")
ENDING_ACTIONS = ("model.deploy", "model.rollback", "deploy.withdraw")


def deployment_history(events: list[tuple[int, dict[str, Any]]], ref: str) -> list[dict[str, Any]]:
    """The deployments of ``ref`` the events record, oldest first, each with its end.

    ``ended_seq`` is the event that took it out of service (a later deployment of its arm,
    a rollback, a withdrawal), None while it serves.
    """
    out: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for seq, body in events:
        action, data = body.get("action"), body.get("data") or {}
        if action not in ENDING_ACTIONS or not isinstance(data, dict):
            continue
        for ended in data.get("ends") or []:
            if str(ended) in by_id and by_id[str(ended)]["ended_seq"] is None:
                by_id[str(ended)]["ended_seq"] = seq
        if action in DEPLOY_ACTIONS and data.get("model") == ref:
            entry = {
                "deployment_id": str(data.get("deployment_id")),
                "seq": seq,
                "ts": body.get("ts"),
                "actor": body.get("actor"),
                "env": data.get("env"),
                "arm": data.get("arm", "live"),
                "strategy": data.get("strategy", "rollback"),
                "share": data.get("share"),
                "retention": data.get("retention"),
                "model_digest": data.get("model_digest"),
                "restores": data.get("restores"),
                "incident": data.get("incident"),
                "reason": body.get("reason", ""),
                "ended_seq": None,
            }
            by_id[entry["deployment_id"]] = entry
            out.append(entry)
    return out


def deployment_problems(
    events: list[tuple[int, dict[str, Any]]], ref: str
) -> list[tuple[int, str]]:
    """Each deployment of ``ref`` that the signed stages and decisions do not allow."""
    stage = "candidate"
    seen: dict[str, tuple[str, str]] = {}  # deployment id -> (env, model), every model
    problems: list[tuple[int, str]] = []
    for seq, body in events:
        action, data = body.get("action"), body.get("data") or {}
        if not isinstance(data, dict):
            continue
        if action == "model.promote" and data.get("model") == ref:
            stage = str(data.get("to_stage"))
        if action not in DEPLOY_ACTIONS:
            continue
        env, model = str(data.get("env")), str(data.get("model"))
        seen[str(data.get("deployment_id"))] = (env, model)
        if model != ref:
            continue
        what = f"event #{seq} ({action}) of {ref} to {env}"
        if env == "production" and stage != "approved":
            problems.append(
                (
                    seq,
                    f"{what}: the signed ledger had {ref} {stage!r} then; production "
                    "takes approved versions only",
                )
            )
        member = body.get("policy")
        request = (member.get("input") or {}).get("request") if isinstance(member, dict) else None
        if (
            not isinstance(member, dict)
            or member.get("gate") != "deploy"
            or not member.get("allow")
        ):
            problems.append((seq, f"{what} carries no allow decision of the deploy gate"))
        elif not isinstance(request, dict) or request.get("env") != env:
            problems.append((seq, f"{what} carries a deploy decision about another environment"))
        if action == "model.rollback" and seen.get(str(data.get("restores"))) != (env, ref):
            problems.append(
                (
                    seq,
                    f"{what} restores {data.get('restores')}, no earlier deployment of {ref} "
                    f"in {env} the bundle records",
                )
            )
    return problems


MONITORING = "operations/monitoring.json"
INCIDENTS = "operations/incidents.json"
PIPELINES = "operations/pipelines.json"

STEP_ACTIONS: dict[str, tuple[str, ...]] = {
    "snapshot": ("snapshot.add",),
    "feature": ("snapshot.add",),
    "validate": ("validation.run",),
    "train": ("train.run",),
    "register": ("model.register",),
    "sign": ("model.sign",),
    "evaluate": ("model.evaluate",),
    "promote": ("model.promote",),
    "approval-request": (),
    "deploy": ("model.deploy",),
}
"""The events each pipeline step kind records when it runs (a refusal adds ``policy.deny``)."""
_STEP_MUST_RECORD = ("validate", "train", "register", "sign", "evaluate", "promote", "deploy")
"""Step kinds that cannot pass without recording their event (a snapshot or view of the same
bytes, and an approval request written to a file, record nothing)."""


def pipeline_problems(
    events: dict[int, dict[str, Any]], seq: int, data: dict[str, Any], *, complete: bool = True
) -> tuple[list[str], int]:
    """What a ``pipeline.run`` event claims that its steps' events contradict; (problems, unseen).

    A run is a claim about other events, so it is replayed: each step's listed events exist
    before the run, are by the step's ``as`` actor and of the step's kind, in order across
    steps; a passed step recorded what its kind must and really passed (a failing validation
    or evaluation, or a ``policy.deny``, cannot be "passed"); a skipped step recorded
    nothing and follows the failed one; the run's status and ``failed_step`` are its steps'.
    ``events`` maps seq to body. With ``complete`` false (a bundle's excerpt) a listed event
    the excerpt does not carry is counted in ``unseen`` instead of rejected.
    """
    problems: list[str] = []
    unseen = 0
    steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    assert isinstance(steps, list)
    last, failed = 0, None
    for step in steps:
        if not isinstance(step, dict):
            return ["has a step that is not an object"], 0
        name, do, who, status = step.get("name"), step.get("do"), step.get("as"), step.get("status")
        listed = step.get("events") if isinstance(step.get("events"), list) else None
        where = f"step {name!r} ({do} as {who})"
        if (
            do not in STEP_ACTIONS
            or status not in ("passed", "failed", "skipped")
            or listed is None
        ):
            problems.append(f"{where} is malformed (kind, status or events)")
            continue
        if failed is not None and status != "skipped":
            problems.append(f"{where} is {status} after step {failed!r} failed: it cannot have run")
        if status == "skipped" and (failed is None or listed):
            problems.append(
                f"{where} says skipped, but no step failed before it or it lists events"
            )
        if status == "failed" and failed is None:
            failed = str(name)
        allowed = STEP_ACTIONS[str(do)] + (("policy.deny",) if status == "failed" else ())
        own: list[dict[str, Any]] = []
        for e in listed:
            if not isinstance(e, int) or e <= last or e >= seq:
                problems.append(
                    f"{where} lists event #{e}, not after the previous step's and before the run"
                )
                continue
            last = e
            body = events.get(e)
            if body is None:
                if complete:
                    problems.append(f"{where} lists event #{e}, which the ledger does not have")
                unseen += 1
                continue
            if body.get("actor") != who or body.get("action") not in allowed:
                problems.append(
                    f"{where} lists event #{e} ({body.get('action')} by {body.get('actor')}), "
                    f"not a {' or '.join(allowed) or 'no'} event by {who}"
                )
                continue
            own.append(body)
        if status == "passed" and do in _STEP_MUST_RECORD and not own and not unseen:
            problems.append(f"{where} says passed but lists no {STEP_ACTIONS[str(do)][0]} event")
        for body in own if status == "passed" else []:
            d = body.get("data") or {}
            bad = (do == "validate" and d.get("passed") is not True) or (
                do == "evaluate"
                and (
                    d.get("verdict") == "FAIL" or (d.get("verdict") is None and not d.get("passed"))
                )
            )
            if bad:
                problems.append(f"{where} says passed, but its {body.get('action')} did not pass")
    want = "failed" if failed is not None else "passed"
    if data.get("status") != want or data.get("failed_step") != failed:
        problems.append(
            f"says {data.get('status')} (failed step {data.get('failed_step')!r}), but its steps "
            f"say {want} (failed step {failed!r})"
        )
    return problems, unseen


def _served(history: list[dict[str, Any]], env: str, seq: int) -> bool:
    """Whether one of the deployments in ``history`` served ``env`` at event ``seq``."""
    return any(
        d["env"] == env and d["seq"] < seq and (d["ended_seq"] is None or d["ended_seq"] >= seq)
        for d in history
    )


def operations_history(
    events: list[tuple[int, dict[str, Any]]], ref: str, env: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The monitoring, incidents and pipeline runs of ``ref`` the events record.

    Monitoring: the runs of the version (``model`` is ``ref``) and their alerts. Incidents:
    those opened in an environment while a deployment of the version served there, and
    those a deployment of the version answered (a rollback to it), each with its actions in
    order and its close. Pipelines: the runs that name the version. With ``env`` (an
    environment's reports, no version), the runs, alerts and incidents of that environment.
    The exporter writes exactly this; the verifier derives it again and compares.
    """
    history = deployment_history(events, ref)
    answered = {d["incident"] for d in history if d["incident"] is not None}
    runs: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    incidents: dict[int, dict[str, Any]] = {}
    pipelines: list[dict[str, Any]] = []
    mine: set[int] = set()
    for seq, body in events:
        action, data = body.get("action"), body.get("data") or {}
        if not isinstance(data, dict):
            continue
        if action == "monitor.run" and (
            data.get("env") == env if env is not None else data.get("model") == ref
        ):
            mine.add(seq)
            runs.append(
                {
                    "seq": seq,
                    "ts": body.get("ts"),
                    "actor": body.get("actor"),
                    **{
                        k: data.get(k)
                        for k in (
                            "env",
                            "window_start",
                            "window_end",
                            "verdict",
                            "decisions",
                            "checks",
                            "deployment_id",
                            "evidence_digest",
                            "slo_digest",
                        )
                    },
                }
            )
        elif action == "monitor.alert" and data.get("monitor_seq") in mine:
            alerts.append(
                {
                    "seq": seq,
                    "ts": body.get("ts"),
                    **{
                        k: data.get(k)
                        for k in (
                            "env",
                            "slo",
                            "metric",
                            "observed",
                            "threshold",
                            "verdict",
                            "monitor_seq",
                            "incident",
                        )
                    },
                }
            )
        elif action == "incident.open" and (
            data.get("env") == env
            if env is not None
            else _served(history, str(data.get("env")), seq) or seq in answered
        ):
            incidents[seq] = {
                "seq": seq,
                "opened_at": body.get("ts"),
                "opened_by": body.get("actor"),
                "reason": body.get("reason", ""),
                **{
                    k: data.get(k)
                    for k in ("env", "title", "severity", "alert_seq", "slo", "playbook")
                },
                "actions": [],
                "closed": None,
            }
        elif action == "incident.act" and data.get("incident") in incidents:
            incidents[data["incident"]]["actions"].append(
                {
                    "seq": seq,
                    "ts": body.get("ts"),
                    "actor": body.get("actor"),
                    "reason": body.get("reason", ""),
                    **{
                        k: data.get(k)
                        for k in (
                            "action",
                            "detail",
                            "automatic",
                            "status",
                            "step",
                            "runbook",
                            "caused_seq",
                        )
                    },
                }
            )
        elif action == "incident.close" and data.get("incident") in incidents:
            incidents[data["incident"]]["closed"] = {
                "seq": seq,
                "ts": body.get("ts"),
                "actor": body.get("actor"),
                "resolution": data.get("resolution"),
            }
        elif action == "pipeline.run" and f"model:{ref}" in (body.get("subjects") or []):
            pipelines.append(
                {
                    "seq": seq,
                    "ts": body.get("ts"),
                    "actor": body.get("actor"),
                    **{
                        k: data.get(k)
                        for k in (
                            "name",
                            "status",
                            "failed_step",
                            "steps",
                            "spec_digest",
                            "report_digest",
                        )
                    },
                }
            )
    return {
        "runs": runs,
        "alerts": alerts,
        "incidents": [incidents[k] for k in sorted(incidents)],
        "pipelines": pipelines,
    }


def _compare_member(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    name: str,
    keys: tuple[str, ...],
    derived: dict[str, Any],
) -> int:
    """Reject a summary member that is not what the signed events record; its entry count."""
    count = sum(len(derived[k]) for k in keys)
    if name not in members:
        if count:
            raise RejectedError(
                f"the ledger excerpt records {_n(count, 'entry', 'entries')} for {name}, but "
                "the bundle carries no such member"
            )
        return 0
    try:
        doc = json.loads(archive.read(members[name]))
        carried = {k: doc[k] for k in keys}
    except (KeyError, ValueError, TypeError) as err:
        raise RejectedError(f"{name} is malformed: {err!r}") from err
    for k in keys:
        if carried[k] != derived[k]:
            raise RejectedError(
                f"{name} is not what the signed events record ({k}: {len(carried[k])} listed, "
                f"{len(derived[k])} recorded, or an entry edited)"
            )
    return count


DECISIONS = "operations/decisions.json"
MAX_LEAVES = 10_000
"""Batches up to this many decisions carry every leaf hash, so their root is recomputed."""


def decision_batches_of(
    events: list[tuple[int, dict[str, Any]]], history: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The ``decision.batch`` events that logged a decision of one of ``history``'s deployments."""
    ids = {d["deployment_id"] for d in history}
    out = []
    for seq, body in events:
        data = body.get("data") or {}
        if body.get("action") == "decision.batch" and ids & set(data.get("deployments") or []):
            out.append(
                {
                    "seq": seq,
                    "ts": body.get("ts"),
                    "actor": body.get("actor"),
                    **{
                        k: data.get(k)
                        for k in (
                            "batch_id",
                            "env",
                            "deployments",
                            "object_digest",
                            "merkle_root",
                            "count",
                            "refused",
                            "errors",
                            "first_ts",
                            "last_ts",
                            "source",
                        )
                    },
                }
            )
    return out


def _decisions(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    events: list[tuple[int, dict[str, Any]]],
    history: list[dict[str, Any]],
) -> tuple[str, int]:
    """Check ``operations/decisions.json``: its batches, leaves, sample proofs and overrides.

    Attacks: a batch summary edited or hidden (it must equal the signed events'); a sample
    decision edited (its leaf no longer proves into the signed root); a leaf list edited (it
    no longer recomputes the signed root); an override invented or dropped (the overrides
    must be the excerpt's ``decision.override`` events of the sampled requests' batches).

    Returns the line checked and how many samples carry ``inputs``. Those input values are
    NOT covered by anything checkable here: the leaf leaves ``in.*`` out, the keyed input
    digest needs the deployment's key, and the Parquet object the event's digest covers is
    not in the bundle. The exporter could have rewritten them, so the report says so.
    """
    batches = decision_batches_of(events, history)
    if DECISIONS not in members:
        if batches:
            raise RejectedError(
                "the ledger excerpt records "
                f"{_n(len(batches), 'decision batch', 'decision batches')} of the "
                f"model's deployments, but the bundle carries no {DECISIONS}"
            )
        return "", 0
    try:
        doc = json.loads(archive.read(members[DECISIONS]))
        carried, samples = doc["batches"], doc["samples"]
        leaves = doc.get("leaves") or {}
        overrides = doc["overrides"]
    except (KeyError, ValueError, TypeError) as err:
        raise RejectedError(f"{DECISIONS} is malformed: {err!r}") from err
    if carried != batches:
        raise RejectedError(f"{DECISIONS} lists other batches than the signed events record")
    roots = {b["seq"]: (b["merkle_root"], b["count"]) for b in batches}
    recomputed = 0
    for seq_text, hashes in leaves.items():
        root, count = roots.get(int(seq_text), (None, None))
        if root is None or len(hashes) != count:
            raise RejectedError(
                f"{DECISIONS} carries leaves for batch #{seq_text} that do not fit it"
            )
        level = [bytes.fromhex(h) for h in hashes]
        if _root_of(level).hex() != root:
            raise RejectedError(f"batch #{seq_text}'s leaves do not recompute its signed root")
        recomputed += 1
    for item in samples:
        root, count = roots.get(int(item["batch_seq"]), (None, None))
        row = item["decision"]
        if (
            root is None
            or item["batch_size"] != count
            or not decision_included(
                row, int(item["index"]), int(count), list(item["audit_path"]), str(root)
            )
        ):
            raise RejectedError(
                f"sample decision {row.get('request_id')!r} does not prove into batch "
                f"#{item['batch_seq']}'s signed root: it was edited or moved"
            )
    sampled = {str(item["decision"]["request_id"]) for item in samples}
    recorded = [
        {"seq": seq, "ts": body.get("ts"), "actor": body.get("actor"),
         "reason": body.get("reason", ""), **(body.get("data") or {})}
        for seq, body in events
        if body.get("action") == "decision.override"
        and (body.get("data") or {}).get("request_id") in sampled
    ]  # fmt: skip
    if overrides != recorded:
        raise RejectedError(f"{DECISIONS} lists other overrides than the signed events record")
    with_inputs = sum(1 for item in samples if item.get("inputs"))
    return (
        f"{_n(len(batches), 'decision batch', 'decision batches')} "
        f"{'agrees' if len(batches) == 1 else 'agree'} with the signed events "
        f"({_n(recomputed, 'root')} recomputed from every leaf); "
        f"{_n(len(samples), 'sample decision')} proven included in their batch's signed root; "
        f"{_n(len(overrides), 'override')} as recorded"
    ), with_inputs


def _root_of(leaves: list[bytes]) -> bytes:
    """The RFC 6962 root over leaf hashes (an empty tree: the hash of nothing)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = leaves
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _operations(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    events: list[tuple[int, bytes, dict[str, Any]]],
    ref: str,
) -> tuple[list[str], dict[str, Any]]:
    """Check the bundle's deployments against its signed events (see the section above)."""
    plain = [(seq, body) for seq, _, body in events]
    history = deployment_history(plain, ref)
    carried: Any = []
    if DEPLOYMENTS not in members:
        if history:
            raise RejectedError(
                f"the ledger excerpt records {_n(len(history), 'deployment')} of {ref}, but the "
                f"bundle carries no {DEPLOYMENTS}"
            )
    else:
        try:
            carried = json.loads(archive.read(members[DEPLOYMENTS]))["deployments"]
        except (KeyError, ValueError, TypeError) as err:
            raise RejectedError(f"{DEPLOYMENTS} is malformed: {err!r}") from err
    if carried != history:
        diff = next(
            (i for i, (a, b) in enumerate(zip(carried, history, strict=False)) if a != b),
            min(len(carried), len(history)),
        )
        raise RejectedError(
            f"{DEPLOYMENTS} is not what the signed events record (entry {diff + 1} differs, "
            f"{len(carried)} listed, {len(history)} recorded): edited or incomplete"
        )
    problems = deployment_problems(plain, ref)
    if problems:
        raise RejectedError(problems[0][1])
    live: dict[str, list[str]] = {}
    for d in history:
        if d["ended_seq"] is None:
            live.setdefault(str(d["env"]), []).append(f"{d['arm']} {d['deployment_id']}")
    decided, with_inputs = _decisions(archive, members, plain, history)
    ops = operations_history(plain, ref)
    monitored = _compare_member(archive, members, MONITORING, ("runs", "alerts"), ops)
    handled = _compare_member(archive, members, INCIDENTS, ("incidents",), ops)
    piped = _compare_member(archive, members, PIPELINES, ("pipelines",), ops)
    produced = sum(1 for d in history if d["env"] == "production")
    by_seq = dict(plain)
    unseen = 0
    for run in ops["pipelines"]:
        contradicted, missing = pipeline_problems(by_seq, int(run["seq"]), run, complete=False)
        if contradicted:
            raise RejectedError(f"pipeline run #{run['seq']} {contradicted[0]}")
        unseen += missing
    checked = (
        [
            f"{_n(len(history), 'deployment')} of {ref} "
            + (
                "agrees with the signed events, with an allow decision"
                if len(history) == 1
                else "agree with the signed events, each with an allow decision"
            )
            + " of the deploy gate for its environment"
            + (
                f"; the {produced} to production each of a version the signed promotions had "
                "approved then"
                if produced
                else "; none to production"
            )
        ]
        if history
        else []
    )
    unverified: list[str] = []
    if with_inputs:
        unverified.append(
            f"the input values (in.*) of {_n(with_inputs, 'sample decision')} in {DECISIONS} are "
            "as exported, not verified: no signed digest this verifier can check covers them"
        )
    shown = _rendered_reports(archive, members, ops)
    if shown:
        unverified.append(
            f"{', '.join(shown)}: rendered by the exporter from the summaries, not re-derived "
            "here (only the monitoring verdicts are cross-checked); the facts are the "
            "operations/*.json summaries checked above"
        )
    if decided:
        checked.append(decided)
    if monitored or handled or piped:
        failing = [r["seq"] for r in ops["runs"] if r.get("verdict") == "FAIL"]
        checked.append(
            f"{_n(len(ops['runs']), 'monitoring run')} ({len(failing)} FAIL), "
            f"{_n(len(ops['alerts']), 'alert')}, {_n(len(ops['incidents']), 'incident')} and "
            f"{_n(len(ops['pipelines']), 'pipeline run')} agree with the signed events"
        )
        if ops["pipelines"]:
            checked.append(
                f"{_n(len(ops['pipelines']), 'pipeline run')} replayed against their steps' events"
                + (
                    f"; {_n(unseen, 'listed step event')} not in this bundle's excerpt: not checked"
                    if unseen
                    else ""
                )
            )
    if any(name.startswith("reports/monitoring.") for name in members):
        checked.append(
            "reports/monitoring.* state the verified runs' verdicts (overall and per window)"
        )
    if live:
        checked.append(
            f"{ref} is live in: "
            + "; ".join(f"{env} ({', '.join(arms)})" for env, arms in sorted(live.items()))
        )
    return checked, {"deployments": history, "live": live, "unverified": unverified, **ops}


OPERATIONS_REPORTS = ("monitoring", "incidents", "decision-log")


class _SeenText(HTMLParser):
    """The paragraphs and tables (rows of cell texts) of an HTML page as a reader sees them.

    Character references are decoded; nothing inside an element a browser does not show
    (``template``, ``script``, ``noscript``, ``style``, ``head``) or one marked ``hidden`` or
    given an inline ``style`` counts; comments never do. A paragraph's and a cell's text is
    whitespace-normalised.
    """

    _UNSEEN = frozenset({"template", "script", "noscript", "style", "head", "title"})
    _VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._open: list[tuple[str, bool]] = []  # (tag, unseen from here down)
        self._text: list[str] | None = None  # the open paragraph's or cell's text
        self._row: list[str] | None = None

    @classmethod
    def read(cls, page: str) -> _SeenText:
        """``page`` parsed."""
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    def _unseen(self) -> bool:
        return bool(self._open) and self._open[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        unseen = self._unseen() or tag in self._UNSEEN or bool(names & {"hidden", "style"})
        if tag in self._VOID:
            return
        self._open.append((tag, unseen))
        if unseen:
            return
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th", "p"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self._open):
            return  # a stray end tag closes nothing
        while self._open:
            open_tag, unseen = self._open.pop()
            if open_tag == tag:
                break
        if unseen:
            return
        text = " ".join("".join(self._text or []).split())
        if tag in ("td", "th") and self._row is not None and self._text is not None:
            self._row.append(text)
            self._text = None
        elif tag == "p" and self._text is not None:
            self.paragraphs.append(text)
            self._text = None
        elif tag == "tr" and self._row is not None:
            if self.tables:
                self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._text is not None and not self._unseen():
            self._text.append(data)


def _rendered_reports(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], ops: dict[str, Any]
) -> list[str]:
    """The exporter-rendered operations reports the bundle carries; reject a lying verdict.

    The reports are rendered by the exporter (this verifier has no template engine), so
    they are not re-derived here. The one thing a reader takes from the monitoring report
    at a glance, its verdicts, is cross-checked: the overall verdict must be the worst of
    the signed runs' (INCONCLUSIVE with none) and each window's row must state its run's
    signed verdict, with no row for a run the events do not record. Attack: INCONCLUSIVE
    rewritten to PASS in the report before the exporter signs the manifest; or a forged row
    or heading put beside the true one, the true one hidden. The Markdown is read as the
    source it is (comments dropped); the HTML as a reader sees it (:class:`_SeenText`: what
    is inside comments, ``template``, ``script``, ``noscript``, ``style`` or an element
    marked ``hidden`` or styled inline is not seen), and each run's row and the overall
    heading must be seen exactly once. Not covered: style-sheet rules written to hide a row
    (this verifier renders no CSS).
    """
    runs = {int(r["seq"]): str(r.get("verdict")) for r in ops["runs"]}
    stated = [str(v) for v in runs.values()]
    overall = max(stated, key=_rank) if stated else "INCONCLUSIVE"
    head = r"Overall verdict over the windows: (\w+)"
    for name in ("reports/monitoring.md", "reports/monitoring.html"):
        if name not in members:
            continue
        try:
            text = archive.read(members[name]).decode("utf-8")
        except UnicodeDecodeError as err:
            raise RejectedError(f"{name} is not UTF-8 text ({err})") from err
        if name.endswith(".md"):
            text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
            heads = re.findall(r"Overall verdict over the windows: \*\*(\w+)\*\*", text)
            found = re.findall(r"^\| #(\d+) \|[^|]*\|[^|]*\| \*\*(\w+)\*\* \|", text, re.M)
            pairs = [(int(seq), verdict) for seq, verdict in found]
        else:
            seen = _SeenText.read(text)
            heads = [m for p in seen.paragraphs for m in re.findall(rf"^{head}$", p)]
            # The windows table: a row a run, "#N", the window, decisions logged, the verdict.
            pairs = [
                (int(r[0][1:]) if r and re.fullmatch(r"#\d+", r[0]) else -1, (r + [""] * 4)[3])
                for table in seen.tables
                if table and table[0][:4] == ["event", "window", "decisions logged", "verdict"]
                for r in table[1:]
            ]
        rows = dict(pairs)
        if heads != [overall] or len(pairs) != len(rows) or rows != runs:
            raise RejectedError(
                f"{name} does not state the verdicts of the signed monitoring runs (overall "
                f"{overall}): it was edited"
            )
    return [
        f"reports/{r}.*"
        for r in OPERATIONS_REPORTS
        if f"reports/{r}.md" in members or f"reports/{r}.html" in members
    ]


# --- 10. Privacy: the access log ----------------------------------------------------------
#
# Who read the bundled data, and who exported it, is in the signed events: data.access (a
# decryption, a re-link of a pseudonym), data.reveal (a PII column's top values shown),
# bundle.export (with the snapshots whose rows a full-data bundle carried), model.export (the
# model file written out). The member is derived from them by access_log below, which the
# exporter runs too; here it is derived again and compared, so a forged, edited or dropped
# entry rejects the bundle.

ACCESS_LOG = "privacy/access-log.json"
ACCESS_ACTIONS = ("data.access", "data.reveal", "bundle.export", "model.export")


def access_log(events: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per read or export event: who, when, what, purpose, why (oldest first).

    ``snapshots`` is what was read (for a bundle export: the snapshots whose rows it
    carried, None for an export recorded before exports listed them; for a model export
    none: a model file carries no rows, though it is derived from them).
    """
    out: list[dict[str, Any]] = []
    for seq, body in sorted(events, key=lambda e: e[0]):
        action, data = body.get("action"), body.get("data")
        if action not in ACCESS_ACTIONS or not isinstance(data, dict):
            continue
        entry: dict[str, Any] = {
            "seq": seq,
            "ts": body.get("ts"),
            "actor": body.get("actor"),
            "action": action,
            "reason": body.get("reason", ""),
            "data_level": None,
            "bundle_sha256": None,
            "target": data.get("target"),
        }
        if action == "bundle.export":
            entry.update(
                purpose="export",
                snapshots=data.get("rows_of"),
                columns=None,
                target=f"model:{data.get('model')}",
                data_level=data.get("data_level"),
                bundle_sha256=data.get("bundle_sha256"),
            )
        elif action == "model.export":
            entry.update(
                purpose="export", snapshots=[], columns=None, target=f"model:{data.get('model')}"
            )
        elif action == "data.reveal":
            entry.update(
                purpose="reveal", snapshots=[data.get("snapshot")], columns=[data.get("column")]
            )
        else:
            entry.update(
                purpose=data.get("purpose"),
                snapshots=[data.get("snapshot")],
                columns=data.get("columns"),
            )
        out.append(entry)
    return out


def _access(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    events: list[tuple[int, bytes, dict[str, Any]]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """Check the bundle's access log against its signed events (see the section above)."""
    entries = access_log([(seq, body) for seq, _, body in events])
    if ACCESS_LOG not in members:
        # None to carry, or a bundle made before the access log existed: the signed events
        # are here all the same, and this report lists them.
        if not entries:
            return [], entries
        return (
            [
                f"the bundle carries no {ACCESS_LOG} (exported before it existed); the "
                f"{_n(len(entries), 'read and export event')} of the excerpt "
                f"{'is' if len(entries) == 1 else 'are'} in this report"
            ],
            entries,
        )
    _compare_member(archive, members, ACCESS_LOG, ("entries",), {"entries": entries})
    reads = sum(1 for e in entries if e["purpose"] != "export")
    return (
        [
            f"{ACCESS_LOG} agrees with the signed events: {_n(reads, 'read')} of the bundled "
            f"data, {_n(len(entries) - reads, 'export')}"
        ],
        entries,
    )


def _rank(verdict: str) -> int:
    """A verdict's rank, worst highest; an unknown word ranks worst (never a pass)."""
    return _ORDER.index(verdict) if verdict in _ORDER else len(_ORDER)


def verdict(report: dict[str, Any]) -> tuple[int, list[str]]:
    """The exit code and closing lines for a report; ``ledgerml bundle verify`` prints the same."""
    lines: list[str] = []
    root_name = "organisation key" if report["format"] == FORMAT else "workspace key (format 1)"
    roots = ", ".join(report["organisation_keys"])
    if report["anchored"]:
        lines.append(f"VERIFIED: {report['model']}, anchored to {report['anchor']}")
        lines.append(f"  {root_name}: {roots}")
        code = EXIT_VERIFIED
    else:
        lines += [
            f"SELF-CONSISTENT but UNANCHORED: {report['model']}",
            "  Every check passed, but only against keys the bundle itself carries: whoever",
            "  could alter the bundle could have replaced them all. Nothing yet ties it to the",
            "  organisation.",
            f"  {root_name} in the bundle (SHA-256 fingerprint): {roots}",
            f"  manifest signed by key (SHA-256 fingerprint): {report['signing_key']}",
            "  Obtain the organisation's public key from the organisation itself, through",
            "  another channel than this bundle (handed over in person, or read out and",
            "  compared by fingerprint), then run again with --key ORG.pem.",
        ]
        code = EXIT_UNANCHORED
    for line in (report.get("operations") or {}).get("unverified") or []:
        lines.append(f"  NOT VERIFIED: {line}")
    if report.get("demo_identities"):
        lines.append(DEMO_NOTE)
    return code, lines


def main(argv: list[str]) -> int:
    """Command-line entry point: exit 0 verified and anchored, 1 unanchored, 3 rejected."""
    args, previous, pinned = list(argv), None, None
    again = "--recompute" in args
    if again:
        args.remove("--recompute")
    try:
        if "--checkpoint" in args:
            i = args.index("--checkpoint")
            with open(args[i + 1], encoding="utf-8") as handle:
                previous = json.load(handle)
            del args[i : i + 2]
        if "--key" in args:
            i = args.index("--key")
            with open(args[i + 1], encoding="utf-8") as handle:
                pinned = handle.read()
            del args[i : i + 2]
        (bundle,) = args
        report = verify(bundle, previous, pinned)
    except RejectedError as err:
        print(f"REJECTED: {err}")
        return EXIT_REJECTED
    except (ValueError, IndexError, OSError, PinError) as err:
        print(
            "usage: verify.py BUNDLE.zip [--checkpoint OLD.json] [--key ORG.pem] "
            f"[--recompute] ({err})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for line in report["checked"]:
        print(f"ok  {line}")
    code, lines = verdict(report)
    for line in lines:
        print(line)
    if again:
        held, figures = recompute_lines(recompute(bundle))
        for line in figures:
            print(line)
        if not held:
            return EXIT_REJECTED
    return code


# === decision-leaf/1: one logged decision as a Merkle leaf (the operations decision log) ====
#
# A ``decision.batch`` event signs the RFC 6962 root over its batch's leaves, in row order.
# A leaf's data is the tag ``decision-leaf/1`` then each field of DECISION_FIELDS, in that
# order, as ``<n>:<text>,`` (``n`` the UTF-8 byte length of ``text``) or ``-,`` for a null:
# strings as they are, booleans ``1``/``0``, integers in decimal, doubles as C's ``%.17g``
# (exact: it round-trips every double). The input columns (``in.*``) are not in the leaf:
# they are covered by the batch object's SHA-256 in the event, and a plain hash of personal
# data never enters the log. Attacks: a rewritten score, status or caller changes the leaf
# (the proof fails); a reordered batch changes the root; a forged root fails the event's
# signature; a row moved to another batch fails that batch's root.

DECISION_LEAF = "decision-leaf/1"
DECISION_FIELDS = (
    "request_id",
    "ts",
    "caller",
    "env",
    "deployment_id",
    "arm",
    "returned",
    "model",
    "model_digest",
    "policy_digest",
    "input_hmac",
    "status",
    "score",
    "label",
    "decision",
    "detail",
    "reasons",
    "latency_ms",
)


def _decision_field(value: Any) -> bytes:
    if value is None:
        return b"-,"
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = format(value, ".17g")
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"a decision field cannot be {type(value).__name__}")
    data = text.encode("utf-8")
    return b"%d:%s," % (len(data), data)


def decision_leaf_data(row: dict[str, Any]) -> bytes:
    """The ``decision-leaf/1`` data of one decision (a mapping with every DECISION_FIELDS)."""
    return DECISION_LEAF.encode() + b"".join(_decision_field(row[f]) for f in DECISION_FIELDS)


def decision_leaf_hash(row: dict[str, Any]) -> bytes:
    """The RFC 6962 leaf hash of one decision."""
    return hashlib.sha256(b"\x00" + decision_leaf_data(row)).digest()


def decision_included(
    row: dict[str, Any], index: int, size: int, path: list[str], root_hex: str
) -> bool:
    """Whether ``row`` is leaf ``index`` of the batch of ``size`` whose root is ``root_hex``."""
    return inclusion_ok(
        index,
        size,
        decision_leaf_hash(row),
        [bytes.fromhex(p) for p in path],
        bytes.fromhex(root_hex),
    )


# --- 11. Retention: rules, holds, erasures and retention runs ------------------------------
#
# ``privacy/retention.json`` is the retention and deletion log of the bundled version's data:
# the snapshots' own retention tags, every retention rule set, every legal hold placed and
# lifted, every erasure (with its receipt's digest) and every retention run, all derived by
# :func:`retention_log` from the signed events of the excerpt, which this verifier derives
# again and compares. It flags what an auditor must not miss: a run that counted expiry at
# a later instant than its own time (``--as-of``), and an erasure made before its retention
# had run out by the wall clock.

RETENTION = "privacy/retention.json"
RETENTION_FORMAT = "ledgerml/retention-log/v1"
RETENTION_ACTIONS = ("retention.set", "data.hold", "data.release", "data.erase", "retention.run")
EARLY = "erased before its retention expired by the wall clock"


def retention_log(events: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The retention and deletion log the signed events record (plain data, oldest first)."""
    snapshots: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    holds: dict[int, dict[str, Any]] = {}
    erasures: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    flags: list[str] = []
    for seq, body in events:
        action, data = body.get("action"), body.get("data")
        if not isinstance(data, dict):
            continue
        ts, actor, reason = body.get("ts"), body.get("actor"), body.get("reason", "")
        if action == "snapshot.add":
            snapshots.append(
                {
                    "snapshot": f"{data.get('dataset')}@{data.get('version')}",
                    "seq": seq,
                    "created_at": ts,
                    "tag": data.get("retention") or None,
                }
            )
        elif action == "retention.set":
            rules.append(
                {
                    "seq": seq,
                    "target": data.get("target"),
                    "period": data.get("period"),
                    "previous": data.get("previous"),
                    "ts": ts,
                    "actor": actor,
                    "reason": reason,
                }
            )
        elif action == "data.hold":
            holds[seq] = {
                "hold": seq,
                "target": data.get("target"),
                "placed_at": ts,
                "placed_by": actor,
                "reason": reason,
                "released_seq": None,
                "released_at": None,
                "released_by": None,
                "released_reason": None,
            }
        elif action == "data.release" and data.get("hold") in holds:
            holds[int(data["hold"])].update(
                released_seq=seq, released_at=ts, released_by=actor, released_reason=reason
            )
        elif action == "data.erase":
            as_of = data.get("as_of")
            erasures.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "actor": actor,
                    "target": data.get("target"),
                    "snapshots": data.get("snapshots") or [],
                    "decision_keys": data.get("decision_keys") or [],
                    "method": data.get("method"),
                    "legal_basis": data.get("legal_basis"),
                    "rule": data.get("rule"),
                    "receipt_digest": data.get("receipt_digest"),
                    "objects": len(data.get("objects") or []),
                    "as_of": as_of,
                    "reason": reason,
                }
            )
            if isinstance(as_of, str) and isinstance(ts, str) and as_of > ts:
                flags.append(
                    f"erasure #{seq} of {data.get('target')} counted expiry as of {as_of}, "
                    f"later than its own time {ts}"
                )
        elif action == "retention.run":
            as_of = data.get("as_of")
            run = {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "as_of": as_of,
                "erased": data.get("erased") or [],
                "decision_logs": data.get("decision_logs") or [],
                "held": data.get("held") or [],
                "refused": data.get("refused") or [],
                "reason": reason,
            }
            runs.append(run)
            if isinstance(as_of, str) and isinstance(ts, str) and as_of > ts:
                flags.append(
                    f"retention run #{seq} counted expiry as of {as_of}, later than its own "
                    f"time {ts}"
                )
            for item in [*run["erased"], *run["decision_logs"]]:
                if not isinstance(item, dict):
                    continue
                ends, what = (
                    item.get("expires_at"),
                    item.get("snapshot") or item.get("deployment_id"),
                )
                if isinstance(ends, str) and isinstance(ts, str) and ends > ts:
                    flags.append(
                        f"{what} (erasure #{item.get('erasure')}) was {EARLY}: its retention "
                        f"ends {ends}, the run was at {ts}"
                    )
    return {
        "snapshots": snapshots,
        "rules": rules,
        "holds": [holds[k] for k in sorted(holds)],
        "erasures": erasures,
        "runs": runs,
        "flags": flags,
    }


RETENTION_KEYS = ("snapshots", "rules", "holds", "erasures", "runs", "flags")


def _retention(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    events: list[tuple[int, bytes, dict[str, Any]]],
) -> list[str]:
    """Check ``privacy/retention.json`` against the signed events (see the section above)."""
    derived = retention_log([(seq, body) for seq, _, body in events])
    recorded = sum(len(derived[k]) for k in ("rules", "holds", "erasures", "runs"))
    if RETENTION not in members:
        if recorded:
            raise RejectedError(
                f"the ledger excerpt records {recorded} retention "
                + (
                    "rule, hold, erasure or run"
                    if recorded == 1
                    else "rules, holds, erasures or runs"
                )
                + f", but the bundle carries no {RETENTION}"
            )
        return []
    try:
        doc = json.loads(archive.read(members[RETENTION]))
        carried = {k: doc[k] for k in RETENTION_KEYS}
    except (KeyError, ValueError, TypeError) as err:
        raise RejectedError(f"{RETENTION} is malformed: {err!r}") from err
    for k in RETENTION_KEYS:
        if carried[k] != derived[k]:
            raise RejectedError(
                f"{RETENTION} is not what the signed events record ({k}: {len(carried[k])} "
                f"listed, {len(derived[k])} recorded, or an entry edited)"
            )
    active = sum(1 for h in derived["holds"] if h["released_seq"] is None)
    line = (
        f"{RETENTION} agrees with the signed events: {_n(len(derived['rules']), 'rule')}, "
        f"{_n(len(derived['holds']), 'hold')} ({active} in force), "
        f"{_n(len(derived['erasures']), 'erasure')}, {_n(len(derived['runs']), 'retention run')}"
    )
    if derived["flags"]:
        line += f"; {_n(len(derived['flags']), 'flag')}: " + "; ".join(derived["flags"])
    return [line]


# === 11. Privacy: deletion receipts ========================================================
#
# An erasure is one signed ``data.erase`` event; its deletion receipt (canonical JSON, stored
# as an object) says what was made unreadable, why, under which rule and policy decision,
# by whom, when, how, and who had carried the data out before. A bundle carries each
# receipt of the erasures in its excerpt as ``privacy/receipt-<seq>.json``. Attacks each
# check answers: a forged receipt (its SHA-256 is not the digest the signed event names); a
# receipt edited to claim more or other things were erased, or a kinder method, legal basis
# or approver (its claims must equal the event's, field by field); a receipt left out of the
# bundle (every included erasure must have its receipt); a receipt whose method contradicts
# its own copies (crypto-shred only when every copy had a data key, each key destroyed).

RECEIPT_FORMAT = "ledgerml/deletion-receipt/v1"
RECEIPT_PREFIX = "privacy/receipt-"
ERASE_ACTION = "data.erase"


def receipt_member(seq: int) -> str:
    """The bundle member holding the receipt of the erasure recorded at event ``seq``."""
    return f"{RECEIPT_PREFIX}{seq}.json"


def _at(doc: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def receipt_problems(receipt: Any, seq: int, body: dict[str, Any]) -> list[str]:
    """How a deletion receipt disagrees with its signed ``data.erase`` event (empty: none).

    The workstation's ``audit verify`` and this verifier both call it, so they agree.
    """
    if not isinstance(receipt, dict):
        return ["it is not a JSON object"]
    if receipt.get("format") != RECEIPT_FORMAT:
        return [f"its format is {receipt.get('format')!r}, not {RECEIPT_FORMAT!r}"]
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
    objects = _at(receipt, "what", "objects")
    carried = receipt.get("carried_by")
    listed = [o.get("sha256") if isinstance(o, dict) else None for o in objects or []]
    decision = body.get("policy")
    recorded = _at(receipt, "approved_by", "policy")
    claims: list[tuple[str, Any, Any]] = [
        ("event", receipt.get("event"), seq),
        ("when", receipt.get("when"), body.get("ts")),
        ("approved_by.actor", _at(receipt, "approved_by", "actor"), body.get("actor")),
        ("why.reason", _at(receipt, "why", "reason"), body.get("reason")),
        ("why.legal_basis", _at(receipt, "why", "legal_basis"), data.get("legal_basis")),
        ("why.rule", _at(receipt, "why", "rule"), data.get("rule")),
        ("why.as_of", _at(receipt, "why", "as_of"), data.get("as_of")),
        ("what.target", _at(receipt, "what", "target"), data.get("target")),
        ("what.snapshots", _at(receipt, "what", "snapshots"), data.get("snapshots")),
        ("what.keys", _at(receipt, "what", "keys"), data.get("keys")),
        ("what.objects", listed if isinstance(objects, list) else None, data.get("objects")),
        ("method", receipt.get("method"), data.get("method")),
        ("models", receipt.get("models"), data.get("models")),
        (
            "carried_by",
            [c.get("seq") if isinstance(c, dict) else None for c in carried]
            if isinstance(carried, list)
            else None,
            data.get("carried_by"),
        ),
        ("subject", receipt.get("subject"), data.get("subject")),
        ("replaced_by", receipt.get("replaced_by"), data.get("replaced_by")),
    ]
    if isinstance(decision, dict):
        claims += [
            (f"approved_by.policy.{k}", _at(recorded, k), decision.get(k))
            for k in ("gate", "bundle", "allow", "reasons")
        ]
    else:
        claims.append(("approved_by.policy", recorded, None))
    out = [
        f"its {name} is {mine!r}, the signed event says {theirs!r}"
        for name, mine, theirs in claims
        if mine != theirs
    ]
    if isinstance(objects, list) and not out:
        keys = set(data.get("keys") or [])
        methods = {o.get("method") for o in objects if isinstance(o, dict)}
        shredded = [o for o in objects if isinstance(o, dict) and o.get("method") == "crypto-shred"]
        if any(o.get("key") not in keys for o in shredded):
            out.append("a copy it calls crypto-shredded names a key the event did not destroy")
        if data.get("method") == "crypto-shred" and methods - {"crypto-shred"}:
            out.append("it says crypto-shred, but some copies were only deleted")
    return out


def _receipts(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    events: list[tuple[int, bytes, dict[str, Any]]],
) -> list[str]:
    """Every erasure in the excerpt has its receipt, and each receipt is its event's."""
    erasures = {seq: body for seq, _, body in events if body.get("action") == ERASE_ACTION}
    present = {n for n in members if n.startswith(RECEIPT_PREFIX)}
    for name in sorted(present):
        stem = name[len(RECEIPT_PREFIX) : -len(".json")] if name.endswith(".json") else ""
        if not stem.isdigit() or int(stem) not in erasures:
            raise RejectedError(f"{name} is the receipt of no data.erase event in the bundle")
    for seq, body in sorted(erasures.items()):
        name = receipt_member(seq)
        if name not in members:
            raise RejectedError(f"the erasure at event #{seq} has no receipt ({name} is missing)")
        raw = archive.read(members[name])
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        if _sha256(raw) != data.get("receipt_digest"):
            raise RejectedError(
                f"{name} is not the receipt the signed event #{seq} names: its sha256 "
                f"{_sha256(raw)[:16]}… differs from {str(data.get('receipt_digest'))[:16]}…"
            )
        try:
            receipt = json.loads(raw)
        except ValueError as err:
            raise RejectedError(f"{name} is not JSON: {err}") from err
        problems = receipt_problems(receipt, seq, body)
        if problems:
            raise RejectedError(f"{name} disagrees with its signed event #{seq}: {problems[0]}")
    if not erasures:
        return []
    return [
        f"{_n(len(erasures), 'deletion receipt')} "
        + (
            "is the one its signed data.erase event names, and claims what the event records"
            if len(erasures) == 1
            else "are the ones their signed data.erase events name, and claim what the events "
            "record"
        )
    ]


def _report_pdfs(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    listed: dict[str, dict[str, Any]],
    digests: dict[str, tuple[str, int]],
    events: list[tuple[int, bytes, dict[str, Any]]],
) -> list[str]:
    """Every report PDF is a PDF of a report beside it; a recorded one is its event's own.

    Its bytes are already held to the signed manifest; this says what they are. This machine
    has only the bundle, so the verifier cannot lay the report out again: a PDF the export
    made is vouched for by the manifest's signature, and one a ``report.*`` event recorded
    must be the PDF that event pairs with the Markdown beside it.
    """
    recorded: dict[str, str] = {}  # a recorded PDF's digest -> its Markdown's
    for _, _, body in events:
        data = body.get("data")
        report = str(body.get("action", "")).startswith("report.")
        if report and isinstance(data, dict) and data.get("pdf"):
            recorded[str(data["pdf"])] = str(data.get("markdown"))
    pdfs = sorted(n for n in members if n.startswith("reports/") and n.endswith(".pdf"))
    as_recorded = 0
    for name in pdfs:
        raw = archive.read(members[name])
        if not raw.startswith(b"%PDF-") or b"%%EOF" not in raw[-1024:]:
            raise RejectedError(f"{name} is not a PDF document")
        markdown = name[: -len(".pdf")] + ".md"
        if markdown not in members:
            raise RejectedError(f"{name} is the PDF of no report in the bundle ({markdown})")
        if listed[name].get("ledger_object"):
            if recorded.get(digests[name][0]) != digests[markdown][0]:
                raise RejectedError(
                    f"{name} is not the PDF its signed report event records for {markdown}"
                )
            as_recorded += 1
    if not pdfs:
        return []
    return [
        f"{_n(len(pdfs), 'report PDF')} "
        + (
            f"is a PDF, beside its Markdown, and {'is' if as_recorded else 'is not'} "
            if len(pdfs) == 1
            else f"are PDFs, each beside its Markdown; {as_recorded} of them "
        )
        + "the very PDF its signed report event records with that Markdown"
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
