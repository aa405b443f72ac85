"""Governed scoring: only deployed, approved, verified models answer, and every answer is logged.

:meth:`Scorer.open` loads what an environment runs now (``deployments.live``): the live
deployment (refused without one), a canary and a shadow beside it. Each model is loaded only
through :func:`core.modelling.models.load` with ``purpose="score"`` (its bytes must hash to
the recorded digest and carry a valid signature from an unrevoked key before anything is
deserialised), must be the exact bytes the deployment recorded, and must still be at the
stage its environment demands (``production``: approved; elsewhere validated or approved).
Each deployment's decision key must be in the keyring and match its recorded check.

:meth:`Scorer.score` decides every row of a frame and logs every decision of every arm:

- **routing** by request id: ``f = int(sha256(request_id)[:16 hex], 16) / 2**64``. With a
  throttle of share ``t`` in force, a row with ``f >= t`` is refused ("throttled"). Else a
  row with ``f < s`` goes to the canary of share ``s``, the rest to the live deployment. A
  shadow scores every row that was not throttled; it is logged, never returned.
- **conditions**: an approval condition with a ``where`` part (a SQL boolean over input
  columns) refuses, in DuckDB, every row for which it is not true, or that lacks its column,
  with the condition's words.
- **bad rows**: a missing feature or a value of the wrong type is an ``error`` decision naming
  it; the rest of the batch is scored.
- a rule-based **baseline** (strategy ``baseline``) scores with its SQL expression in DuckDB.

The decisions are committed (:mod:`core.operations.decision_log`) before ``score`` returns,
unless the caller asks to queue them (``flush=False``) and calls :meth:`Scorer.flush` before
answering. :meth:`Scorer.refresh` re-reads the deployments, so a rollback takes effect while
serving. A :class:`Scorer` is thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.evidence.vocabulary import plural
from core.identity.actors import require
from core.kernel.errors import CheckFailedError, IntegrityError, UsageError
from core.kernel.events import now_iso
from core.kernel.rows import DecisionBatchRow, ModelRow
from core.kernel.workspace import Workspace
from core.modelling.outcome import Outcome
from core.operations import decision_keys, decision_log, deployments
from core.operations.decision_events import SCORE_ROLES
from core.operations.deployments import Deployment
from core.operations.events import BASELINE, Condition

ANSWER_COLUMNS = (
    "request_id",
    "status",
    "score",
    "label",
    "decision",
    "detail",
    "deployment_id",
    "arm",
)
"""What the caller gets per row (plus ``reasons`` when explanations were asked for)."""
THROTTLED = "throttled: the environment answers only a share of requests now"
_SCALE = float(2**64)


def to_arrow(frame: Any) -> Any:
    """A pandas frame as Arrow, a column of mixed types (a bad value) as text.

    So a bad value is an error decision of its row instead of a failed batch.
    """
    import pyarrow as pa

    arrays, names = [], []
    for name in frame.columns:
        col = frame[name]
        try:
            arrays.append(pa.array(col, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(
                pa.array([None if v is None or v != v else str(v) for v in col], pa.string())
            )
        names.append(str(name))
    return pa.table(arrays, names=names)


def _fresh_ids(n: int) -> Any:
    """``n`` fresh request ids as an Arrow array: ``r-<random tag>-<row, 7 digits or more>``.

    Built by Arrow kernels: no Python string per row for a million-row batch.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string())
    padded = pc.utf8_lpad(rows, width=7, padding="0")
    out = pc.binary_join_element_wise(f"r-{secrets.token_hex(6)}-", padded, "")
    return out if n else pa.array([], pa.string())


def route_fraction(request_id: str) -> float:
    """Where a request falls in [0, 1): the canary and throttle split on it (deterministic)."""
    return int(hashlib.sha256(request_id.encode()).hexdigest()[:16], 16) / _SCALE


@dataclass
class Arm:
    """One deployment loaded for scoring: its model (or rule), inputs, key and conditions."""

    deployment: Deployment
    key: bytes
    features: list[str]
    numeric: set[str]
    threshold: float
    outcome: Outcome | None
    conditions: list[Condition]
    pipeline: Any = None
    rule: dict[str, Any] | None = None
    explain: Any = None  # built on first use

    @property
    def arm(self) -> str:
        """live, canary or shadow."""
        return self.deployment.row.arm

    @property
    def reads(self) -> list[str]:
        """Every input column this deployment reads (its input digest covers these)."""
        cols = set(self.features)
        for c in self.conditions:
            cols |= set(_columns(c.where or ""))
        return sorted(cols)

    def words(self, label: int) -> str | None:
        """The decision in words, from the declared outcome (None without one)."""
        if self.outcome is None:
            return None
        fav = label == self.outcome.favourable_prediction
        return self.outcome.favourable_name if fav else self.outcome.unfavourable_name


def _columns(expr: str) -> list[str]:
    """The columns a SQL boolean expression reads; refuses anything but one expression."""
    if not expr:
        return []
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expr, dialect="duckdb")
    except sqlglot.errors.ParseError as err:
        raise IntegrityError(f"an approval condition does not parse: {expr!r}: {err}") from err
    banned = (exp.Select, exp.Subquery, exp.Table, exp.Query, exp.Command)
    if isinstance(tree, banned) or any(isinstance(n, banned) for n in tree.walk()):
        raise IntegrityError(f"an approval condition is not one expression over a row: {expr!r}")
    return sorted({c.name for c in tree.find_all(exp.Column)})


@dataclass
class Scored:
    """The result of one :meth:`Scorer.score` call."""

    answers: Any
    """An Arrow table of the caller's answers (:data:`ANSWER_COLUMNS`), in input order."""
    batch: DecisionBatchRow | None
    """The batch that logged the call (None when queued with ``flush=False``)."""
    logged: int
    """Decisions logged for the call (every arm's, shadow included)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Answers by status."""

    def records(self) -> list[dict[str, Any]]:
        """The answers as plain dicts (for a JSON response)."""
        out: list[dict[str, Any]] = self.answers.to_pylist()
        return out


def _key_check(ws: Workspace, dep: Deployment) -> str:
    body = ws.ledger.entry(dep.row.seq).decode()
    data = body.get("data")
    if not isinstance(data, dict) or "key_check" not in data:
        raise IntegrityError(f"the event of deployment {dep.deployment_id} records no key check")
    return str(data["key_check"])


class Scorer:
    """What an environment runs, loaded and checked, ready to decide and log (thread-safe)."""

    def __init__(self, ws: Workspace, env: str, actor: str, *, source: str = "batch") -> None:
        """Use :meth:`open`."""
        self.ws = ws
        self.env = env
        self.actor = actor
        self.arms: list[Arm] = []
        self.throttle: float | None = None
        self.policy_digest: str | None = None
        self.log = decision_log.DecisionLog(ws, actor, env, source=source)
        self._lock = threading.RLock()

    @classmethod
    def open(cls, ws: Workspace, env: str, actor: str, *, source: str = "batch") -> Scorer:
        """Load and check ``env``'s deployments for scoring as ``actor``.

        Raises:
            PermissionDeniedError: if ``actor`` may not record decisions.
            CheckFailedError: no live deployment, or a model not at the stage required.
            IntegrityError: altered model bytes, no valid signature from an unrevoked key,
                a model other than the deployed bytes, or a decision key that does not match.
            KeyStoreError: a deployment's decision key is not in the keyring (destroyed).
        """
        deployments.check_env(env)
        scorer = cls(ws, env, actor, source=source)
        scorer.refresh()
        return scorer

    def refresh(self) -> None:
        """Re-read the environment's deployments (a rollback or throttle takes effect).

        The catalog only says *which* deployments serve; what each one is (model, digest,
        arm, strategy, share, retention, conditions) is taken from its signed ledger event
        (:func:`deployments.signed`), and a stage is believed only when the promotion the
        catalog points to is that signed ``model.promote`` (:func:`deployments.signed_stage`):
        an edited row is refused with an IntegrityError before anything loads. Still trusted
        from the catalog, because checking it means replaying the ledger since each deployment
        on every refresh: that a deployment was not ended since (a withdrawal or rollback row
        deleted), that no later promotion (a retirement) was removed, and the throttle. Such
        an edit can only bring back a deployment that was once validly made, and ``audit
        verify`` reports it.
        """
        from core.identity.signer import authority_of

        with self.ws.session(self.actor) as s:
            require(s, *SCORE_ROLES, action="score with deployed models")
            current = [deployments.signed(self.ws, d) for d in deployments.live(s, self.env)]
            if not any(d.row.arm == "live" for d in current):
                raise CheckFailedError(
                    f"{self.env} has no live deployment: nothing may score there",
                    hint=f"Deploy an approved model: `ledgerml deploy NAME@N --env {self.env} "
                    "--reason …`.",
                )
            throttle = deployments.throttle_of(s, self.env)
            found = authority_of(s).policy_at()
            policy_digest = found[1] if found else None
            plans: list[tuple[Deployment, Any, Any]] = []
            for dep in current:
                if dep.row.strategy == BASELINE:
                    plans.append((dep, None, None))
                    continue
                refused = deployments.refusal(s, dep)  # its stage; approvals voided since?
                if refused is not None:
                    raise refused
                model = s.catalog.rows(
                    ModelRow, "SELECT * FROM models WHERE ref = ?", [dep.row.model]
                )
                if not model or model[0].model_digest != dep.row.model_digest:
                    raise IntegrityError(
                        f"deployment {dep.deployment_id} names bytes {dep.row.model_digest[:12]}… "
                        f"that {dep.row.model} does not have"
                    )
                run = s.catalog.run(model[0].run_id)
                plans.append((dep, model[0], run))
        arms = [self._load(dep, run) for dep, _, run in plans]
        with self._lock:
            self.arms = arms
            self.throttle = throttle
            self.policy_digest = policy_digest
            types = [(f, f in a.numeric) for a in arms if a.rule is None for f in a.features]
            text = {f for f, numeric in types if not numeric}  # declared text by any model
            self.log.input_types = {f: f not in text for f, _ in types}

    def _load(self, dep: Deployment, run: Any) -> Arm:
        from core.modelling import models, training

        key = decision_keys.get(self.ws, dep.deployment_id, _key_check(self.ws, dep))
        conditions = [c for c in dep.conditions if c.where]
        for c in conditions:
            _columns(c.where or "")  # refuse a malformed condition at open, not per row
        if dep.row.strategy == BASELINE:
            rule = json.loads(self.ws.objects.read_verified(dep.row.model_digest))
            cols = [str(c) for c in rule["columns"]]
            _columns(str(rule["score_sql"]))
            return Arm(dep, key, cols, set(), float(rule["threshold"]), None, conditions, rule=rule)
        pipeline = models.load(self.ws, dep.row.model, purpose="score", actor=self.actor)
        spec = training.load_run_spec(self.ws, run)
        numeric: set[str] = set()
        for name, _, cols in pipeline.named_steps["preprocess"].transformers_:
            if name == "numeric":
                numeric |= set(cols)
        return Arm(
            dep,
            key,
            list(spec.features),
            numeric,
            float(spec.threshold),
            spec.outcome,
            conditions,
            pipeline=pipeline,
        )

    # ---- scoring ------------------------------------------------------------------------

    def score(
        self,
        frame: Any,
        *,
        caller: str,
        request_ids: Sequence[str] | None = None,
        explain: int = 0,
        flush: bool = True,
    ) -> Scored:
        """Decide every row of ``frame`` (pandas or Arrow) and log every arm's decision.

        ``request_ids`` (one per row, unique in the workspace) default to fresh ones. With
        ``flush`` (the default) the decisions are committed as one batch before this returns;
        otherwise they are queued for :meth:`flush`, which must run before the answers are
        given to anyone.

        ``latency_ms`` is recorded only for the scoring service (``source="serve"``), where
        a call is a request; batch scoring logs it null.

        Raises:
            UsageError: no rows, or request ids that are not one per row, repeated, or
                already logged.
        """
        return self._run(frame, caller, request_ids, explain, flush, None)

    def refuse(
        self,
        frame: Any,
        *,
        caller: str,
        detail: str,
        request_ids: Sequence[str] | None = None,
        flush: bool = True,
    ) -> Scored:
        """Log a refusal of every row without scoring it (a request turned away before scoring).

        Each row becomes a ``refused`` decision of the live deployment with ``detail`` as its
        reason and the input digest of what was sent, so the refusal is as provable as an
        answer.
        """
        if not detail.strip():
            raise UsageError("a refusal needs its reason in words")
        return self._run(frame, caller, request_ids, 0, flush, detail)

    def new_request_ids(self, n: int) -> list[str]:
        """``n`` fresh request ids (a random batch tag and a row number: never logged yet)."""
        out: list[str] = _fresh_ids(n).to_pylist()
        return out

    @property
    def deployments(self) -> list[Deployment]:
        """The deployments this scorer runs (live first), as last read."""
        with self._lock:
            return [a.deployment for a in self.arms]

    def _run(
        self,
        frame: Any,
        caller: str,
        request_ids: Sequence[str] | None,
        explain: int,
        flush: bool,
        refusal: str | None,
    ) -> Scored:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        started = time.perf_counter()
        table = frame if isinstance(frame, pa.Table) else to_arrow(frame)
        n = table.num_rows
        if n == 0:  # a header and no rows: nothing to decide, so nothing is logged
            raise UsageError("no rows to score: the input has columns but no rows")
        if request_ids is None:
            rids = _fresh_ids(n)
        else:
            given = [str(r) for r in request_ids]
            self._check_ids(given, n)
            rids = pa.array(given, pa.string())
        with self._lock:
            arms, throttle, policy = list(self.arms), self.throttle, self.policy_digest
        if refusal is not None:
            arms = [a for a in arms if a.arm == "live"]
        ts = now_iso()
        parts, answers = _decide(table, rids, arms, throttle, explain, self.ws, refusal)
        elapsed = (time.perf_counter() - started) * 1000.0
        logged = []
        for part in parts:
            # a request's latency only where a row is one request (serve): a batch call's
            # elapsed time on every row would read as p50 = p99 = the batch time
            if self.log.source == "serve":
                part = part.set_column(
                    part.schema.get_field_index("latency_ms"),
                    "latency_ms",
                    pa.array(np.full(part.num_rows, elapsed), pa.float64()),
                )
            logged.append(_fill(part, ts=ts, caller=caller, env=self.env, policy=policy))
        decisions = _in_order(logged)
        batch = self.log.write([decisions]) if flush else None
        if not flush:
            self.log.append(decisions)
        counts: dict[str, int] = {
            str(v["values"]): int(v["counts"])
            for v in pc.value_counts(answers.column("status")).to_pylist()
        }
        return Scored(answers, batch, decisions.num_rows, counts)

    def flush(self) -> DecisionBatchRow | None:
        """Commit the queued decisions as one batch (None when nothing is queued)."""
        return self.log.flush()

    def _check_ids(self, rids: list[str], n: int) -> None:
        if len(rids) != n:
            raise UsageError(f"{len(rids)} request ids for {n} rows: give one per row")
        if any(not r.strip() for r in rids):
            raise UsageError("a request id is empty")
        if len(set(rids)) != n:
            raise UsageError("request ids repeat within the input: each must be unique")
        seen = decision_log.known_request_ids(self.ws, rids)
        if seen:
            first = sorted(seen)[0]
            raise UsageError(
                f"{plural(len(seen), 'request id')} {'is' if len(seen) == 1 else 'are'} "
                f"already logged (e.g. {first!r})",
                hint="A request id names one decision in the workspace; use fresh ones.",
            )


# ---- the row work, vectorised -----------------------------------------------------------


def _decide(
    table: Any,
    rids: Any,
    arms: list[Arm],
    throttle: float | None,
    explain: int,
    ws: Workspace,
    refusal: str | None = None,
) -> tuple[list[Any], Any]:
    """Every arm's decisions (Arrow tables, partly filled) and the caller's answers."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = table.num_rows
    canary = next((a for a in arms if a.arm == "canary"), None)
    routed = n and refusal is None and (throttle is not None or canary is not None)
    frac = route_fractions(rids) if routed else np.zeros(n)  # only a split needs it
    throttled = (frac >= throttle) if throttle is not None else np.zeros(n, dtype=bool)
    if refusal is not None:
        throttled = np.ones(n, dtype=bool)
    to_canary = (frac < float(canary.deployment.row.share or 0)) if canary else np.zeros(n, bool)
    con = duckdb.connect()
    try:
        con.register("input", table)
        parts = []
        answer_parts: list[tuple[Any, Any]] = []
        for arm in arms:
            if arm.arm == "live":
                mask = ~to_canary | throttled
            elif arm.arm == "canary":
                mask = to_canary & ~throttled
            else:
                mask = ~throttled
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            part = _decide_arm(
                con, table, idx, rids, arm, throttled[idx], explain, ws, refusal or THROTTLED
            )
            parts.append(part)
            if arm.arm != "shadow":
                answer_parts.append((idx, part))
    finally:
        con.close()
    order = np.concatenate([i for i, _ in answer_parts]) if answer_parts else np.zeros(0, int)
    cols = list(ANSWER_COLUMNS) + (["reasons"] if explain else [])
    merged = pa.concat_tables([p.select(cols) for _, p in answer_parts]) if answer_parts else None
    if merged is None:
        answers = pa.table({c: pa.array([], pa.string()) for c in cols})
    else:
        answers = merged.take(pa.array(np.argsort(order, kind="stable")))
    if explain:  # the caller got the contributions; the log keeps them under `rows` only
        keep = {
            a.deployment.row.deployment_id for a in arms if a.deployment.row.retention == "rows"
        }
        parts = [
            p if p.column("deployment_id")[0].as_py() in keep else _ranked_only(p) for p in parts
        ]
    return parts, answers


def _ranked_only(part: Any) -> Any:
    """``part`` with each ``reasons`` cut to its ranked feature names, no contributions.

    For the linear models the product trains a SHAP contribution is an affine function of
    its input (one fixed value per category), so logged contributions give the inputs back:
    an ``hmac-only`` deployment's log, which promises to keep no input, logs only which
    features weighed most, in order.
    """
    import pyarrow as pa

    named = [
        None if r is None else json.dumps([item[0] for item in json.loads(r)])
        for r in part.column("reasons").to_pylist()
    ]
    i = part.schema.get_field_index("reasons")
    return part.set_column(i, "reasons", pa.array(named, pa.string()))


def _decide_arm(
    con: Any,
    table: Any,
    idx: Any,
    rids: Any,
    arm: Arm,
    throttled: Any,
    explain: int,
    ws: Workspace,
    refusal: str = THROTTLED,
) -> Any:
    """One deployment's decisions over the input rows ``idx`` (``throttled`` ones refused)."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    m = len(idx)
    status = np.full(m, "ok", dtype=object)
    detail = np.full(m, None, dtype=object)
    status[throttled] = "refused"
    detail[throttled] = refusal
    present = set(table.column_names)
    whole = m == table.num_rows  # idx is every row, in order: no copy of the input
    sub = table if whole else table.take(pa.array(idx))
    con.register("sub", sub)
    # approval conditions (refusals), then bad values (errors)
    for c in arm.conditions:
        need = _columns(c.where or "")
        missing = [x for x in need if x not in present]
        ok = np.zeros(m, dtype=bool) if missing else _holds(con, c.where or "", need, sub)
        hit = (~ok) & (status == "ok")
        status[hit] = "refused"
        detail[hit] = f"condition of {c.by}'s approval: {c.text}"
    for f in arm.features:
        if f not in present:
            hit = status == "ok"
            status[hit] = "error"
            detail[hit] = f"missing feature {f}"
            continue
        col = sub.column(f)
        if col.null_count:
            miss = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            hit = miss & (status == "ok")
            status[hit] = "error"
            detail[hit] = f"missing feature {f}"
        if f in arm.numeric and (not _numeric(col.type) or pa.types.is_floating(col.type)):
            # text where a number belongs, or a number the model cannot take (inf, NaN)
            q = '"' + f.replace('"', '""') + '"'
            res = con.sql(
                f"SELECT {q} IS NOT NULL AND NOT coalesce(isfinite(TRY_CAST({q} AS DOUBLE)), "
                "false) AS bad FROM sub"
            ).to_arrow_table()
            bad = np.asarray(res.column("bad").to_numpy(zero_copy_only=False), dtype=bool)
            hit = bad & (status == "ok")
            status[hit] = "error"
            detail[hit] = f"{f} is not a " + ("finite " if _numeric(col.type) else "") + "number"
    good = np.flatnonzero(status == "ok")
    score = np.full(m, np.nan)
    reasons = np.full(m, None, dtype=object)
    if len(good):
        good_rows = sub if len(good) == m else sub.take(pa.array(good))
        try:
            score[good] = _scores(con, arm, good_rows)
        except duckdb.Error as err:  # a rule DuckDB cannot evaluate on these rows: their error
            if arm.rule is None:
                raise
            status[good] = "error"
            detail[good] = f"the baseline rule cannot be evaluated: {str(err).splitlines()[0]}"
            good = np.zeros(0, dtype=np.int64)
        if explain and len(good):
            reasons[good] = _reasons(ws, arm, good_rows, explain)
    label = np.where(np.isnan(score), -1, (score >= arm.threshold).astype(np.int8))
    ok_mask = status == "ok"
    words = np.full(m, None, dtype=object)
    if arm.outcome is not None:
        fav = arm.outcome.favourable_prediction
        words[ok_mask] = np.where(
            label[ok_mask] == fav, arm.outcome.favourable_name, arm.outcome.unfavourable_name
        )
    # the keyed digest of what this deployment reads, present columns only
    read = [c for c in arm.reads if c in present]
    digests = decision_log.input_hmacs(sub, read, arm.key)
    row = arm.deployment.row
    rid = rids if whole else rids.take(pa.array(idx))
    cols: dict[str, Any] = {
        "request_id": rid,
        "ts": pa.nulls(m, pa.string()),
        "caller": pa.nulls(m, pa.string()),
        "env": pa.nulls(m, pa.string()),
        "deployment_id": _same(row.deployment_id, m),
        "arm": _same(row.arm, m),
        "returned": pa.array(np.full(m, row.arm != "shadow"), pa.bool_()),
        "model": _same(row.model, m),
        "model_digest": _same(row.model_digest, m),
        "policy_digest": pa.nulls(m, pa.string()),
        "input_hmac": digests,
        "status": _strings(status),
        "score": pa.array(score, pa.float64(), mask=~ok_mask),
        "label": pa.array(label.astype(np.int8), pa.int8(), mask=~ok_mask),
        "decision": _strings(words),
        "detail": _strings(detail),
        "reasons": _strings(reasons),
        "latency_ms": pa.nulls(m, pa.float64()),
        "__i": pa.array(idx.astype(np.int64)),
    }
    if row.retention == "rows":
        for c in table.column_names:
            cols[decision_log.INPUT_PREFIX + c] = sub.column(c)
    con.unregister("sub")
    return pa.table(cols)


def _same(value: str | None, m: int) -> Any:
    """``m`` copies of one string as an Arrow array (no Python list of ``m`` items)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pa.nulls(m, pa.string())
    return out if value is None else pc.fill_null(out, value)


def _strings(values: Any) -> Any:
    """An object array of few distinct strings (or None) as an Arrow string array.

    Built from the distinct values and their indices, not one Python object per row.
    """
    import numpy as np
    import pyarrow as pa

    uniq: dict[Any, int] = {}
    for v in set(values.tolist()) if len(values) < 64 else _distinct(values):
        uniq.setdefault(v, len(uniq))
    if len(uniq) > 256:
        return pa.array(values.tolist(), pa.string())
    codes = np.empty(len(values), dtype=np.int32)
    for v, code in uniq.items():
        codes[values == v if v is not None else _is_none(values)] = code
    dictionary = pa.array(list(uniq), pa.string())
    return dictionary.take(pa.array(codes))


def _distinct(values: Any) -> set[Any]:
    """The distinct items of an object array (the strings among them, and None if any)."""
    import pandas as pd

    return set(pd.unique(values))


def _is_none(values: Any) -> Any:
    import pandas as pd

    return pd.isna(values)


def _holds(con: Any, where: str, columns: list[str], sub: Any) -> Any:
    """Whether an approval condition is true of each row of ``sub`` (registered on ``con``).

    A caller's column can arrive as text (``"unknown"`` in a CSV, ``"30"`` in JSON), and
    DuckDB will not compare text with a number: the condition is then evaluated with its
    text columns read as numbers where they are numbers, and a row whose value is not one
    does not meet it (refused with the condition's words, never a failed batch). A
    condition that still cannot be evaluated holds for no row.
    """
    import duckdb
    import numpy as np

    def run(source: str) -> Any:
        got = con.sql(f"SELECT COALESCE(({where}) IS TRUE, false) AS ok FROM {source}")
        return np.asarray(got.to_arrow_table().column("ok").to_numpy(zero_copy_only=False), bool)

    try:
        return run("sub")
    except duckdb.Error:
        pass
    text = [c for c in columns if not _numeric(sub.schema.field(c).type)]
    q = [('"' + c.replace('"', '""') + '"') for c in text]
    cast = ", ".join(f"TRY_CAST({x} AS DOUBLE) AS {x}" for x in q)
    try:
        return run(f"(SELECT * REPLACE ({cast}) FROM sub)" if text else "sub")
    except duckdb.Error:
        return np.zeros(sub.num_rows, dtype=bool)


def _numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


def route_fractions(rids: Any) -> Any:
    """:func:`route_fraction` of many request ids at once (the same numbers).

    One ``sha256`` call per id: its first 8 bytes, big-endian, are the first 16 hex digits.
    """
    import hashlib
    from operator import methodcaller

    import numpy as np
    import pyarrow as pa

    ids = rids.cast(pa.binary()).to_pylist()
    packed = b"".join(map(methodcaller("digest"), map(hashlib.sha256, ids)))
    first = np.frombuffer(packed, dtype=">u8").reshape(len(ids), 4)[:, 0]
    return first.astype(np.float64) / _SCALE


def _scores(con: Any, arm: Arm, rows: Any) -> Any:
    """Probabilities of the positive class for valid rows."""
    import numpy as np

    if arm.rule is not None:
        con.register("good", rows)
        try:
            res = con.sql(
                f"SELECT CAST(({arm.rule['score_sql']}) AS DOUBLE) AS s FROM good"
            ).to_arrow_table()
        finally:
            con.unregister("good")
        return np.asarray(res.column("s").to_numpy(zero_copy_only=False), dtype=float)
    x = _features_frame(arm, rows)
    proba = arm.pipeline.predict_proba(x)
    classes = list(arm.pipeline.classes_)
    return np.asarray(proba[:, classes.index(1)], dtype=float)


def _features_frame(arm: Arm, rows: Any) -> Any:
    """The model's input frame: numbers as float, categories as plain Python strings.

    Built straight from Arrow buffers (numbers zero-copy, text as one object array per
    column), so the encoder gets object columns without a pandas string-array round trip.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    data = {}
    for f in arm.features:
        col = rows.column(f)
        if f in arm.numeric and _numeric(col.type):
            values = col.cast(pa.float64()).to_numpy()
            data[f] = pd.Series(np.asarray(values, dtype=float), copy=False)
        elif f in arm.numeric:  # text that parses as a number (checked before scoring)
            data[f] = pd.to_numeric(col.to_pandas()).astype(float)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            text = col.to_numpy(zero_copy_only=False)
            data[f] = pd.Series(text, dtype=object, copy=False)
        else:  # a category given as numbers: its text as pandas writes it, as in training
            data[f] = col.to_pandas().astype(str)
    return pd.DataFrame(data, columns=arm.features)


def _reasons(ws: Workspace, arm: Arm, rows: Any, top: int) -> list[str]:
    """Top ``top`` SHAP contributions per row, folded per input feature, as JSON."""
    import numpy as np

    if arm.rule is not None:
        return [json.dumps([])] * rows.num_rows  # a rule has no SHAP explainer: say nothing
    explainer = arm.explain or _explainer(ws, arm)
    arm.explain = explainer
    z = np.asarray(
        arm.pipeline.named_steps["preprocess"].transform(_features_frame(arm, rows)), dtype=float
    )
    values = np.asarray(explainer["explain"](z))
    if values.ndim == 3:
        values = values[:, :, 1]
    folded = np.stack([values[:, g].sum(axis=1) for g in explainer["fold"]], axis=1)
    k = min(top, folded.shape[1])
    ranked = np.argsort(-np.abs(folded), axis=1, kind="stable")[:, :k]
    feats = arm.features
    return [
        json.dumps([[feats[j], round(float(folded[i, j]), 6)] for j in ranked[i]])
        for i in range(len(folded))
    ]


def _explainer(ws: Workspace, arm: Arm) -> dict[str, Any]:
    """The exact SHAP explainer for the estimator, against the model's seeded background.

    As the evaluation's explainability section builds it: the held-out split of the model's
    recorded run, transformed, sampled with the run's seed (100 rows).
    """
    import numpy as np
    import shap

    from core.evidence import context
    from core.evidence.sections.explainability import _feature_groups
    from core.modelling import estimators

    with ws.session() as s:
        model = s.catalog.rows(
            ModelRow, "SELECT * FROM models WHERE ref = ?", [arm.deployment.row.model]
        )[0]
    ctx = context.load(ws, model, seed=0)
    est = arm.pipeline.named_steps["model"]
    z = np.asarray(arm.pipeline.named_steps["preprocess"].transform(ctx.x_test), dtype=float)
    rng = np.random.default_rng(ctx.spec.seed)
    background = z[np.sort(rng.choice(len(z), min(100, len(z)), replace=False))]
    record = estimators.by_class(type(est).__name__)
    if record is None:
        raise UsageError(f"no exact SHAP explainer for {type(est).__name__}")
    if record.explainer == "linear":
        lin = shap.LinearExplainer(est, background)
        fn = lin.shap_values
    else:
        tree = shap.TreeExplainer(
            est, background, feature_perturbation="interventional", model_output="raw"
        )

        def fn(x: Any) -> Any:
            return tree.shap_values(x, check_additivity=False)

    return {"explain": fn, "fold": _feature_groups(arm.pipeline, arm.features)}


def _fill(part: Any, *, ts: str, caller: str, env: str, policy: str | None) -> Any:

    m = part.num_rows
    for name, value in (("ts", ts), ("caller", caller), ("env", env), ("policy_digest", policy)):
        part = part.set_column(part.schema.get_field_index(name), name, _same(value, m))
    return part


def _in_order(parts: list[Any]) -> Any:
    """One decision table: input order, the returned decision before a shadow's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(parts, promote_options="default")
    if len(parts) == 1:  # one arm: its rows are already in input order
        return table.drop_columns(["__i"])
    order = pc.sort_indices(table, sort_keys=[("__i", "ascending"), ("returned", "descending")])
    return table.take(order).drop_columns(["__i"])
