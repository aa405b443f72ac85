"""Monitoring: one window of an environment's decisions compared with the live model's birth.

``run`` reads the decision batches of ``env`` in the window (each Parquet object read whole
and checked against its digest before a byte is parsed), and the live model's run: its
training snapshot and its held-out predictions. In an in-memory DuckDB (never the catalog)
it measures, each as a check with a verdict (:mod:`core.kernel.verdict`):

- **input drift** per feature against the training snapshot: PSI (reference deciles or
  values) with KS for numbers and chi-square for categories, the same code as validation
  suites' drift checks (:mod:`core.data.drift`). It needs the inputs, which the log keeps
  only under retention ``rows``: without them it is INCONCLUSIVE and says why.
- **prediction drift**: the scores against the run's held-out predictions (PSI, KS).
- **training-serving skew**, measured as *domain skew*: the share of served inputs the
  training data never had (an unseen category, a number outside the training range) and
  the change in the missing-value rate, per feature.
- **error and refusal rates** over served requests, and **latency** where it is recorded.
- **estimated accuracy (CBPE)**: before labels, the accuracy the model's scores promise once
  calibrated on the held-out predictions (isotonic), as NannyML's CBPE does.
- where outcomes are recorded: **realised accuracy**, **calibration** (ECE), the
  **reconciliation** of CBPE with the realised figure on the same decisions, and per day
  the series of both.
- **fairness by group**: the favourable-decision rate per group of each sensitive attribute
  the log keeps, their lowest ratio, and per-group realised accuracy where labels exist.

The SLO set in force is checked on the same figures; the evidence (a JSON blob) and the
overall verdict are one ``monitor.run`` event. Each breached objective then records a
``monitor.alert``; when no incident is open for it, the alert opens one and the playbook's
automatic steps run (:mod:`core.operations.incidents`): one incident per breach episode.
Those are separate commands after the run: a crash between them loses no evidence, and the
next run finds the breach again.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.evidence.vocabulary import breach_in_words, plural
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import (
    DecisionBatchRow,
    IncidentActionRow,
    IncidentRow,
    MonitorRunRow,
    OpsAlertRow,
    OutcomeBatchRow,
)
from core.kernel.verdict import FAIL, INCONCLUSIVE, PASS, WARN, worst
from core.kernel.workspace import Session, Workspace
from core.operations.deployments import check_env, live
from core.operations.monitor_events import OPS_ROLES, Alerted, MonitorRan

EVIDENCE_MEDIA_TYPE = "application/vnd.ledgerml.monitoring+json"
FORMAT = "ledgerml-monitor/1"
MIN_ROWS = 30
"""Fewer decisions (or labelled decisions, or members of a group) than this: INCONCLUSIVE."""
PSI_WARN, PSI_FAIL = 0.1, 0.25
"""The usual PSI reading: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major."""
P_WARN = 0.001
"""A KS or chi-square p-value below this warns even when PSI is small (a significant shift)."""
SKEW_WARN, SKEW_FAIL = 0.01, 0.05
ERROR_WARN, ERROR_FAIL = 0.01, 0.05
REFUSAL_WARN = 0.25
ACCURACY_WARN, ACCURACY_FAIL = 0.05, 0.10
"""A drop from the held-out accuracy (realised or estimated) beyond these."""
RECONCILE_TOLERANCE = 0.05
ECE_WARN, ECE_FAIL = 0.10, 0.15
FAIRNESS_WARN = 0.8
"""The four-fifths rule: a group receiving the favourable decision at under 80% of the rate
of the best-treated group warns."""
LATENCY_WARN_MS = 1000.0
MAX_GROUPS = 20
"""A sensitive attribute with more distinct values than this is a raw number, not groups."""
_WINDOW = re.compile(r"^(\d{1,4})([mhd])$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_window(text: str) -> timedelta | None:
    """``30m``, ``24h``, ``7d`` (None for ``all``: every decision).

    Raises:
        UsageError: anything else.
    """
    if text == "all":
        return None
    m = _WINDOW.match(text)
    if not m or int(m.group(1)) == 0:
        raise UsageError(
            f"invalid window {text!r}", hint="e.g. 30m, 24h, 7d, or all for every decision."
        )
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(minutes=n) if unit == "m" else timedelta(hours=n if unit == "h" else n * 24)


def ts(moment: datetime) -> str:
    """A time in the decision log's format."""
    return moment.astimezone(UTC).strftime(TS_FORMAT)


@dataclass
class Reference:
    """What the live model was born with: its training data and held-out predictions."""

    table: str
    """A DuckDB table expression of the training snapshot."""
    features: list[str]
    y_true: list[int]
    probability: list[float]
    threshold: float
    favourable: int
    sensitive: list[str] = field(default_factory=list)
    name: str = ""


def _check(
    name: str,
    kind: str,
    verdict: str,
    observed: dict[str, Any] | None,
    threshold: dict[str, Any] | None = None,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "verdict": verdict,
        "observed": observed,
        "threshold": threshold or {},
        "detail": detail,
    }


def _r(x: float | None, places: int = 6) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), places)


def _drift_verdict(psi: float | None, p: float | None) -> str:
    if psi is None:
        return INCONCLUSIVE
    if psi >= PSI_FAIL:
        return FAIL
    if psi >= PSI_WARN or (p is not None and p < P_WARN):
        return WARN
    return PASS


_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "REAL",
)


def _numeric_columns(con: Any, table: str) -> dict[str, bool]:
    """Each column of ``table`` and whether DuckDB holds it as a number."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    return {r[0]: str(r[1]).upper().startswith(_NUMERIC_TYPES) for r in rows}


def evaluate(
    con: Any, ref: Reference | None, decisions: str, outcomes: str | None, digest: str | None
) -> dict[str, Any]:
    """Every check of one window: ``decisions`` and ``outcomes`` are DuckDB tables on ``con``.

    ``digest`` is the monitored model's: only its decisions count for scores, performance
    and fairness (a window can span a rollback). Returns ``checks``, ``metrics`` (the
    figures SLOs bound, None where unmeasured), ``unmeasured`` (why), ``partial`` (figures
    taken over part of what they cover, and what was left out), ``counts``,
    ``features``, ``series`` and ``groups``.
    """
    from core.data import drift

    checks: list[dict[str, Any]] = []
    metrics: dict[str, float | None] = {}
    why: dict[str, str] = {}
    cols = _numeric_columns(con, decisions)
    total, served, ok, refused, errors, shadow = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE returned), "
        "count(*) FILTER (WHERE returned AND status = 'ok'), "
        "count(*) FILTER (WHERE returned AND status = 'refused'), "
        "count(*) FILTER (WHERE returned AND status = 'error'), "
        f"count(*) FILTER (WHERE NOT returned) FROM {decisions}"
    ).fetchone()
    counts: dict[str, Any] = {
        "decisions": int(total),
        "served": int(served),
        "ok": int(ok),
        "refused": int(refused),
        "errors": int(errors),
        "shadow": int(shadow),
    }
    # what a `decisions` objective guards is a service still deciding: count the answers
    # (served, status ok), never refusals, throttled requests, errors or shadow rows
    metrics["decisions"] = float(ok)
    models = dict(
        con.execute(f"SELECT model, count(*) FROM {decisions} GROUP BY 1 ORDER BY 1").fetchall()
    )
    counts["by_model"] = {str(k): int(v) for k, v in models.items()}
    if served == 0:
        for m in ("error_rate", "refusal_rate"):
            metrics[m], why[m] = None, "no served decisions in the window"
        checks.append(
            _check(
                "decisions",
                "volume",
                INCONCLUSIVE,
                {"served": 0},
                detail="no served decisions in the window: nothing to judge",
            )
        )
    else:
        err_rate, ref_rate = errors / served, refused / served
        metrics["error_rate"], metrics["refusal_rate"] = _r(err_rate), _r(ref_rate)
        checks.append(
            _check(
                "error_rate",
                "errors",
                FAIL if err_rate >= ERROR_FAIL else WARN if err_rate >= ERROR_WARN else PASS,
                {"rate": _r(err_rate), "errors": int(errors), "served": int(served)},
                {"warn": ERROR_WARN, "fail": ERROR_FAIL},
            )
        )
        checks.append(
            _check(
                "refusal_rate",
                "refusals",
                FAIL if ok == 0 and refused else WARN if ref_rate >= REFUSAL_WARN else PASS,
                {"rate": _r(ref_rate), "refused": int(refused), "served": int(served)},
                {"warn": REFUSAL_WARN},
                "refusals include requests an approval condition or a throttle turned away"
                + ("; every served request was refused: nothing was answered" if not ok else ""),
            )
        )
    _latency(con, decisions, checks, metrics, why)
    features: list[dict[str, Any]] = []
    inputs = f"(SELECT * FROM {decisions} WHERE returned AND status <> 'error')"
    if ref is None:
        for m in ("drift_psi", "skew_rate", "prediction_psi", "estimated_accuracy"):
            metrics[m], why[m] = None, "the live deployment has no training run to compare with"
        checks.append(
            _check(
                "input_drift",
                "drift",
                INCONCLUSIVE,
                None,
                detail="the live deployment is a rule-based baseline: no training snapshot",
            )
        )
    else:
        ref_cols = _numeric_columns(con, ref.table)
        kept = [f for f in ref.features if f"in.{f}" in cols]
        n_inputs = int(con.execute(f"SELECT count(*) FROM {inputs}").fetchone()[0])
        if not kept:
            reason = (
                "the decision log keeps no inputs (the deployment's retention is hmac-only, "
                "not rows): input drift and skew cannot be measured from keyed digests"
            )
            for m in ("drift_psi", "skew_rate"):
                metrics[m], why[m] = None, reason
            checks.append(_check("input_drift", "drift", INCONCLUSIVE, None, detail=reason))
            checks.append(_check("skew", "skew", INCONCLUSIVE, None, detail=reason))
        elif n_inputs < MIN_ROWS:
            reason = f"{n_inputs} inputs in the window, fewer than {MIN_ROWS}"
            for m in ("drift_psi", "skew_rate"):
                metrics[m], why[m] = None, reason
            checks.append(
                _check("input_drift", "drift", INCONCLUSIVE, {"inputs": n_inputs}, detail=reason)
            )
            checks.append(_check("skew", "skew", INCONCLUSIVE, {"inputs": n_inputs}, detail=reason))
        else:
            psis: list[float] = []
            skews: list[float] = []
            is_num = {f: bool(ref_cols.get(f, False) and cols.get(f"in.{f}", False)) for f in kept}
            n_ref = int(con.execute(f"SELECT count(*) FROM {ref.table}").fetchone()[0])
            for f in ref.features:
                if f not in kept:
                    features.append({"feature": f, "verdict": INCONCLUSIVE, "detail": "not logged"})
                    checks.append(
                        _check(
                            f"drift:{f}",
                            "drift",
                            INCONCLUSIVE,
                            None,
                            detail=f"the decision log has no column in.{f}",
                        )
                    )
                    continue
                numeric = is_num[f]
                if numeric:
                    p = drift.psi(con, ref.table, inputs, f, numeric=True, cur_col=f"in.{f}")
                    a = drift.finite(con, ref.table, f)
                    b = drift.finite(con, inputs, f"in.{f}")
                    t = drift.ks_of(a, b)
                    sk = _numeric_skew(a, b, n_ref, n_inputs)
                else:  # one pair of value counts gives PSI, chi-square and the unseen values
                    keys, e, a = drift.counts(con, ref.table, inputs, f, cur_col=f"in.{f}")
                    p, t, sk = drift.psi_of(e, a), drift.chi2_of(e, a), _value_skew(keys, e, a)
                test = "ks" if numeric else "chi2"
                verdict = _drift_verdict(p["statistic"], t.get("p_value"))
                if p["statistic"] is not None:
                    psis.append(p["statistic"])
                skews.append(sk["out_of_domain"])
                features.append(
                    {
                        "feature": f,
                        "numeric": bool(numeric),
                        "psi": p["statistic"],
                        "bins": p["bins"],
                        test: {"statistic": t["statistic"], "p_value": t["p_value"]},
                        "skew": sk,
                        "verdict": verdict,
                    }
                )
                checks.append(
                    _check(
                        f"drift:{f}",
                        "drift",
                        verdict,
                        {"psi": p["statistic"], test: t["statistic"], "p_value": t["p_value"]},
                        {"psi_warn": PSI_WARN, "psi_fail": PSI_FAIL, "p_warn": P_WARN},
                    )
                )
            metrics["drift_psi"] = _r(max(psis)) if psis else None
            worst_skew = max(skews) if skews else 0.0
            metrics["skew_rate"] = _r(worst_skew)
            checks.append(
                _check(
                    "skew",
                    "skew",
                    FAIL if worst_skew >= SKEW_FAIL else WARN if worst_skew >= SKEW_WARN else PASS,
                    {
                        "measure": "domain skew: share of served inputs outside the training "
                        "domain (unseen category, number outside the training range)",
                        "worst": _r(worst_skew),
                        "feature": max(
                            (x for x in features if "skew" in x),
                            key=lambda x: x["skew"]["out_of_domain"],
                        )["feature"],
                    },
                    {"warn": SKEW_WARN, "fail": SKEW_FAIL},
                )
            )
    perf = _performance(con, ref, decisions, outcomes, digest, checks, metrics, why)
    partial: dict[str, str] = {}
    groups = _fairness(con, ref, decisions, outcomes, digest, cols, checks, metrics, why, partial)
    return {
        "counts": counts,
        "checks": checks,
        "metrics": metrics,
        "unmeasured": why,
        "partial": partial,
        "features": features,
        "series": perf,
        "groups": groups,
    }


def _numeric_skew(a: Any, b: Any, n_ref: int, n_cur: int) -> dict[str, Any]:
    """Domain skew of a numeric feature from the finite values KS already read.

    The share of served values outside the training range, and the change in the share of
    missing (or non-finite) values.
    """
    import numpy as np

    if len(a) == 0:
        return {"out_of_domain": 0.0, "missing_change": None, "training_range": [None, None]}
    lo, hi = float(a.min()), float(a.max())
    share = float(np.count_nonzero((b < lo) | (b > hi))) / n_cur if n_cur else 0.0
    missing = (n_cur - len(b)) / n_cur - (n_ref - len(a)) / n_ref if n_cur and n_ref else None
    return {
        "out_of_domain": _r(share) or 0.0,
        "missing_change": _r(missing),
        "training_range": [_r(lo), _r(hi)],
    }


def _value_skew(keys: list[Any], expected: list[int], actual: list[int]) -> dict[str, Any]:
    """Domain skew of a categorical feature from its value counts: values training never saw."""
    te, ta = sum(expected) or 1, sum(actual) or 1
    unseen = sum(
        a for k, e, a in zip(keys, expected, actual, strict=True) if k is not None and e == 0
    )
    ref_null = sum(e for k, e in zip(keys, expected, strict=True) if k is None) / te
    cur_null = sum(a for k, a in zip(keys, actual, strict=True) if k is None) / ta
    return {
        "out_of_domain": _r(unseen / ta) or 0.0,
        "missing_change": _r(cur_null - ref_null),
        "unseen_values": sum(
            1
            for k, e, a in zip(keys, expected, actual, strict=True)
            if k is not None and e == 0 and a
        ),
    }


def _latency(
    con: Any, decisions: str, checks: list[dict[str, Any]], metrics: dict[str, Any], why: Any
) -> None:
    row = con.execute(
        "SELECT count(latency_ms), quantile_cont(latency_ms, 0.5), "
        "quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99) "
        f"FROM {decisions} WHERE returned AND latency_ms IS NOT NULL"
    ).fetchone()
    n = int(row[0] or 0)
    if n == 0:
        reason = (
            "no decision in the window records a request latency (only the scoring service "
            "does; batch scoring logs none)"
        )
        for m in ("latency_p50_ms", "latency_p99_ms"):
            metrics[m], why[m] = None, reason
        return  # no check: batch scoring has no request latency to judge (an SLO on it is
        # INCONCLUSIVE with this reason, never a pass)
    p50, p95, p99 = (_r(v, 3) for v in row[1:])
    metrics["latency_p50_ms"], metrics["latency_p99_ms"] = p50, p99
    checks.append(
        _check(
            "latency",
            "latency",
            WARN if (p99 or 0) >= LATENCY_WARN_MS else PASS,
            {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "measured": n},
            {"p99_warn_ms": LATENCY_WARN_MS},
        )
    )


def _calibrator(ref: Reference) -> Any:
    import numpy as np
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(np.asarray(ref.probability, dtype=float), np.asarray(ref.y_true, dtype=float))
    return iso


def reference_accuracy(ref: Reference) -> float:
    """The held-out accuracy of the run at its threshold (what monitoring compares with)."""
    import numpy as np

    p = np.asarray(ref.probability, dtype=float)
    y = np.asarray(ref.y_true, dtype=int)
    return float(((p >= ref.threshold).astype(int) == y).mean()) if len(y) else float("nan")


def expected_correct(cal: Any, scores: Any, labels: Any) -> Any:
    """CBPE: each decision's probability of being right, from its calibrated score."""
    import numpy as np

    c = cal.predict(np.asarray(scores, dtype=float))
    return np.where(np.asarray(labels) == 1, c, 1.0 - c)


def ece(scores: Any, outcomes: Any, bins: int = 10) -> float:
    """Expected calibration error over equal-width score bins."""
    import numpy as np

    s, y = np.asarray(scores, dtype=float), np.asarray(outcomes, dtype=float)
    idx = np.minimum((s * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(float(s[mask].mean()) - float(y[mask].mean()))
    return total


def _scored(decisions: str, digest: str | None) -> str:
    if digest is not None and not _DIGEST.match(digest):
        raise ValueError(f"not a digest: {digest!r}")
    cond = f" AND model_digest = '{digest}'" if digest else ""
    return (
        f"(SELECT * FROM {decisions} WHERE status = 'ok' AND score IS NOT NULL "
        f"AND arm <> 'shadow'{cond})"
    )


def _performance(
    con: Any,
    ref: Reference | None,
    decisions: str,
    outcomes: str | None,
    digest: str | None,
    checks: list[dict[str, Any]],
    metrics: dict[str, Any],
    why: dict[str, str],
) -> list[dict[str, Any]]:
    import numpy as np

    scored = _scored(decisions, digest)
    join = f"LEFT JOIN {outcomes} o USING (request_id)" if outcomes else ""
    got = con.execute(
        f"SELECT CAST(CAST(substr(d.ts, 1, 10) AS DATE) - DATE '1970-01-01' AS INTEGER) AS day, "
        "d.score, "
        f"coalesce(CAST(d.label AS INTEGER), 0) AS label, "
        f"{'coalesce(CAST(o.outcome AS INTEGER), -1)' if outcomes else '-1'} AS outcome, "
        f"d.label IS NULL AS unlabelled FROM {scored} d {join}"
    ).fetchnumpy()
    n = len(got["score"])
    for m in ("accuracy", "calibration_error"):
        metrics.setdefault(m, None)
    if ref is None:
        why.setdefault("accuracy", "the live deployment has no training run")
        return []
    scores = np.asarray(got["score"], dtype=float)
    labels = np.where(
        np.asarray(got["unlabelled"], dtype=bool),
        (scores >= ref.threshold).astype(int),
        np.asarray(got["label"], dtype=int),
    )
    outcome = np.asarray(got["outcome"], dtype=int)
    has = outcome >= 0
    base = reference_accuracy(ref)
    # prediction drift: the scores against the held-out predictions
    if n < MIN_ROWS:
        metrics["prediction_psi"], why["prediction_psi"] = None, f"{n} scored decisions"
        metrics["estimated_accuracy"] = None
        why["estimated_accuracy"] = f"{n} scored decisions, fewer than {MIN_ROWS}"
        why.setdefault("accuracy", why["estimated_accuracy"])
        why.setdefault("calibration_error", why["estimated_accuracy"])
        checks.append(
            _check(
                "prediction_drift",
                "drift",
                INCONCLUSIVE,
                {"scored": n},
                detail=f"{n} scored decisions of the live model, fewer than {MIN_ROWS}",
            )
        )
        return []
    from core.data import drift

    con.register("__ref_scores", {"score": np.asarray(ref.probability, dtype=float)})
    try:
        p = drift.psi(con, "__ref_scores", scored, "score", numeric=True)
        k = drift.ks(con, "__ref_scores", scored, "score")
    finally:
        con.unregister("__ref_scores")
    metrics["prediction_psi"] = p["statistic"]
    checks.append(
        _check(
            "prediction_drift",
            "drift",
            _drift_verdict(p["statistic"], k["p_value"]),
            {
                "psi": p["statistic"],
                "ks": k["statistic"],
                "p_value": k["p_value"],
                "mean_score": _r(float(scores.mean())),
                "reference_mean_score": _r(float(np.mean(ref.probability))),
            },
            {"psi_warn": PSI_WARN, "psi_fail": PSI_FAIL, "p_warn": P_WARN},
        )
    )
    cal = _calibrator(ref)
    exp_ok = expected_correct(cal, scores, labels)
    est = float(exp_ok.mean())
    metrics["estimated_accuracy"] = _r(est)
    drop = base - est
    checks.append(
        _check(
            "estimated_accuracy",
            "performance",
            FAIL if drop >= ACCURACY_FAIL else WARN if drop >= ACCURACY_WARN else PASS,
            {
                "method": "CBPE: mean calibrated probability of each decision being right; "
                "isotonic calibration on the run's held-out predictions",
                "estimated": _r(est),
                "reference": _r(base),
                "drop": _r(drop),
                "scored": n,
            },
            {"drop_warn": ACCURACY_WARN, "drop_fail": ACCURACY_FAIL},
        )
    )
    labelled = int(has.sum())
    if labelled < MIN_ROWS:
        reason = f"{labelled} decisions with a recorded outcome, fewer than {MIN_ROWS}"
        why["accuracy"] = why["calibration_error"] = reason
        checks.append(
            _check("accuracy", "performance", INCONCLUSIVE, {"labelled": labelled}, detail=reason)
        )
    else:
        right = (labels[has] == outcome[has]).astype(float)
        acc = float(right.mean())
        est_same = float(exp_ok[has].mean())
        metrics["accuracy"] = _r(acc)
        e = ece(scores[has], outcome[has])
        metrics["calibration_error"] = _r(e)
        drop = base - acc
        checks.append(
            _check(
                "accuracy",
                "performance",
                FAIL if drop >= ACCURACY_FAIL else WARN if drop >= ACCURACY_WARN else PASS,
                {
                    "realised": _r(acc),
                    "reference": _r(base),
                    "drop": _r(drop),
                    "labelled": labelled,
                },
                {"drop_warn": ACCURACY_WARN, "drop_fail": ACCURACY_FAIL},
            )
        )
        gap = est_same - acc
        checks.append(
            _check(
                "cbpe_reconciliation",
                "performance",
                WARN if abs(gap) > RECONCILE_TOLERANCE else PASS,
                {
                    "estimated": _r(est_same),
                    "realised": _r(acc),
                    "gap": _r(gap),
                    "labelled": labelled,
                },
                {"tolerance": RECONCILE_TOLERANCE},
                ""
                if abs(gap) <= RECONCILE_TOLERANCE
                else "the estimate missed the realised "
                "accuracy: the score-to-outcome relation changed (concept drift)",
            )
        )
        checks.append(
            _check(
                "calibration",
                "calibration",
                FAIL if e >= ECE_FAIL else WARN if e >= ECE_WARN else PASS,
                {"ece": _r(e), "labelled": labelled},
                {"warn": ECE_WARN, "fail": ECE_FAIL},
            )
        )
    series = []
    days = np.asarray(got["day"], dtype=np.int64)
    for day in np.unique(days).tolist():
        m = days == day
        hm = m & has
        series.append(
            {
                "day": str(np.datetime64(int(day), "D")),
                "scored": int(m.sum()),
                "mean_score": _r(float(scores[m].mean())),
                "estimated_accuracy": _r(float(exp_ok[m].mean())),
                "labelled": int(hm.sum()),
                "accuracy": _r(float((labels[hm] == outcome[hm]).mean())) if hm.any() else None,
            }
        )
    return series


def _fairness(
    con: Any,
    ref: Reference | None,
    decisions: str,
    outcomes: str | None,
    digest: str | None,
    cols: dict[str, bool],
    checks: list[dict[str, Any]],
    metrics: dict[str, Any],
    why: dict[str, str],
    partial: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Favourable-decision rates by group of each declared sensitive attribute.

    A ratio is taken between groups of at least :data:`MIN_ROWS` decisions only; a smaller
    group is listed as "too few to judge" with its counts, never silently dropped. What
    cannot be judged (an attribute the log does not keep, one with more than
    :data:`MAX_GROUPS` values, one with fewer than two groups big enough, a small group
    left out) makes the check INCONCLUSIVE and is named in it: fairness over part of the
    declared attributes is not a pass. ``fairness_ratio`` is then recorded in ``partial``
    (see :func:`judge_slo`): the lowest ratio over what was judged can show a breach but
    cannot satisfy an objective, since a group not judged may be treated worse.
    """
    from core.data.duck import quote_ident

    metrics["fairness_ratio"] = None
    if ref is None or not ref.sensitive:
        why["fairness_ratio"] = "the live model declares no sensitive attributes"
        return {}
    kept = [a for a in ref.sensitive if f"in.{a}" in cols]
    if not kept:
        reason = (
            "the decision log keeps no sensitive attribute (retention hmac-only, or not sent): "
            "fairness by group cannot be measured"
        )
        why["fairness_ratio"] = reason
        checks.append(_check("fairness", "fairness", INCONCLUSIVE, None, detail=reason))
        return {}
    scored = _scored(decisions, digest)
    join = f"LEFT JOIN {outcomes} o USING (request_id)" if outcomes else ""
    out_expr = "CAST(o.outcome AS INTEGER)" if outcomes else "NULL::INTEGER"
    groups: dict[str, Any] = {}
    ratios: list[float] = []
    not_judged: dict[str, str] = {
        a: f"the decision log has no column in.{a}" for a in ref.sensitive if a not in kept
    }
    too_few: dict[str, list[dict[str, Any]]] = {}
    for a in not_judged:
        groups[a] = {"groups": [], "ratio": None, "judged": False, "detail": not_judged[a]}
    for a in kept:
        rows = con.execute(
            f"SELECT coalesce(CAST(d.{quote_ident('in.' + a)} AS VARCHAR), 'missing') AS g, "
            f"count(*) AS n, avg(CASE WHEN coalesce(CAST(d.label AS INTEGER), "
            f"CASE WHEN d.score >= {float(ref.threshold)!r} THEN 1 ELSE 0 END) = "
            f"{int(ref.favourable)} THEN 1.0 ELSE 0.0 END) AS rate, "
            f"count({out_expr}) AS labelled, "
            f"avg(CASE WHEN {out_expr} IS NULL THEN NULL WHEN {out_expr} = "
            f"coalesce(CAST(d.label AS INTEGER), CASE WHEN d.score >= "
            f"{float(ref.threshold)!r} THEN 1 ELSE 0 END) THEN 1.0 ELSE 0.0 END) AS acc "
            f"FROM {scored} d {join} GROUP BY 1 ORDER BY 1"
        ).fetchall()
        table = [
            {
                "group": g,
                "decisions": int(n),
                "favourable_rate": _r(rate),
                "labelled": int(lab),
                "accuracy": _r(acc) if lab >= MIN_ROWS else None,
                "judged": int(n) >= MIN_ROWS,
            }
            for g, n, rate, lab, acc in rows
        ]
        if len(table) > MAX_GROUPS:  # a raw number (age in years), not a grouping
            detail = (
                f"{len(table)} distinct values: not judged as groups (more than "
                f"{MAX_GROUPS}); a banded attribute is"
            )
            not_judged[a] = detail
            groups[a] = {"groups": [], "ratio": None, "judged": False, "detail": detail}
            continue
        small = [t for t in table if not t["judged"]]
        for t in small:
            t["detail"] = f"too few to judge: {t['decisions']} decisions, fewer than {MIN_ROWS}"
        if small:
            too_few[a] = [
                {
                    "group": t["group"],
                    "decisions": t["decisions"],
                    "favourable": t["favourable_rate"],
                }
                for t in small
            ]
        big = [t for t in table if t["judged"]]
        ratio = None
        detail = ""
        if len(big) < 2:
            detail = (
                f"{plural(len(big), 'group')} of at least {MIN_ROWS} decisions: no ratio to take"
            )
        else:
            rates = [t["favourable_rate"] or 0.0 for t in big]
            if max(rates) > 0:
                ratio = _r(min(rates) / max(rates))
            else:
                detail = "no judged group received the favourable decision: no ratio to take"
        if ratio is None:
            not_judged[a] = detail
        else:
            ratios.append(ratio)
        groups[a] = {"groups": table, "ratio": ratio, "judged": ratio is not None}
        if detail:
            groups[a]["detail"] = detail
    gaps = [f"{a}: {d}" for a, d in not_judged.items()] + [
        f"{a}: "
        + ", ".join(f"{t['group']} ({t['decisions']} decisions)" for t in ts)
        + " too few to judge"
        for a, ts in too_few.items()
    ]
    observed = {
        "measure": "lowest ratio of favourable-decision rates between groups of at "
        f"least {MIN_ROWS} decisions",
        "by_attribute": {a: g["ratio"] for a, g in groups.items()},
        "not_judged": not_judged,
        "too_few_to_judge": too_few,
    }
    if not ratios:
        reason = "no sensitive attribute could be judged: " + "; ".join(gaps)
        why["fairness_ratio"] = reason
        checks.append(
            _check(
                "fairness",
                "fairness",
                INCONCLUSIVE,
                observed | {"attributes": list(ref.sensitive)},
                {"warn_below": FAIRNESS_WARN},
                reason,
            )
        )
        return groups
    low = min(ratios)
    metrics["fairness_ratio"] = low
    verdict = WARN if low < FAIRNESS_WARN else PASS
    detail = ""
    if gaps:
        detail = (
            f"judged over part of the data only (lowest ratio {low} where judged); not "
            "judged: " + "; ".join(gaps)
        )
        verdict = worst([verdict, INCONCLUSIVE])
        if partial is not None:
            partial["fairness_ratio"] = detail
    checks.append(
        _check(
            "fairness",
            "fairness",
            verdict,
            observed | {"ratio": low},
            {"warn_below": FAIRNESS_WARN},
            detail,
        )
    )
    return groups


def judge_slo(
    doc: dict[str, Any],
    metrics: dict[str, Any],
    why: dict[str, str],
    partial: dict[str, str] | None = None,
) -> list[Any]:
    """Each SLO objective against the run's figures: its verdict and whether it is breached.

    An objective whose figure could not be measured is INCONCLUSIVE (never a pass, never a
    breach: an alarm needs evidence). A figure measured over part of what it covers
    (``partial``: the lowest fairness ratio when some attributes or groups were not judged)
    is a minimum over that part, an upper bound of the whole: it breaches a ``min`` bound it
    falls below, and is otherwise INCONCLUSIVE (the part not judged may be lower).
    """
    partial = partial or {}
    out = []
    for o in doc["objectives"]:
        value = metrics.get(o["metric"])
        bound = f">= {o['min']}" if o.get("min") is not None else f"<= {o['max']}"
        item = {
            "name": o["name"],
            "metric": o["metric"],
            "threshold": bound,
            "observed": value,
            "breached": False,
        }
        if value is None:
            item |= {"verdict": INCONCLUSIVE, "detail": why.get(o["metric"], "not measured")}
        else:
            low = o.get("min") is not None and value < o["min"]
            high = o.get("max") is not None and value > o["max"]
            breached = bool(low or high)
            item |= {"verdict": o["verdict"] if breached else PASS, "breached": breached}
            if o["metric"] in partial and not low:
                item |= {
                    "verdict": INCONCLUSIVE,
                    "breached": False,
                    "detail": partial[o["metric"]],
                }
        out.append(item)
    return out


# ---- the recorded run ---------------------------------------------------------------------


@dataclass
class Plan:
    """What ``run`` resolved under the lock: the model, the objects, the SLO in force."""

    env: str
    window: str
    start: str | None
    end: str
    deployment: Any
    reference: dict[str, Any] | None
    batches: list[DecisionBatchRow]
    outcomes: list[OutcomeBatchRow]
    slo: Any
    playbook: Any


@dataclass
class MonitorResult:
    """A recorded monitoring run, its evidence and what it set off."""

    row: MonitorRunRow
    evidence: dict[str, Any]
    alerts: list[OpsAlertRow] = field(default_factory=list)
    incidents: list[IncidentRow] = field(default_factory=list)
    actions: list[IncidentActionRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "run": self.row.as_dict(),
            "evidence": self.evidence,
            "alerts": [a.as_dict() for a in self.alerts],
            "incidents": [i.as_dict() for i in self.incidents],
            "actions": [a.as_dict() for a in self.actions],
        }


def _plan(s: Session, env: str, window: str, until: str | None) -> Plan:
    from core.modelling.training import load_run_spec, run_record
    from core.operations.ops_config import in_force

    span = parse_window(window)
    end_dt = datetime.now(UTC) if until is None else _parse_ts(until)
    end = ts(end_dt)
    start = ts(end_dt - span) if span is not None else None
    current = [d for d in live(s, env) if d.row.arm == "live"]
    if not current:
        raise CheckFailedError(
            f"{env} has no live deployment to monitor",
            hint=f"`ledgerml deployments --env {env}` shows what ran there.",
        )
    dep = current[0]
    reference = None
    model = s.catalog.model(dep.row.model) if not dep.row.model.startswith("baseline:") else None
    if model is not None:
        run_row = s.catalog.run(model.run_id)
        assert run_row is not None
        record = run_record(s.workspace, run_row)
        spec = load_run_spec(s.workspace, run_row)
        snap = s.catalog.snapshot(run_row.input_ref)
        assert snap is not None
        reference = {
            "model": model.ref,
            "run": run_row.run_id,
            "snapshot": snap.ref,
            "snapshot_row": snap,
            "predictions_object": record.predictions_object,
            "features": list(spec.features),
            "sensitive": list(spec.sensitive),
            "threshold": spec.threshold,
            "favourable": spec.outcome.favourable_prediction if spec.outcome else None,
        }
    params: list[Any] = [env, end]
    cond = "env = ? AND first_ts <= ?"
    if start is not None:
        cond += " AND last_ts >= ?"
        params.append(start)
    batches = s.catalog.rows(
        DecisionBatchRow, f"SELECT * FROM decision_batches WHERE {cond} ORDER BY seq", params
    )
    outcomes = s.catalog.rows(OutcomeBatchRow, "SELECT * FROM outcome_batches ORDER BY seq")
    return Plan(
        env,
        window,
        start,
        end,
        dep,
        reference,
        batches,
        outcomes,
        in_force(s, "slo", env),
        in_force(s, "playbook", env),
    )


def _parse_ts(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise UsageError(f"invalid time {text!r}", hint="e.g. 2026-03-01T00:00:00Z") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def verified_copies(
    ws: Workspace, digests: list[str], folder: Path, *, filename: bool = False
) -> str | None:
    """The Parquet objects as one DuckDB table expression over private copies.

    Each object is read whole and checked against its digest, then written to ``folder``
    (this process's own): what DuckDB parses is the bytes that were checked, not a file an
    insider could swap between the check and the read. With ``filename`` each row carries
    the copy's path (``folder/DIGEST.parquet``) in a ``filename`` column.
    """
    from core.data.duck import sql_text

    paths = []
    for d in digests:
        path = folder / f"{d}.parquet"
        path.write_bytes(ws.objects.read_verified(d))
        paths.append(f"'{sql_text(str(path))}'")
    if not paths:
        return None
    extra = ", filename = true" if filename else ""
    return f"read_parquet([{', '.join(paths)}], union_by_name = true{extra})"


def compute(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The evidence of one planned window (records nothing)."""
    import shutil
    import tempfile

    from core.data import duck, encryption
    from storage.fsutil import private_dir

    private_dir(ws.root / "tmp")
    folder = Path(tempfile.mkdtemp(prefix="monitor-", dir=ws.root / "tmp"))
    con = duck.connect(ws.root / "tmp")
    try:
        ref = None
        info = plan.reference
        if info is not None:
            preds = json.loads(ws.objects.read_verified(info["predictions_object"]))
            ref = Reference(
                # verified; decrypted in memory under the caller's encryption.open
                table=encryption.table_source(ws, con, info["snapshot_row"]),
                features=info["features"],
                y_true=preds["y_true"],
                probability=preds["probability"],
                threshold=info["threshold"],
                favourable=info["favourable"] if info["favourable"] is not None else 0,
                sensitive=info["sensitive"] if info["favourable"] is not None else [],
                name=info["model"],
            )
        decisions = verified_copies(
            ws, [b.object_digest for b in plan.batches], folder, filename=True
        )
        # latency is a request's only in the service's batches: a batch-scored row (even one
        # logged before batch scoring stopped recording it) carries the whole call's time
        serve = [b.object_digest for b in plan.batches if b.source == "serve"]
        serve_sql = ", ".join(f"'{d}'" for d in serve if _DIGEST.match(d)) or "NULL"
        conds = [f"env = '{duck.sql_text(plan.env)}'", f"ts <= '{duck.sql_text(plan.end)}'"]
        if plan.start:
            conds.append(f"ts >= '{duck.sql_text(plan.start)}'")
        if decisions is None:
            con.execute(
                "CREATE TEMP TABLE decisions (request_id VARCHAR, ts VARCHAR, env VARCHAR, "
                "deployment_id VARCHAR, arm VARCHAR, returned BOOLEAN, model VARCHAR, "
                "model_digest VARCHAR, status VARCHAR, score DOUBLE, label TINYINT, "
                "latency_ms DOUBLE)"
            )
        else:
            con.execute(
                "CREATE TEMP VIEW decisions AS SELECT * EXCLUDE (filename) REPLACE ("
                f"CASE WHEN parse_filename(filename, true) IN ({serve_sql}) "
                f"THEN latency_ms END AS latency_ms) FROM {decisions} WHERE " + " AND ".join(conds)
            )
        outs = verified_copies(ws, [o.object_digest for o in plan.outcomes], folder)
        outcomes = None
        if outs is not None:
            con.execute(
                "CREATE TEMP VIEW outcomes AS SELECT request_id, "
                f"arg_max(outcome, observed_at) AS outcome FROM {outs} GROUP BY 1"
            )
            outcomes = "outcomes"
        digest = plan.deployment.row.model_digest if info is not None else None
        found = evaluate(con, ref, "decisions", outcomes, digest)
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    dep = plan.deployment.row
    slo = []
    if plan.slo is not None:
        slo = judge_slo(plan.slo.doc, found["metrics"], found["unmeasured"], found["partial"])
    verdict = worst([c["verdict"] for c in found["checks"]] + [o["verdict"] for o in slo])
    evidence = {
        "format": FORMAT,
        "env": plan.env,
        "window": {"spec": plan.window, "start": plan.start, "end": plan.end},
        "deployment": {
            "deployment_id": dep.deployment_id,
            "model": dep.model,
            "model_digest": dep.model_digest,
            "retention": dep.retention,
        },
        "reference": (
            {k: info[k] for k in ("model", "run", "snapshot", "predictions_object")}
            | {"held_out_accuracy": _r(reference_accuracy(ref)) if ref else None}
            if info is not None
            else None
        ),
        "batches": [{"seq": b.seq, "object": b.object_digest} for b in plan.batches],
        "outcome_batches": [{"seq": o.seq, "object": o.object_digest} for o in plan.outcomes],
        **found,
        "slo": (
            {"name": plan.slo.doc["name"], "digest": plan.slo.row.digest, "objectives": slo}
            if plan.slo is not None
            else None
        ),
        "verdict": verdict,
    }
    return evidence


def _compute_recorded(
    ws: Workspace, actor: str, plan: Plan, env: str, reason: str
) -> dict[str, Any]:
    """:func:`compute`, with the access to an encrypted training reference recorded first.

    The drift reference is the model's training snapshot; if it is encrypted, reading it is
    a decryption like any other (``data.access``, purpose ``monitor``), so an actor without a
    reading role (an operator) is refused rather than shown a window without its drift.
    """
    from core.data import encryption

    snaps = [plan.reference["snapshot_row"]] if plan.reference is not None else []
    with encryption.open(ws, actor, snaps, "monitor", target=f"env:{env}", reason=reason):
        return compute(ws, plan)


def run(
    ws: Workspace,
    actor: str,
    *,
    env: str,
    window: str = "7d",
    reason: str = "",
    until: str | None = None,
) -> MonitorResult:
    """Monitor ``env`` over ``window`` ending now (or ``until``); see the module docstring.

    Raises:
        UsageError: a bad environment or window.
        CheckFailedError: nothing live in ``env``.
        IntegrityError: a decision or outcome object whose bytes no longer match its digest.
        PermissionDeniedError: an actor without the operator or admin role.
    """
    from storage.canonical import canonical_bytes

    check_env(env)
    parse_window(window)
    why = reason.strip() or f"monitoring window {window}"
    guard = needs(*OPS_ROLES, action="run monitoring")

    def commit(s: Session, evidence: dict[str, Any]) -> MonitorRunRow:
        ref = s.put_blob(canonical_bytes(evidence), EVIDENCE_MEDIA_TYPE)
        checks = {c["name"]: c["verdict"] for c in evidence["checks"]}
        for o in (evidence["slo"] or {}).get("objectives", []):
            checks[f"slo:{o['name']}"] = o["verdict"]
        payload = MonitorRan(
            env=env,
            window_start=evidence["window"]["start"] or "",
            window_end=evidence["window"]["end"],
            evidence_digest=ref.sha256,
            verdict=evidence["verdict"],
            decisions=evidence["counts"]["decisions"],
            checks=checks,
            deployment_id=evidence["deployment"]["deployment_id"],
            model=evidence["deployment"]["model"],
            slo_digest=(evidence["slo"] or {}).get("digest"),
        )
        subjects = [f"env:{env}"]
        if not evidence["deployment"]["model"].startswith("baseline:"):
            subjects.append(f"model:{evidence['deployment']['model']}")
        entry = s.commit(new_event(s.actor, payload, subjects, why, [ref]))
        rows: list[MonitorRunRow] = s.catalog.rows(
            MonitorRunRow, "SELECT * FROM monitor_runs WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    row = command.run(
        ws,
        actor,
        guards=[guard],
        prepare=lambda s: _plan(s, env, window, until),
        compute=lambda plan: _compute_recorded(ws, actor, plan, env, why),
        commit=commit,
    )
    evidence = json.loads(ws.objects.read_verified(row.evidence_digest))
    result = MonitorResult(row, evidence)
    for objective in (evidence["slo"] or {}).get("objectives", []):
        if objective["breached"]:
            _breach(ws, actor, result, objective)
    return result


def _breach(ws: Workspace, actor: str, result: MonitorResult, objective: dict[str, Any]) -> None:
    """Alert on a breached objective; open its incident and run automatic steps if new."""
    from core.operations import incidents
    from core.operations.ops_config import in_force

    env = result.row.env

    def alert(s: Session, _: None) -> tuple[OpsAlertRow, IncidentRow | None]:
        ongoing = incidents.open_for(s, env, objective["name"])
        payload = Alerted(
            env=env,
            slo=objective["name"],
            metric=objective["metric"],
            threshold=objective["threshold"],
            verdict=objective["verdict"],
            monitor_seq=result.row.seq,
            observed=objective["observed"],
            incident=ongoing.seq if ongoing else None,
        )
        entry = s.commit(
            new_event(
                s.actor,
                payload,
                [f"env:{env}"],
                f"SLO {objective['name']}: "
                + breach_in_words(
                    objective["metric"], objective["observed"], objective["threshold"]
                ),
            )
        )
        rows: list[OpsAlertRow] = s.catalog.rows(
            OpsAlertRow, "SELECT * FROM ops_alerts WHERE seq = ?", [entry.seq]
        )
        return rows[0], ongoing

    row, ongoing = command.run(
        ws, actor, guards=[needs(*OPS_ROLES, action="raise alerts")], commit=alert
    )
    result.alerts.append(row)
    if ongoing is not None:
        return
    incident = incidents.open_incident(
        ws,
        actor,
        env=env,
        title=f"SLO {objective['name']} breached: "
        + breach_in_words(objective["metric"], objective["observed"], objective["threshold"]),
        reason=f"opened automatically by monitoring run #{result.row.seq}",
        severity="high" if objective["verdict"] == FAIL else "medium",
        alert_seq=row.seq,
        slo=objective["name"],
    )
    result.incidents.append(incident)
    with ws.session(actor) as s:
        book = in_force(s, "playbook", env)
    if book is None or book.row.digest != incident.playbook:
        return
    for n in incidents.automatic_steps(book.doc, objective["name"], objective["metric"]):
        result.actions.append(
            incidents.act(
                ws,
                actor,
                incident.seq,
                step=n,
                automatic=True,
                reason=f"automatic: SLO {objective['name']} breached",
            )
        )


def list_runs(s: Session, env: str | None = None, limit: int = 50) -> list[MonitorRunRow]:
    """Recorded monitoring runs, newest first."""
    sql = "SELECT * FROM monitor_runs" + (" WHERE env = ?" if env else "")
    out: list[MonitorRunRow] = s.catalog.rows(
        MonitorRunRow, sql + " ORDER BY seq DESC LIMIT ?", [*([env] if env else []), limit]
    )
    return out


def alerts(s: Session, env: str | None = None) -> list[OpsAlertRow]:
    """Recorded alerts, newest first (the alert history auditors ask for)."""
    sql = "SELECT * FROM ops_alerts" + (" WHERE env = ?" if env else "")
    out: list[OpsAlertRow] = s.catalog.rows(
        OpsAlertRow, sql + " ORDER BY seq DESC", [env] if env else []
    )
    return out


def evidence_of(ws: Workspace, row: MonitorRunRow) -> dict[str, Any]:
    """A run's evidence, read back and verified against its digest."""
    out: dict[str, Any] = json.loads(ws.objects.read_verified(row.evidence_digest))
    return out
