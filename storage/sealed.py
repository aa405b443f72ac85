"""Authenticated encryption at rest: sealed byte streams and encrypted Parquet files.

Two formats, both AES-256-GCM under a key the caller holds (the store never sees where keys
live, nor who may use them):

- **Sealed streams** (raw files). ``cryptography`` has no streaming AEAD, so the stream is
  cut into segments, each sealed on its own, as Tink's streaming AEAD and the STREAM
  construction do: the nonce of segment *i* is ``prefix(7) || i(4, big-endian) || last(1)``,
  the associated data is the header plus the caller's ``aad`` (what the bytes are, so a
  sealed object cannot be passed off as another). Reordering or dropping a segment changes
  its counter, cutting the stream loses the segment flagged last: every one of them fails
  authentication, none is decrypted silently. Layout::

      MAGIC(8) | prefix(7) | segment size(4) | segment_0 + tag | … | segment_n + tag

- **Encrypted Parquet** (the canonical copy of a table): the Parquet Modular Encryption
  standard as pyarrow implements it, every column and the footer encrypted (AES-GCM, with
  module ordinals in the associated data, so swapped pages or row groups and a cut footer
  are detected). Its per-file keys are wrapped under the caller's key by :class:`_Wrap`;
  destroying that key makes the file unreadable.

Plaintext never goes to a file here: sealing reads the source and writes ciphertext,
opening yields plaintext to memory, and the Parquet helpers hand DuckDB a pyarrow dataset
that decrypts page by page as it is scanned.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from storage.errors import IntegrityError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds

MAGIC = b"LMSEAL1\n"
SEGMENT = 1 << 20
"""Plaintext bytes per sealed segment: large enough to run at memory speed, small enough to
hold one in memory."""
_TAG = 16
_HEADER = struct.Struct(">8s7sI")
KEY_BYTES = 32
PARQUET_SCHEME = "parquet-modular-encryption/aes-gcm-v1"
STREAM_SCHEME = "aes-256-gcm-stream/1"


def _aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(key) != KEY_BYTES:
        raise ValueError("a data key is 32 bytes")
    return AESGCM(key)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def seal(source: IO[bytes], target: IO[bytes], key: bytes, aad: bytes) -> int:
    """Seal everything ``source`` yields into ``target``; the plaintext byte count."""
    aead = _aead(key)
    prefix = os.urandom(7)
    header = _HEADER.pack(MAGIC, prefix, SEGMENT)
    target.write(header)
    ad = header + aad
    total, index = 0, 0
    chunk = source.read(SEGMENT)
    while True:
        following = source.read(SEGMENT) if len(chunk) == SEGMENT else b""
        last = not following
        target.write(aead.encrypt(_nonce(prefix, index, last), chunk, ad))
        total += len(chunk)
        if last:
            return total
        if index == 0xFFFFFFFF:
            raise ValueError("a sealed stream holds at most 2^32 segments")
        chunk, index = following, index + 1


def seal_file(source: Path, target: IO[bytes], key: bytes, aad: bytes) -> int:
    """:func:`seal` from a file by path."""
    with source.open("rb") as handle:
        return seal(handle, target, key, aad)


def unseal(path: Path, key: bytes, aad: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed file, segment by segment, each authenticated first.

    Raises:
        IntegrityError: if the header, any segment or the stream's end does not authenticate
            (tampered, reordered, truncated, or sealed for other ``aad``), or the key is wrong.
    """
    from cryptography.exceptions import InvalidTag

    aead = _aead(key)
    with path.open("rb") as handle:
        header = handle.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise IntegrityError(f"{path.name} is not a sealed object (too short)")
        magic, prefix, size = _HEADER.unpack(header)
        if magic != MAGIC or not 0 < size <= 1 << 26:
            raise IntegrityError(f"{path.name} is not a sealed object")
        ad = header + aad
        index = 0
        block = handle.read(size + _TAG)
        while True:
            following = handle.read(size + _TAG) if len(block) == size + _TAG else b""
            last = not following
            try:
                yield aead.decrypt(_nonce(prefix, index, last), block, ad)
            except InvalidTag:
                raise IntegrityError(
                    f"{path.name}: segment {index} does not authenticate (tampered, "
                    "reordered or truncated bytes, or the wrong key)"
                ) from None
            if last:
                return
            block, index = following, index + 1


def _wrap_factory(key: bytes, key_id: str) -> Any:
    """A pyarrow crypto factory whose only master key is ``key``, named ``key_id``."""
    import pyarrow.parquet.encryption as pe

    class _Wrap(pe.KmsClient):  # type: ignore[misc]
        """Wraps the file's own keys under the caller's key (AES-GCM, the id as AAD)."""

        def __init__(self, _config: Any) -> None:
            super().__init__()

        def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
            if master_key_identifier != key_id:
                raise ValueError(f"no key {master_key_identifier!r}")
            nonce = os.urandom(12)
            sealed = _aead(key).encrypt(nonce, key_bytes, key_id.encode())
            return base64.b64encode(nonce + sealed).decode()

        def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
            from cryptography.exceptions import InvalidTag

            if master_key_identifier != key_id:
                raise IntegrityError(
                    f"the Parquet file is encrypted under key {master_key_identifier!r}, "
                    f"not {key_id!r}"
                )
            raw = base64.b64decode(wrapped_key)
            try:
                return bytes(_aead(key).decrypt(raw[:12], raw[12:], key_id.encode()))
            except InvalidTag:
                raise IntegrityError(
                    f"the Parquet file's key does not unwrap under data key {key_id}"
                ) from None

    return pe.CryptoFactory(_Wrap), pe.KmsConnectionConfig()


def write_parquet(
    reader: pa.RecordBatchReader, target: IO[bytes], key: bytes, key_id: str, row_group: int
) -> int:
    """Write every batch of ``reader`` as one encrypted Parquet file (zstd); the row count."""
    import pyarrow.parquet as pq
    import pyarrow.parquet.encryption as pe

    factory, connection = _wrap_factory(key, key_id)
    config = pe.EncryptionConfiguration(
        footer_key=key_id,
        uniform_encryption=True,
        plaintext_footer=False,
        double_wrapping=False,
        data_key_length_bits=256,
        encryption_algorithm="AES_GCM_V1",
    )
    props = factory.file_encryption_properties(connection, config)
    rows = 0
    with pq.ParquetWriter(
        target, reader.schema, compression="zstd", encryption_properties=props
    ) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=row_group)
            rows += batch.num_rows
    return rows


def parquet_dataset(path: Path, key: bytes, key_id: str) -> ds.Dataset:
    """An encrypted Parquet file as a pyarrow dataset that decrypts as it is scanned.

    Raises:
        IntegrityError: if the footer does not authenticate under ``key`` (tampered, cut,
            or another key).
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet.encryption as pe

    factory, connection = _wrap_factory(key, key_id)
    decryption = ds.ParquetDecryptionConfig(factory, connection, pe.DecryptionConfiguration())
    fmt = ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(decryption_config=decryption)
    )
    try:
        return ds.dataset(str(path), format=fmt)
    except (OSError, ValueError) as err:
        raise IntegrityError(
            f"{path.name}: the encrypted Parquet file does not authenticate ({err})"
        ) from None


def read_table(path: Path, key: bytes, key_id: str, columns: list[str] | None = None) -> pa.Table:
    """An encrypted Parquet file read whole into memory, every page authenticated.

    Raises:
        IntegrityError: if the footer or any page does not authenticate (tampered, cut,
            swapped or appended bytes, or another key).
    """
    dataset = parquet_dataset(path, key, key_id)
    try:
        return dataset.to_table(columns=columns)
    except OSError as err:
        raise IntegrityError(
            f"{path.name}: a page of the encrypted Parquet file does not authenticate ({err})"
        ) from None
