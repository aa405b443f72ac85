"""The projector: the only code that turns ledger events into catalog rows.

Each handler folds one kind of event into the tables it affects. Events are applied in
batches inside one catalog transaction that also records the last applied event, so the
catalog is always exactly the fold of a prefix of the ledger. Replaying the whole ledger into
an empty catalog (``ledgerml rebuild``) gives the same rows as applying events one by one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.rows import (
    ActorRow,
    EdgeRow,
    EvaluationRow,
    KeyRow,
    ModelRow,
    ObjectRow,
    ReproductionRow,
    RunRow,
    SignatureRow,
    SnapshotRow,
    ValidationRow,
)
from storage.errors import IntegrityError
from storage.ledger import LedgerEntry

Body = dict[str, Any]
Handler = Callable[[Catalog, int, Body], None]
HANDLERS: dict[str, Handler] = {}


def handles(action: str) -> Callable[[Handler], Handler]:
    """Register a handler for one action."""

    def register(fn: Handler) -> Handler:
        HANDLERS[action] = fn
        return fn

    return register


def _put_key(cat: Catalog, seq: int, body: Body, key: Body) -> None:
    cat.put(
        KeyRow(
            key_id=key["key_id"],
            actor=key["actor"],
            purpose=key["purpose"],
            backend=key["backend"],
            algorithm=key["algorithm"],
            label=key["label"],
            handle=key["handle"],
            public_key_digest=key["public_key_digest"],
            public_pem=key["public_pem"],
            status="active",
            created_seq=seq,
            created_at=body["ts"],
        )
    )


def _put_actor(cat: Catalog, seq: int, body: Body, name: str, roles: list[str]) -> None:
    existing = cat.actor(name)
    cat.put(
        ActorRow(
            name=name,
            roles=sorted(roles),
            created_seq=existing.created_seq if existing else seq,
            created_at=existing.created_at if existing else body["ts"],
            created_by=existing.created_by if existing else body["actor"],
            updated_seq=seq,
        )
    )


@handles("workspace.init")
def _workspace_init(cat: Catalog, seq: int, body: Body) -> None:
    data = body["data"]
    _put_actor(cat, seq, body, data["founder"], data["roles"])
    _put_key(cat, seq, body, data["key"])


@handles("actor.add")
def _actor_add(cat: Catalog, seq: int, body: Body) -> None:
    _put_actor(cat, seq, body, body["data"]["name"], body["data"]["roles"])


@handles("key.create")
def _key_create(cat: Catalog, seq: int, body: Body) -> None:
    _put_key(cat, seq, body, body["data"]["key"])


def _set_status(
    cat: Catalog, seq: int, body: Body, key_id: str, status: str, replaced_by: str | None
) -> None:
    row = cat.key(key_id)
    if row is None:  # verify reports this; the projector does not invent keys
        return
    row.status = status
    row.status_seq = seq
    row.status_at = body["ts"]
    row.status_reason = body["reason"]
    row.replaced_by = replaced_by
    cat.put(row)


@handles("key.rotate")
def _key_rotate(cat: Catalog, seq: int, body: Body) -> None:
    new = body["data"]["key"]
    _put_key(cat, seq, body, new)
    _set_status(cat, seq, body, body["data"]["old_key_id"], "rotated", new["key_id"])


@handles("key.revoke")
def _key_revoke(cat: Catalog, seq: int, body: Body) -> None:
    _set_status(cat, seq, body, body["data"]["key_id"], "revoked", None)


@handles("snapshot.add")
def _snapshot_add(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    ref = f"{d['dataset']}@{d['version']}"
    cat.put(
        SnapshotRow(
            ref=ref,
            dataset=d["dataset"],
            version=d["version"],
            kind=d["kind"],
            format=d["dialect"]["format"],
            dialect=json.dumps(d["dialect"], sort_keys=True),
            raw_digest=d.get("raw_digest"),
            parquet_digest=d["parquet_digest"],
            table_digest=d["table_digest"],
            profile_digest=d["profile_digest"],
            rows=d["rows"],
            columns=json.dumps(d["columns"]),
            provenance=json.dumps(d["provenance"], sort_keys=True),
            pii=d["pii"],
            sensitive=d["sensitive"],
            retention=d["retention"],
            transform_digest=d.get("transform_digest"),
            created_seq=seq,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body["reason"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(src=f"snapshot:{ref}", dst=dst, relation=rel, seq=seq)
            for dst, rel in d.get("lineage", [])
        ]
    )


@handles("validation.run")
def _validation_run(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    cat.put(
        ValidationRow(
            seq=seq,
            snapshot=d["snapshot"],
            suite_name=d["suite_name"],
            suite_digest=d["suite_digest"],
            result_digest=d["result_digest"],
            passed=d["passed"],
            errors=d["errors"],
            warnings=d["warnings"],
            checks=d["checks"],
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(
                src=f"validation:{seq}",
                dst=f"snapshot:{d['snapshot']}",
                relation="validates",
                seq=seq,
            ),
            EdgeRow(
                src=f"validation:{seq}",
                dst=f"sha256:{d['suite_digest']}",
                relation="uses-suite",
                seq=seq,
            ),
        ]
    )


@handles("train.run")
def _train_run(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    cat.put(
        RunRow(
            run_id=d["run_id"],
            seq=seq,
            name=d["name"],
            input_ref=d["input"]["ref"],
            input_table_digest=d["input"]["table_digest"],
            spec_digest=d["spec_digest"],
            environment_digest=d["environment_digest"],
            model_digest=d["model_digest"],
            predictions_digest=d["predictions_digest"],
            metrics=json.dumps(d["metrics"]),
            estimator=d["estimator"],
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    run = f"run:{d['run_id']}"
    cat.put_edges(
        [
            EdgeRow(src=run, dst=f"snapshot:{d['input']['ref']}", relation="trained-on", seq=seq),
            EdgeRow(
                src=run,
                dst=f"validation:{d['gate']['validation_seq']}",
                relation="gated-by",
                seq=seq,
            ),
        ]
    )


@handles("model.register")
def _model_register(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    ref = f"{d['name']}@{d['version']}"
    cat.put(
        ModelRow(
            ref=ref,
            name=d["name"],
            version=d["version"],
            run_id=d["run_id"],
            model_digest=d["model_digest"],
            seq=seq,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [EdgeRow(src=f"model:{ref}", dst=f"run:{d['run_id']}", relation="produced-by", seq=seq)]
    )


@handles("model.sign")
def _model_sign(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    cat.put(
        SignatureRow(
            seq=seq,
            subject=d["subject"],
            key_id=d["key_id"],
            envelope_digest=d["envelope"],
            openssf_digest=d.get("openssf"),
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges([EdgeRow(src=f"signature:{seq}", dst=d["subject"], relation="signs", seq=seq)])


@handles("reproduce.run")
def _reproduce_run(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    cat.put(
        ReproductionRow(
            seq=seq,
            run_id=d["run_id"],
            passed=d["passed"],
            result_digest=d["result_digest"],
            differences=json.dumps(d["differences"]),
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(
                src=f"reproduction:{seq}", dst=f"run:{d['run_id']}", relation="reproduces", seq=seq
            )
        ]
    )


@handles("model.evaluate")
def _model_evaluate(cat: Catalog, seq: int, body: Body) -> None:
    d = body["data"]
    cat.put(
        EvaluationRow(
            seq=seq,
            model=d["model"],
            evidence_digest=d["evidence"],
            suite_digest=d["suite_digest"],
            envelope_digest=d["envelope"],
            key_id=d["key_id"],
            passed=d["passed"],
            errors=d["errors"],
            warnings=d["warnings"],
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(
                src=f"evaluation:{seq}", dst=f"model:{d['model']}", relation="evaluates", seq=seq
            ),
            EdgeRow(
                src=f"evaluation:{seq}",
                dst=f"snapshot:{d['snapshot']}",
                relation="evaluated-on",
                seq=seq,
            ),
        ]
    )


def _guarded(handler: Handler, catalog: Catalog, seq: int, body: Body) -> None:
    """Run a handler; a body it cannot fold is an integrity failure naming the event."""
    try:
        handler(catalog, seq, body)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise IntegrityError(
            f"event #{seq} ({body.get('action')!r}) is malformed: {err!r}",
            hint="The ledger was written outside ledgerml; run `ledgerml audit verify`.",
        ) from err


def apply_state(catalog: Catalog, seq: int, body: Body) -> None:
    """Fold one event into the state tables only (not the event index); used by verify."""
    handler = HANDLERS.get(body.get("action", ""))
    if handler is not None:
        _guarded(handler, catalog, seq, body)


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
