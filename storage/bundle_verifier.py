"""Verify a ledgerml audit bundle with nothing but Python and the `cryptography` package.

This file is copied verbatim into every bundle as ``verify.py``, and ``ledgerml bundle
verify`` runs this same code, so both always reach the same verdict. Read it top to bottom:

1. Open the zip without extracting anything, and refuse unsafe archives (absolute paths,
   ``..``, backslashes, symlinks, duplicate names, too many members, zip bombs).
2. Check the manifest's DSSE signature with the workspace key listed in the bundle (or a key
   you pin with ``--key``), and that the key was not revoked before the export.
3. Check every member against the manifest (SHA-256 and size), and that nothing was added,
   removed or renamed.
4. Check the signed checkpoint, then every ledger event's Merkle inclusion proof against it,
   and that every evidence member is named by an included event.
5. With ``--checkpoint OLD.json`` (a checkpoint you saw before), check the log only grew.

Usage: ``python verify.py BUNDLE.zip [--checkpoint OLD.json] [--key WORKSPACE_KEY.pem]``.
Exit code 0 verified, 3 rejected, 2 usage error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import struct
import sys
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

FORMAT = "ledgerml-bundle/v1"
MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.dsse.json"
MANIFEST_TYPE = "application/vnd.ledgerml.bundle-manifest+json"
CHECKPOINT_TYPE = "application/vnd.ledgerml.checkpoint+json"
MAX_MEMBERS = 100_000
MAX_TOTAL = 64 * 1024**3
MAX_RATIO = 200


class RejectedError(Exception):
    """The bundle does not verify; the message says exactly what failed."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_signature(pem: str, message: bytes, signature: bytes) -> bool:
    """ECDSA P-256/SHA-256 (DER) or Ed25519 signature check with a PEM public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key = serialization.load_pem_public_key(pem.encode())
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
        with zipfile.ZipFile(writer, "w") as canonical:  # type: ignore[call-overload]
            for name in sorted(members):
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
        if compare.mismatch >= 0:
            raise RejectedError(
                f"byte {compare.mismatch} of the archive differs from its "
                "canonical layout: the file was altered after export"
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


def verify(
    path: str, previous: dict[str, Any] | None = None, pinned_key: str | None = None
) -> dict[str, Any]:
    """Verify a bundle; return what was checked. Raises RejectedError naming the failure."""
    try:
        return _verify(path, previous, pinned_key)
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


def _verify(path: str, previous: dict[str, Any] | None, pinned_key: str | None) -> dict[str, Any]:
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
        for required in (MANIFEST, MANIFEST_SIG):
            if required not in members:
                raise RejectedError(f"{required} is missing")
        manifest_raw = archive.read(members[MANIFEST])
        try:
            manifest = json.loads(manifest_raw)
            listed = {m["path"]: m for m in manifest["members"]}
            keys = {k["key_id"]: k for k in json.loads(archive.read(members["keys/keys.json"]))}
        except (KeyError, ValueError, TypeError) as err:
            raise RejectedError(f"manifest or key list is malformed: {err!r}") from err
        if manifest.get("format") != FORMAT:
            raise RejectedError(f"unknown bundle format {manifest.get('format')!r}")
        ws_key = keys.get(manifest.get("signed_by", ""))
        if ws_key is None or ws_key.get("purpose") != "workspace":
            raise RejectedError(
                "the manifest is signed by a key the bundle does not list as the workspace key"
            )
        if pinned_key is not None and ws_key["public_pem"].strip() != pinned_key.strip():
            raise RejectedError("the manifest is signed by another key than the one you pinned")
        if ws_key["status"] == "revoked" and ws_key["status_seq"] <= manifest["exported_at"]:
            raise RejectedError(
                f"the manifest is signed by key {ws_key['key_id'][:16]}, revoked "
                f"at event #{ws_key['status_seq']} before the export"
            )
        signed = open_envelope(
            archive.read(members[MANIFEST_SIG]), MANIFEST_TYPE, ws_key["public_pem"], "manifest"
        )
        if signed != manifest_raw:
            raise RejectedError("manifest.json is not the manifest that was signed")
        checked.append(
            f"manifest signed by workspace key {ws_key['key_id'][:16]}… ({ws_key['status']})"
        )
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
        checked.append(f"{len(listed)} members match their SHA-256 and size")

        cp_payload = open_envelope(
            archive.read(members["ledger/checkpoint.json"]),
            CHECKPOINT_TYPE,
            ws_key["public_pem"],
            "checkpoint",
        )
        checkpoint = json.loads(cp_payload)
        if checkpoint.get("workspace") != manifest.get("workspace"):
            raise RejectedError("the checkpoint belongs to another workspace")
        root = bytes.fromhex(checkpoint["root"])
        size = int(checkpoint["size"])
        proofs = json.loads(archive.read(members["ledger/proofs.json"]))
        lines = archive.read(members["ledger/events.jsonl"]).decode().splitlines()
        named: set[str] = set()
        for line in lines:
            seq_text = line.split(" ", 1)[0]
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
            body = json.loads(line.split(" ", 2)[2])
            named.update(o["sha256"] for o in body.get("objects", []))
        checked.append(
            f"{len(lines)} ledger events proven included under checkpoint "
            f"#{size} (root {checkpoint['root'][:16]}…)"
        )
        for name, entry in sorted(listed.items()):
            if entry.get("ledger_object") and entry["sha256"] not in named:
                raise RejectedError(
                    f"evidence member {name!r} is not named by any event included "
                    "under the checkpoint"
                )
        checked.append("every evidence member is named by an included event")

        if previous is not None:
            old_payload = open_envelope(
                json.dumps(previous).encode(),
                CHECKPOINT_TYPE,
                ws_key["public_pem"],
                "your earlier checkpoint",
            )
            old = json.loads(old_payload)
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
    return {
        "verified": True,
        "checked": checked,
        "model": manifest.get("model"),
        "workspace_key": ws_key["key_id"],
        "checkpoint_size": size,
    }


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    args, previous, pinned = list(argv), None, None
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
    except (ValueError, IndexError, OSError) as err:
        print(
            f"usage: verify.py BUNDLE.zip [--checkpoint OLD.json] [--key KEY.pem] ({err})",
            file=sys.stderr,
        )
        return 2
    try:
        report = verify(bundle, previous, pinned)
    except RejectedError as err:
        print(f"REJECTED: {err}")
        return 3
    for line in report["checked"]:
        print(f"ok  {line}")
    print(f"VERIFIED: {report['model']} (workspace key {report['workspace_key']})")
    if pinned is None:
        print(
            "note: compare the workspace key id above with the one the provider published, "
            "or pin it with --key"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
