"""The projector: the generic fold that turns ledger events into catalog rows.

The handlers live with their contexts (``core/<context>/events.py``), registered in
:mod:`core.kernel.kinds`; this module decodes each event's typed payload and dispatches to
its kind's handler. An action no context declares only enters the event index. Events are applied in
batches inside one catalog transaction that also records the last applied event, so the
catalog is always exactly the fold of a prefix of the ledger. Replaying the whole ledger into
an empty catalog (``ledgerml rebuild``) gives the same rows as applying events one by one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.kernel import kinds
from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, EventKind
from core.kernel.rows import ObjectRow
from storage.errors import IntegrityError
from storage.ledger import LedgerEntry


def _guarded(kind: EventKind[Any], catalog: Catalog, seq: int, body: Body) -> None:
    """Decode and fold one event; a body that does not fit is an integrity failure."""
    assert kind.project is not None
    try:
        kind.project(catalog, seq, body, kind.decode(body))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise IntegrityError(
            f"event #{seq} ({body.get('action')!r}) is malformed: {err!r}",
            hint="The ledger was written outside ledgerml; run `ledgerml audit verify`.",
        ) from err


def apply_state(catalog: Catalog, seq: int, body: Body) -> None:
    """Fold one event into the state tables only (not the event index); used by verify."""
    kind = kinds.registry().get(body.get("action", ""))
    if kind is not None and kind.project is not None:
        _guarded(kind, catalog, seq, body)


def project(catalog: Catalog, entries: Sequence[LedgerEntry]) -> None:
    """Fold ``entries`` (consecutive, after the catalog's position) into the catalog."""
    if not entries:
        return
    rows: list[dict[str, Any]] = []
    with catalog.transaction():
        for entry in entries:
            try:
                body = json.loads(entry.body)
                row = {
                    "seq": entry.seq,
                    "hash": entry.hash,
                    "ts": body["ts"],
                    "actor": body["actor"],
                    "action": body["action"],
                    "subjects": body["subjects"],
                    "reason": body["reason"],
                    "body": entry.body.decode(),
                }
            except (ValueError, KeyError, TypeError) as err:
                raise IntegrityError(
                    f"event #{entry.seq} is malformed: {err!r}", hint="Run `ledgerml audit verify`."
                ) from err
            rows.append(row)
            apply_state(catalog, entry.seq, body)
            try:
                objects = [
                    ObjectRow(
                        digest=o["sha256"],
                        size=o["size"],
                        media_type=o["media_type"],
                        seq=entry.seq,
                    )
                    for o in body.get("objects", ())
                ]
            except (KeyError, TypeError) as err:
                raise IntegrityError(
                    f"event #{entry.seq} lists a malformed object: {err!r}",
                    hint="Run `ledgerml audit verify`.",
                ) from err
            for obj in objects:
                catalog.put_object(obj)
        catalog.insert_events(rows)
        catalog.set_applied(entries[-1].seq, entries[-1].hash)
