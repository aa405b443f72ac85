"""The scoring service: governed scoring over HTTP on loopback, with the same decision log.

``ledgerml serve --env ENV`` runs :func:`build_app` under uvicorn on 127.0.0.1. It is the batch
scorer (:class:`core.operations.scoring.Scorer`) behind a door that checks who is calling:

- ``POST /v1/score`` with ``Authorization: Bearer <token>`` and a JSON body: one row (an
  object), a list of rows, or ``{"rows": [...], "request_ids": [...]}`` /
  ``{"row": {...}, "request_id": "..."}``. The answer lists, per row, its request id, status,
  score, label and decision in words: only what the caller may see (the answer it got, never
  a shadow model's). 401 for no, unknown or revoked token; 403 for a token whose actor may not
  call now or is bound to another environment; 422 for a malformed body; 503 when nothing is
  deployed. Every refusal after authentication (403, 422) is logged as the caller's decision
  with status ``refused``, so the log shows who tried what, not only what was answered.
- ``GET /healthz``: the deployments served, their model digests, the policy in force; 503
  when nothing can be served, or while the decision log cannot be written (then every
  ``POST /v1/score`` is 503 too: no answer goes out that the log may not hold).
- ``GET /metrics``: Prometheus text (requests by status, latency, decisions logged, batch
  flushes, the last flush's time, decisions waiting to be flushed).

**Durability.** Decisions are queued by the scorer and written as one ``decision.batch``
(a Parquet object, its Merkle root in one signed event) every ``flush_every`` decisions or
``flush_seconds`` seconds, and at a clean stop (SIGTERM, Ctrl-C): nothing answered is lost
then. By default the answer is sent before its batch is durable, so a ``kill -9`` (or a power
cut) loses the answered decisions of the open window, at most ``flush_every`` decisions or
``flush_seconds`` seconds, a loss window stated in ``/healthz``. With ``durable=True`` an answer
is sent only once the batch holding its decision is committed (group commit: one flush serves
every request that waited for it), so nothing a caller was told can be missing from the log;
each flush then costs a Parquet object, an fsynced event and a catalog write, paid in latency.
Per-request durability is what an auditor wants for high-stakes decisions; a window is what a
high-volume, low-stakes service can afford. The choice is the operator's, and it is recorded
in the service's health document.

**Staying current.** Before each request the service reads any events appended to the
ledger since the last one (:class:`core.operations.tokens.Gatekeeper`): token revocations,
suspensions and role changes apply to the next request; deployments, rollbacks, withdrawals,
throttles and policy changes make the service refresh its scorer before scoring that request.
If the refresh is refused (everything withdrawn, the service actor suspended, a model that
no longer verifies), the service answers 503 with the reason until a later event fixes it.

**Batching.** Requests that arrive while the scorer is busy are scored together in its next
call (:class:`_Batcher`): the scorer's fixed cost per call (DuckDB for conditions and input
digests, one ``predict_proba``) is then paid once per batch instead of once per request.

The service runs as a service actor (``--as scorer``): its key signs the batches, and the
``caller`` of each decision is the actor the token speaks for.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.evidence.vocabulary import plural
from core.kernel.workspace import Workspace
from core.operations.tokens import Caller, CallRefusedError, Gatekeeper

MAX_BODY = 1 << 20
"""The largest request body read (bytes); a larger one is refused with 413."""
MAX_ROWS = 1000
"""The most rows one request may carry."""
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NO_REFRESH = ("decision.", "outcome.", "token.", "monitor.")
"""Actions that cannot change what is served (the service's own batches, late labels,
tokens, monitoring runs): seeing only these needs no refresh of the scorer. Everything
else (deployments, rollbacks, throttles, policy, keys, actors, lifecycle) refreshes it."""


class ScorerLike(Protocol):
    """What the service needs of the scorer (:class:`core.operations.scoring.Scorer`)."""

    def score(
        self,
        frame: Any,
        *,
        caller: str,
        request_ids: Sequence[str] | None = None,
        explain: int = 0,
        flush: bool = True,
    ) -> Any:
        """Score rows for ``caller``; its ``records()`` are the per-row answers.

        With ``flush=False`` the decisions (every arm's) are queued for :meth:`flush`.
        """

    def flush(self) -> Any:
        """Write the queued decisions as one ``decision.batch`` (nothing if none)."""

    def refresh(self) -> None:
        """Re-read deployments, throttles and policy from the ledger."""


class BadRequestError(Exception):
    """A body the service cannot score (answered 422, or 413 for one too large)."""

    def __init__(self, message: str, status: int = 422) -> None:
        """Keep the message for the caller."""
        super().__init__(message)
        self.message = message
        self.status = status


def parse_body(raw: bytes) -> tuple[list[dict[str, Any]], list[str] | None]:
    """The rows and optional request ids of a request body (see the module docstring).

    Raises:
        BadRequestError: for a body that is not JSON, holds no rows or too many, a row that is not
            an object of scalars, or request ids that are malformed, repeated or miscounted.
    """
    if len(raw) > MAX_BODY:
        raise BadRequestError(f"the body is larger than {MAX_BODY} bytes", 413)
    try:
        doc = json.loads(raw)
    except ValueError as err:
        raise BadRequestError(f"the body is not JSON: {err}") from None
    ids: Any = None
    if isinstance(doc, dict) and ("rows" in doc or "row" in doc):
        extra = set(doc) - {"rows", "row", "request_ids", "request_id"}
        if extra or ("rows" in doc and "row" in doc):
            raise BadRequestError(f"unexpected keys {sorted(extra) or ['row', 'rows']}")
        if "row" in doc:
            rows: Any = [doc["row"]]
            ids = [doc["request_id"]] if "request_id" in doc else None
        else:
            rows, ids = doc["rows"], doc.get("request_ids")
    elif isinstance(doc, dict):
        rows = [doc]
    else:
        rows = doc
    if not isinstance(rows, list) or not rows:
        raise BadRequestError("no rows: send a JSON object (one row) or a list of them")
    if len(rows) > MAX_ROWS:
        raise BadRequestError(f"{len(rows)} rows in one request; at most {MAX_ROWS}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row:
            raise BadRequestError(f"row {i} is not a JSON object of column values")
        for key, value in row.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise BadRequestError(f"row {i}, column {key!r}: a value must be a scalar")
    if ids is not None:
        if not isinstance(ids, list) or len(ids) != len(rows):
            raise BadRequestError("request_ids must be a list with one id per row")
        if not all(isinstance(x, str) and _REQUEST_ID.match(x) for x in ids):
            raise BadRequestError("a request id is 1-128 letters, digits or . _ : -")
        if len(set(ids)) != len(ids):
            raise BadRequestError("request ids repeat within the request")
    return rows, ids


def _field(answer: Any, name: str) -> Any:
    return answer.get(name) if isinstance(answer, dict) else getattr(answer, name, None)


def visible(answer: Any) -> dict[str, Any]:
    """What a caller is told of one answer: never the model, the arm or a shadow's result."""
    status = _field(answer, "status")
    out = {
        "request_id": _field(answer, "request_id"),
        "status": status,
        "score": _field(answer, "score"),
        "label": _field(answer, "label"),
        "decision": _field(answer, "decision"),
    }
    if status != "ok":
        out["detail"] = _field(answer, "detail")
    return out


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per service)."""

    def __init__(self) -> None:
        """Create the counters, the latency histogram and the flush gauges."""
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledgerml_serve_requests",
            "Scoring requests answered, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ledgerml_serve_request_seconds",
            "Time to answer a scoring request (authentication, scoring, queueing the log).",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.decisions = Counter(
            "ledgerml_serve_decisions",
            "Decisions answered to callers, by status (ok, refused, error).",
            ["status"],
            registry=self.registry,
        )
        self.logged = Counter(
            "ledgerml_serve_decisions_logged",
            "Decisions queued for the log (every arm's, shadow and refusals included).",
            registry=self.registry,
        )
        self.flushes = Counter(
            "ledgerml_serve_flushes", "Decision batches written.", registry=self.registry
        )
        self.flush_failures = Counter(
            "ledgerml_serve_flush_failures",
            "Flushes that failed (the decisions stay queued).",
            registry=self.registry,
        )
        self.unlogged = Counter(
            "ledgerml_serve_unlogged_refusals",
            "Refusals after authentication that could not be logged (nothing deployed).",
            registry=self.registry,
        )
        self.log_failing = Gauge(
            "ledgerml_serve_log_failing",
            "1 while the decision log cannot be written: the service answers 503 then.",
            registry=self.registry,
        )
        self.last_flush = Gauge(
            "ledgerml_serve_last_flush_timestamp_seconds",
            "When the last decision batch was committed (Unix time; 0: never).",
            registry=self.registry,
        )
        self.pending = Gauge(
            "ledgerml_serve_pending_decisions",
            "Answered decisions not yet in a committed batch (what a kill -9 would lose).",
            registry=self.registry,
        )

    def text(self) -> bytes:
        """The exposition text."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))


@dataclass
class Options:
    """How a service flushes its log."""

    flush_every: int = 1000
    flush_seconds: float = 5.0
    durable: bool = False

    def check(self) -> None:
        """Refuse settings that make no sense (a usage error, before anything starts)."""
        from core.kernel.errors import UsageError

        if self.flush_every < 1:
            raise UsageError("--flush-every must be at least 1")
        if not 0 < self.flush_seconds <= 3600:
            raise UsageError("--flush-seconds must be above 0 and at most 3600")


class _LogFailedError(Exception):
    """A durable request's batch did not commit: its caller is told 503, not the answer."""


@dataclass
class _Window:
    """Decisions answered but not yet flushed, and the flush epochs durable requests await."""

    pending: int = 0
    epoch: int = 0  # the flush that will take the decisions queued now
    done: int = -1  # the last flush epoch committed
    waiters: int = 0
    stopping: bool = False
    failed: str = ""
    ids: dict[int, set[str]] = field(default_factory=dict)
    """Callers' request ids queued for each flush epoch (-1: being scored), until that flush
    commits: the scorer checks ids against the committed log only, so a replay inside the
    open window is caught here."""
    cond: threading.Condition = field(default_factory=threading.Condition)


class Service:
    """One environment's scoring service: the gatekeeper, the scorer and the flusher."""

    def __init__(
        self,
        ws: Workspace,
        env: str,
        actor: str,
        options: Options | None = None,
        *,
        scorer_factory: Callable[[Workspace, str, str], ScorerLike] | None = None,
    ) -> None:
        """Bind the service; :meth:`start` opens the scorer and starts flushing."""
        self.ws = ws
        self.env = env
        self.actor = actor
        self.options = options or Options()
        self.options.check()
        self.gate = Gatekeeper(ws, env)
        self.metrics = Metrics()
        self._factory = scorer_factory
        self.scorer: ScorerLike | None = None
        self._window = _Window()
        self._refresh_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._batcher = _Batcher(self._score_many)
        self._thread: threading.Thread | None = None
        self.health: dict[str, Any] = {}
        self.refreshes = 0
        self.batches = 0
        self.unavailable = ""
        """Why the scorer could not be refreshed (empty: it was); nothing is served then."""

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Open the scorer (models verified, keys found), read the ledger, start flushing.

        Raises:
            LedgerError: whatever the scorer refuses with (nothing deployed, an untrusted
                model, a missing decision key): the service does not start half-able.
        """
        if self._factory is None:
            from core.operations.scoring import Scorer

            self.scorer = Scorer.open(self.ws, self.env, self.actor, source="serve")
        else:
            self.scorer = self._factory(self.ws, self.env, self.actor)
        self.gate.sync()
        self._describe()
        self._thread = threading.Thread(target=self._flusher, name="ledgerml-flush", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop flushing after one last flush of everything answered (a clean stop).

        If that flush fails too, the answered decisions it held are not in the log: said as
        an error (how many, why) rather than a quiet exit.
        """
        w = self._window
        with w.cond:
            w.stopping = True
            w.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.flush()
        with w.cond:
            lost, why = w.pending, w.failed
        if why:
            logging.getLogger("ledgerml.serve").error(
                "%s could not be logged at stop: %s", plural(lost, "answered decision"), why
            )

    def _flusher(self) -> None:
        w = self._window
        while True:
            with w.cond:
                deadline = time.monotonic() + self.options.flush_seconds
                while not w.stopping:
                    if w.failed:  # retry a failing log once a second, not in a busy loop
                        w.cond.wait(min(self.options.flush_seconds, 1.0))
                        if w.stopping or w.pending:
                            break
                        continue
                    if w.pending and (w.pending >= self.options.flush_every or w.waiters):
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        if w.pending:
                            break
                        deadline = time.monotonic() + self.options.flush_seconds
                        continue
                    w.cond.wait(left)
                if w.stopping:
                    return
            self.flush()

    def flush(self) -> None:
        """Flush the scorer's queue as one batch; wake the requests that waited for it."""
        with self._flush_lock:  # one at a time: epochs must commit in order
            self._flush_now()

    def _flush_now(self) -> None:
        w = self._window
        assert self.scorer is not None
        with w.cond:
            epoch, taken = w.epoch, w.pending  # still pending until committed
            w.epoch += 1
        try:
            self.scorer.flush()
        except Exception as err:  # noqa: BLE001 - decisions stay queued: retried next time
            self.metrics.flush_failures.inc()
            with w.cond:
                w.ids.setdefault(w.epoch, set()).update(w.ids.pop(epoch, set()))
                w.failed = f"{type(err).__name__}: {err}"
                self.metrics.pending.set(w.pending)
                self.metrics.log_failing.set(1)
                w.cond.notify_all()
            return
        self.metrics.flushes.inc()
        self.batches += 1
        self.metrics.last_flush.set(time.time())
        with w.cond:
            w.ids.pop(epoch, None)  # in the committed log now: the scorer checks them
            w.done = max(w.done, epoch)
            w.pending = max(0, w.pending - taken)
            w.failed = ""
            self.metrics.log_failing.set(0)
            self.metrics.pending.set(w.pending)
            w.cond.notify_all()

    # ---- what the service serves ---------------------------------------------------------

    def _describe(self) -> None:
        """The health document: the deployments served, their digests, the policy in force."""
        from core.identity.signer import authority_of
        from core.operations import deployments

        with self.ws.session("") as s:
            served = deployments.live(s, self.env)
            policy = authority_of(s).policy_at()
            throttle = deployments.throttle_of(s, self.env)
        self.health = {
            "env": self.env,
            "service_actor": self.actor,
            "deployments": [
                {
                    "deployment_id": d.deployment_id,
                    "arm": d.row.arm,
                    "model": d.row.model,
                    "model_digest": d.row.model_digest,
                    "retention": d.row.retention,
                    "share": d.row.share,
                }
                for d in served
            ],
            "policy": {"seq": policy[0], "digest": policy[1]} if policy else None,
            "throttle": throttle,
            "log": {
                "flush_every": self.options.flush_every,
                "flush_seconds": self.options.flush_seconds,
                "durable": self.options.durable,
                "loss_window": "none: answers wait for their batch"
                if self.options.durable
                else f"at most {self.options.flush_every} decisions or "
                f"{self.options.flush_seconds:g} s of answered decisions on a kill -9",
            },
        }

    def keep_current(self) -> None:
        """Apply what the ledger gained since the last request (see the module docstring)."""
        from core.kernel.errors import LedgerError

        seen = self.gate.sync()
        if any(not a.startswith(_NO_REFRESH) for a in seen):
            with self._refresh_lock:
                assert self.scorer is not None
                self.refreshes += 1
                try:
                    self.scorer.refresh()
                except LedgerError as err:  # withdrawn, the service suspended, a bad model
                    self.unavailable = err.msg
                else:
                    self.unavailable = ""
                self._describe()

    def _servable(self) -> bool:
        """Whether to answer: something live, the scorer current, and the log writable.

        "Every answer is logged": while flushes fail nothing new is answered (503), so the
        decisions answered but unlogged stay the few queued before the failure (in
        ``pending_decisions``), retried each second and named at stop if still unlogged.
        """
        live = any(d["arm"] == "live" for d in self.health.get("deployments", []))
        return live and not self.unavailable and not self._window.failed

    def _why_not(self) -> str:
        if self.unavailable:
            return self.unavailable
        if self._window.failed:
            return (
                f"the decision log cannot be written ({self._window.failed}): "
                "nothing is answered until a flush succeeds"
            )
        return f"nothing is deployed in {self.env}"

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: 200 with the health document, 503 when nothing can be served."""
        self.keep_current()
        doc = dict(self.health)
        with self._window.cond:
            doc["pending_decisions"] = self._window.pending
            doc["last_flush_error"] = self._window.failed or None
        ok = self._servable()
        doc["status"] = "ok" if ok else "unavailable"
        doc["unavailable_because"] = None if ok else self._why_not()
        return (200 if ok else 503), doc

    def score(self, authorization: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        """``POST /v1/score``: the HTTP status and the JSON answer."""
        started = time.perf_counter()
        try:
            status, doc = self._score(authorization, raw)
        except Exception as err:  # noqa: BLE001 - a bug or store failure: a JSON 500
            status, doc = 500, {"error": "internal", "message": f"{type(err).__name__}: {err}"}
        self.metrics.requests.labels(str(status)).inc()
        self.metrics.latency.observe(time.perf_counter() - started)
        return status, doc

    def too_large(self) -> tuple[int, dict[str, Any]]:
        """A body past :data:`MAX_BODY`: 413, counted; not read on, so nobody authenticated."""
        self.metrics.requests.labels("413").inc()
        self.metrics.latency.observe(0.0)
        return 413, {"error": "malformed", "message": f"the body is larger than {MAX_BODY} bytes"}

    def _score(self, authorization: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        from core.kernel.errors import UsageError

        assert self.scorer is not None
        self.keep_current()
        try:
            caller = self.gate.check(authorization)
        except CallRefusedError as refused:
            if refused.actor is not None:
                self._refuse(refused.actor, raw, refused.message)
            kind = "unauthenticated" if refused.status == 401 else "forbidden"
            return refused.status, {"error": kind, "message": refused.message}
        try:
            rows, ids = parse_body(raw)
        except BadRequestError as bad:
            self._refuse(caller.actor, raw, f"malformed request: {bad.message}")
            return bad.status, {"error": "malformed", "message": bad.message}
        if not self._servable():
            return 503, {"error": "unavailable", "message": self._why_not()}
        try:
            answers = self._queue(caller, rows, ids)
        except _LogFailedError:  # durable: the batch holding the decision did not commit
            return 503, {"error": "unavailable", "message": self._why_not()}
        except UsageError as bad:  # request ids already logged: a replay
            self._refuse(caller.actor, raw, f"malformed request: {bad.msg}", keep_ids=False)
            return 422, {"error": "malformed", "message": bad.msg}
        shown = [visible(a) for a in answers if _field(a, "returned") is not False]
        for a in shown:
            self.metrics.decisions.labels(str(a["status"])).inc()
        return 200, {"env": self.env, "caller": caller.actor, "decisions": shown}

    def _queue(self, caller: Caller, rows: list[dict[str, Any]], ids: list[str] | None) -> Any:
        """Score and queue; in durable mode, return only once the decisions are committed.

        Raises:
            UsageError: a request id already used by a decision not yet flushed.
        """
        from core.kernel.errors import UsageError

        w = self._window
        if ids:
            with w.cond:
                used = {i for i in ids if any(i in taken for taken in w.ids.values())}
                if used:
                    raise UsageError(
                        f"{plural(used, 'request id')} {'is' if len(used) == 1 else 'are'} "
                        f"already logged (e.g. {min(used)!r}, "
                        "in the batch not yet written)"
                    )
                w.ids.setdefault(-1, set()).update(ids)
        try:
            answers, mine = self._batcher.run(caller.actor, rows, ids)
        finally:
            if ids:
                with w.cond:
                    w.ids[-1].difference_update(ids)
        if ids:
            with w.cond:
                w.ids.setdefault(mine, set()).update(ids)
        if self.options.durable:
            with w.cond:
                w.waiters += 1
                w.cond.notify_all()
                try:
                    deadline = time.monotonic() + 30
                    while w.done < mine and not w.stopping:
                        if w.failed:
                            raise _LogFailedError(w.failed)
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise TimeoutError("the decision log did not commit in 30 s")
                        w.cond.wait(left)
                finally:
                    w.waiters -= 1
        return answers

    def _score_many(
        self, actor: str, rows: list[dict[str, Any]], ids: list[str] | None
    ) -> tuple[list[dict[str, Any]], int]:
        """One scorer call for rows of one caller; (answers in row order, the flush epoch)."""
        import pandas as pd

        assert self.scorer is not None
        frame = pd.DataFrame.from_records(rows)
        scored = self.scorer.score(frame, caller=actor, request_ids=ids, flush=False)
        answers = scored.records() if hasattr(scored, "records") else list(scored)
        if len(answers) != len(rows):  # the batcher splits answers by position
            raise RuntimeError(f"the scorer answered {len(answers)} of {len(rows)} rows")
        logged = int(getattr(scored, "logged", len(rows)))
        self.metrics.logged.inc(logged)
        w = self._window
        with w.cond:
            w.pending += logged
            mine = w.epoch  # the flush that will take what was just queued (or a later one)
            self.metrics.pending.set(w.pending)
            if w.pending >= self.options.flush_every:
                w.cond.notify_all()
        return answers, mine

    def _refuse(self, actor: str, raw: bytes, detail: str, *, keep_ids: bool = True) -> None:
        """Log a refusal after authentication as ``actor``'s decision (status refused)."""
        assert self.scorer is not None
        refuse = getattr(self.scorer, "refuse", None)
        if refuse is None:
            return
        try:
            rows, ids = parse_body(raw)
        except BadRequestError:  # what was sent is the input: its HMAC is logged, never a hash
            rows, ids = [{"request_body": raw.decode("utf-8", "replace")}], None
        ids = ids if keep_ids else None
        import pandas as pd

        from core.kernel.errors import LedgerError, UsageError

        frame = pd.DataFrame.from_records(rows)
        try:
            try:
                scored = refuse(frame, caller=actor, detail=detail, request_ids=ids, flush=False)
            except UsageError:  # ids the log refuses (malformed, already used): fresh ones
                scored = refuse(frame, caller=actor, detail=detail, flush=False)
        except LedgerError:  # nothing live to attribute the refusal to: it is only answered
            self.metrics.unlogged.inc()
            return
        logged = int(getattr(scored, "logged", len(rows)))
        self.metrics.logged.inc(logged)
        w = self._window
        with w.cond:
            w.pending += logged
            self.metrics.pending.set(w.pending)


@dataclass
class _Job:
    actor: str
    rows: list[dict[str, Any]]
    ids: list[str] | None
    shape: tuple[str, ...]
    done: bool = False
    answers: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0
    error: BaseException | None = None


class _Batcher:
    """Requests that arrive while the scorer is busy are scored together in its next call.

    The scorer decides a frame in one vectorised pass (DuckDB for conditions and input
    digests, one ``predict_proba``) and serialises its calls, so scoring one request's row at
    a time pays that fixed cost per request. Here the first waiting request leads: it takes
    every queued request of the same caller with the same columns (so a missing column stays
    an error of its own row, never a blank filled in from a neighbour) and that alike give
    request ids or not, up to
    :data:`MAX_ROWS` rows, and makes one call. Nothing waits on purpose: an idle service
    scores a lone request at once, a busy one batches exactly what queued meanwhile. The
    answers are split back by position (the scorer answers in input order).
    """

    def __init__(
        self,
        score: Callable[
            [str, list[dict[str, Any]], list[str] | None], tuple[list[dict[str, Any]], int]
        ],
    ) -> None:
        self._score = score
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False
        self.calls = 0

    def run(
        self, actor: str, rows: list[dict[str, Any]], ids: list[str] | None
    ) -> tuple[list[dict[str, Any]], int]:
        # batched only with requests alike: the same columns, and all with ids or none
        shape = (*sorted({k for r in rows for k in r}), "\0ids" if ids else "")
        job = _Job(actor, rows, ids, shape)
        with self._cond:
            self._queue.append(job)
            while not job.done and self._busy:
                self._cond.wait()
            if not job.done:
                self._busy = True
                batch, total = [], 0
                for j in list(self._queue):
                    if j.actor == actor and j.shape == shape and total + len(j.rows) <= MAX_ROWS:
                        batch.append(j)
                        total += len(j.rows)
                        self._queue.remove(j)
        if not job.done:
            try:
                self._lead(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.answers, job.epoch

    def _lead(self, batch: list[_Job]) -> None:
        self.calls += 1
        try:
            self._together(batch)
        except Exception:  # noqa: BLE001 - one bad request (a replayed id) fails alone
            if len(batch) == 1:
                batch[0].error = sys.exc_info()[1]
            else:
                for j in batch:
                    try:
                        self._together([j])
                    except Exception as err:  # noqa: BLE001 - given to its own request
                        j.error = err
        for j in batch:
            j.done = True

    def _together(self, batch: list[_Job]) -> None:
        rows = [r for j in batch for r in j.rows]
        given = [i for j in batch for i in (j.ids or [])]
        answers, epoch = self._score(batch[0].actor, rows, given or None)
        at = 0
        for j in batch:
            j.answers, j.epoch = answers[at : at + len(j.rows)], epoch
            at += len(j.rows)


def build_app(service: Service) -> Any:
    """The Starlette app over ``service``; its lifespan starts and stops the service."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def score(request: Request) -> Response:
        raw = await _read_limited(request)
        if raw is None:  # not read to its end, nor authenticated: answered, counted
            status, doc = service.too_large()
        else:
            auth = request.headers.get("authorization")
            status, doc = await run_in_threadpool(service.score, auth, raw)
        return JSONResponse(doc, status_code=status)

    async def healthz(request: Request) -> Response:
        status, doc = await run_in_threadpool(service.healthz)
        return JSONResponse(doc, status_code=status)

    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.text(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        await run_in_threadpool(service.stop)

    return Starlette(
        routes=[
            Route("/v1/score", score, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def _read_limited(request: Any) -> bytes | None:
    """The body, or None once it passes :data:`MAX_BODY` (not read further)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def bare_app(predict: Callable[[Any], Any]) -> Any:
    """The floor for the bench: the same model behind Starlette, no tokens and no log."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def score(request: Request) -> Response:
        import pandas as pd

        rows, _ = parse_body(await request.body())
        proba = await run_in_threadpool(predict, pd.DataFrame.from_records(rows))
        return JSONResponse({"scores": [float(p) for p in proba]})

    return Starlette(routes=[Route("/v1/score", score, methods=["POST"])])


# ---- the server ---------------------------------------------------------------------------


def check_host(host: str) -> str:
    """``host`` if it is a loopback address (``localhost`` is 127.0.0.1).

    This is an offline workstation: the service answers this machine only. Exposing it to a
    network would turn a governed scorer into an unguarded one (tokens travel in clear over
    plain HTTP), so no option binds another address.

    Raises:
        UsageError: for any other address or name.
    """
    import ipaddress

    from core.kernel.errors import UsageError

    literal = "127.0.0.1" if host == "localhost" else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise UsageError(
            f"refusing to listen on {host!r}: the scoring service listens on loopback only",
            hint="Use 127.0.0.1 (the default) or ::1; this workstation is offline by design.",
        )
    return literal


def listen(host: str, port: int) -> Any:
    """A bound, listening socket on a loopback address (``port`` 0: any free port).

    Binding here, before uvicorn starts, tells the caller the real port before the first
    request, and a test needs no guessed free port.
    """
    import socket

    literal = check_host(host)
    family = socket.AF_INET6 if ":" in literal else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((literal, port))
    sock.listen(256)
    return sock


def server(app: Any, *, log_level: str = "warning") -> Any:
    """A uvicorn server for ``app`` (run it with ``server.run(sockets=[listen(...)])``).

    Its access log is off: the decision log is the record of calls, and a request line is
    no place for anything. uvicorn's graceful shutdown on SIGTERM or Ctrl-C runs the app's
    lifespan end, which flushes the log.
    """
    import uvicorn

    config = uvicorn.Config(
        app, lifespan="on", log_level=log_level, access_log=False, timeout_graceful_shutdown=10
    )
    return uvicorn.Server(config)
