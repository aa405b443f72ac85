"""Bundle benchmark: export of the sample model's bundle, and verification of a bundle that
carries a 1 GiB data member. Prints figures; asserts nothing. Needs a keyring.

The export is the real one (sample pipeline). For the verify figure, a 1 GiB member is
added to that bundle and the manifest re-signed with the workspace key, so the bundle has
the shape a 1 GiB snapshot gives it without spending minutes training on such a table.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import (
    admin,
    audit,
    bundle,
    evaluation,
    features,
    keys,
    models,
    snapshots,
    training,
    validation,
)
from core.signing import pae
from storage import bundle_verifier
from storage.canonical import canonical_bytes

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "german-credit"
GIB = 1024**3


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bundle-bench-"))
    ws = admin.init(tmp / "ws", "bench")
    snapshots.add(ws, "bench", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "bench", SAMPLE / "features.toml")
    validation.run(ws, "bench", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "bench", SAMPLE / "train.toml")
    models.register(ws, "bench", run.run_id, "credit-risk")
    keys.create(ws, "bench")
    models.sign(ws, "bench", "credit-risk@1")
    evaluation.evaluate(ws, "bench", "credit-risk@1", SAMPLE / "evaluation.toml")
    times = []
    for i in range(3):
        t0 = time.perf_counter()
        bundle.export(ws, "bench", "credit-risk@1", tmp / f"b{i}.zip")
        times.append(time.perf_counter() - t0)
    small = tmp / "b0.zip"
    print(
        f"export of the sample bundle ({small.stat().st_size / 1e6:.1f} MB): "
        f"median {statistics.median(times):.2f} s"
    )

    with zipfile.ZipFile(small) as archive:
        entries = {i.filename: archive.read(i) for i in archive.infolist()}
    big = os.urandom(GIB)
    entries["data/big-snapshot.parquet"] = big
    manifest = json.loads(entries["manifest.json"])
    manifest["members"].append(
        {
            "path": "data/big-snapshot.parquet",
            "sha256": hashlib.sha256(big).hexdigest(),
            "size": GIB,
            "media_type": "application/vnd.apache.parquet",
            "ledger_object": False,
        }
    )
    manifest["members"].sort(key=lambda m: m["path"])
    raw = canonical_bytes(manifest)
    with ws.session() as s:
        key = audit.workspace_key(s.catalog)
    sig = keys.sign_with(key, pae(bundle_verifier.MANIFEST_TYPE, raw))
    entries["manifest.json"] = raw
    entries["manifest.dsse.json"] = canonical_bytes(
        {
            "payloadType": bundle_verifier.MANIFEST_TYPE,
            "payload": base64.b64encode(raw).decode(),
            "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(sig).decode()}],
        }
    )
    large = tmp / "large.zip"
    t0 = time.perf_counter()
    with (
        large.open("wb") as handle,
        zipfile.ZipFile(bundle_verifier.AppendOnly(handle), "w") as archive,
    ):  # type: ignore[call-overload]
        for name in sorted(entries):
            info, zip64 = bundle_verifier.canonical_info(name, len(entries[name]))
            with archive.open(info, "w", force_zip64=zip64) as dst:
                dst.write(entries[name])
    print(f"writing the 1 GiB bundle (canonical layout): {time.perf_counter() - t0:.2f} s")
    del big, entries
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = bundle_verifier.verify(str(large))
        runs.append(time.perf_counter() - t0)
        assert report["verified"]
    med = statistics.median(runs)
    size = large.stat().st_size
    print(
        f"verify of a {size / GIB:.2f} GiB bundle: median {med:.2f} s = "
        f"{size / med / 1e9:.2f} GB/s (target >= 0.8 GB/s)"
    )
    t0 = time.perf_counter()
    digest = hashlib.sha256()
    with large.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    floor = time.perf_counter() - t0
    print(f"floor: SHA-256 of the same file alone: {floor:.2f} s = {size / floor / 1e9:.2f} GB/s")


if __name__ == "__main__":
    main()
