"""An attribute-inference attacker: can the model's score reveal a sensitive attribute?

The adversary knows some people's non-sensitive inputs and the model's score for them, and
wants an attribute the model was not asked to use (sex, age, a diagnosis). :func:`attack`
trains two attackers on the same folds of the same rows: one sees the known inputs *and* the
score (with its log-odds), the other the known inputs alone. What the score adds to the
second is what the model gives away (the *advantage*); what the second already gets is what
the inputs give away through proxies, with or without the model. Both are scored on
out-of-fold predictions of a seeded stratified K-fold, so every figure is for rows the
attacker did not learn from, and the same seed gives the same figures.

The attacker is a class-balanced logistic regression (``logistic``) or a random forest
(``forest``) from scikit-learn, over the known inputs one-hot encoded and standardised, and
(for the first) the score and its log-odds, standardised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ATTACKERS = ("logistic", "forest")


@dataclass(frozen=True)
class Scores:
    """How well one attacker predicts the attribute on out-of-fold rows."""

    accuracy: float
    balanced_accuracy: float
    roc_auc: float
    """Binary: ROC AUC of the second class; more classes: macro one-vs-rest ROC AUC."""


def design(known: Any) -> Any:
    """The known inputs as a numeric matrix: numbers imputed and standardised, text one-hot.

    Fitted once on every probed row: it learns no label, only scales and category lists, and
    both attackers then share it, so they differ in the score columns alone.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = known.reset_index(drop=True)
    numeric = [c for c in frame.columns if frame[c].dtype.kind in "biuf"]
    categorical = [c for c in frame.columns if c not in numeric]
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        parts.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        steps = [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
        parts.append(("categorical", Pipeline(steps), categorical))
    if not parts:  # nothing known: an attacker that sees a constant
        return np.zeros((len(frame), 1))
    return np.asarray(ColumnTransformer(parts).fit_transform(frame), dtype=float)


def with_score(matrix: Any, score: Any) -> Any:
    """The known-input matrix with the score and its log-odds as two standardised columns."""
    import numpy as np

    p = np.clip(np.asarray(score, dtype=float), 1e-6, 1 - 1e-6)
    extra = np.column_stack([p, np.log(p / (1 - p))])
    spread = extra.std(axis=0)
    extra = (extra - extra.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return np.hstack([matrix, extra])


def _attacker(kind: str, seed: int) -> Any:
    if kind == "forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=50, min_samples_leaf=5, class_weight="balanced", random_state=seed
        )
    from sklearn.linear_model import LogisticRegression

    # A loose tolerance: the attacker's guesses, not its last digits, are the evidence.
    return LogisticRegression(max_iter=500, tol=1e-3, class_weight="balanced")


def out_of_fold(matrix: Any, target: Any, folds: int, seed: int, kind: str) -> Any:
    """Class probabilities for every row from an attacker that never saw that row."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(
        _attacker(kind, seed), matrix, target, cv=split, method="predict_proba"
    )


def scores(target: Any, proba: Any, classes: Any) -> Scores:
    """Accuracy, balanced accuracy and ROC AUC of class probabilities (classes sorted)."""
    import numpy as np
    from sklearn import metrics

    predicted = np.asarray(classes)[np.argmax(proba, axis=1)]
    if len(classes) == 2:
        auc = metrics.roc_auc_score(target == classes[1], proba[:, 1])
    else:
        auc = metrics.roc_auc_score(
            target, proba, multi_class="ovr", average="macro", labels=classes
        )
    return Scores(
        accuracy=float(metrics.accuracy_score(target, predicted)),
        balanced_accuracy=float(metrics.balanced_accuracy_score(target, predicted)),
        roc_auc=float(auc),
    )


def rank_auc(target: Any, proba: Any, classes: Any) -> float:
    """The ROC AUC of :func:`scores` by ranks (Mann-Whitney), fast enough to bootstrap.

    Binary: of the second class; more classes: the macro mean of one-vs-rest AUCs, ties
    counted half, as scikit-learn computes them (a test holds the two equal).
    """
    import numpy as np
    from scipy.stats import rankdata

    columns = [1] if len(classes) == 2 else range(len(classes))
    aucs = []
    for k in columns:
        positive = target == classes[k]
        n_pos = int(positive.sum())
        n_neg = len(target) - n_pos
        ranks = rankdata(proba[:, k])
        aucs.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(aucs))


def auc_gap_interval(
    target: Any, with_score: Any, without: Any, classes: Any, reps: int, seed: int
) -> list[float | None]:
    """A seeded bootstrap 95% interval of the ROC AUC gain (rows resampled, folds kept)."""
    import numpy as np

    if reps <= 0:
        return [None, None]
    rng = np.random.default_rng(seed)
    n = len(target)
    gaps = []
    for _ in range(reps):
        pick = rng.integers(0, n, n)
        t = target[pick]
        if len(set(t.tolist())) < len(classes):
            continue  # a resample missing a class has no AUC
        gaps.append(rank_auc(t, with_score[pick], classes) - rank_auc(t, without[pick], classes))
    if not gaps:
        return [None, None]
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return [float(lo), float(hi)]


def attack(
    known: Any,
    score: Any,
    target: Any,
    *,
    folds: int,
    seed: int,
    kind: str = "logistic",
    bootstrap: int = 0,
) -> dict[str, Any]:
    """Both attackers' out-of-fold figures, the majority rate, and the advantage.

    ``target``: the attribute as text classes (every class with at least ``folds`` rows).
    The advantage is the ROC AUC gain the score gives; ``balanced_accuracy_gain`` the same
    in balanced accuracy.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    target = np.asarray(target, dtype=object).astype(str)
    classes = np.unique(target)
    known_only = design(known)
    # One BLAS thread: these are many small fits, where threads cost more than they give,
    # and the figures then do not depend on how many cores the machine has.
    with threadpool_limits(limits=1, user_api="blas"):
        scored = out_of_fold(with_score(known_only, score), target, folds, seed, kind)
        without = out_of_fold(known_only, target, folds, seed, kind)
    a, b = scores(target, scored, classes), scores(target, without, classes)
    counts = np.array([(target == c).sum() for c in classes])
    return {
        "rows": len(target),
        "majority_rate": float(counts.max() / counts.sum()),
        "with_score": a,
        "without_score": b,
        "advantage": a.roc_auc - b.roc_auc,
        "balanced_accuracy_gain": a.balanced_accuracy - b.balanced_accuracy,
        "interval_95": auc_gap_interval(target, scored, without, classes, bootstrap, seed),
    }
