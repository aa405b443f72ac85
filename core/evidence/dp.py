"""Differentially private variants of a model's estimator: what the DP curve trains.

The evidence's differential-privacy section asks "how much utility would this model keep if
it were trained with ε-differential privacy?". It answers by training *variants*: the same
features and training rows, a bounded preprocessing and a DP learner of the same family,
at several ε. They are evidence about those variants, never about the model itself, which
was trained without privacy.

Why this module and not a library. diffprivlib (IBM) has the DP learners we want, but its
newest release (0.6.6) cannot be imported with the scikit-learn this project runs (1.9: it
imports private constants of ``sklearn.tree._tree`` that are gone, and passes
``LogisticRegression(multi_class=...)``, removed in 1.8), and it reaches into private
scikit-learn modules elsewhere, so a shim would risk silently wrong numbers. OpenDP is
carefully built but offers no DP classifiers (its scikit-learn extras are PCA and a
one-feature Theil-Sen regression), and it draws noise from the operating system without a
seed by design, which would make the evidence irreproducible (invariant 8). So the two
learners are written here, each a published algorithm in a few dozen lines, with numpy's
seeded generator for the noise and tests that hold them to their definitions:

- :func:`logistic_regression`: objective perturbation, Chaudhuri, Monteleoni & Sarwate,
  "Differentially Private Empirical Risk Minimization" (JMLR 2011), Algorithm 2, the
  algorithm diffprivlib implements.
- :func:`random_trees`: a forest of random decision trees (split features and thresholds
  drawn from the declared bounds, independent of the data) whose leaves count labels with
  Laplace noise, one tree per disjoint share of the rows (parallel composition), after
  Fletcher & Islam, "Differentially private random decision forests using smooth
  sensitivity" (2017), the approach of diffprivlib's forests.

What ε covers: neighbouring training sets differ in one row; the guarantee is for the
learner's fit on the preprocessed rows. The preprocessing (imputation medians, scaling,
category lists) is fitted on the training rows without privacy accounting, as diffprivlib's
users usually do; the section says so in the evidence. The noise is seeded so that the same
suite gives the same evidence: the variants are measured and discarded, never released, so a
known seed costs no one privacy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SMOOTHNESS = 0.25
"""Bound on the second derivative of the logistic loss (the ``c`` of Chaudhuri et al.)."""

CLIP = 3.0
"""Standardised numeric features are clipped to [-CLIP, CLIP]: the bound every row keeps."""


@dataclass(frozen=True)
class Design:
    """The bounded design matrices a DP learner sees, and the bound they keep."""

    train: Any
    test: Any
    numeric: int
    categorical: int
    bound: float
    """Largest possible L2 norm of a preprocessed row (before dividing by it)."""


def design(x_train: Any, x_test: Any) -> Design:
    """Impute, standardise and clip numeric inputs; impute and one-hot the categorical ones.

    Each preprocessed row has L2 norm at most ``sqrt(numeric * CLIP² + categorical)`` (one
    one-hot 1 per categorical feature at most), a bound that depends on the schema only.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = [c for c in x_train.columns if x_train[c].dtype.kind in "biuf"]
    categorical = [c for c in x_train.columns if c not in numeric]

    def clip(values: Any) -> Any:
        return np.clip(values, -CLIP, CLIP)

    transformer = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("scale", StandardScaler()),
                        ("clip", FunctionTransformer(clip)),
                    ]
                ),
                numeric,
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ]
    )
    train = np.asarray(transformer.fit_transform(x_train), dtype=float)
    test = np.asarray(transformer.transform(x_test), dtype=float)
    bound = math.sqrt(len(numeric) * CLIP**2 + len(categorical)) or 1.0
    return Design(train, test, len(numeric), len(categorical), bound)


def unit_rows(x: Any, bound: float) -> Any:
    """Rows scaled into the unit ball, with a constant column for the intercept.

    ``[x / bound, 1] / sqrt(2)`` has norm at most 1 when ``|x| <= bound``, which objective
    perturbation requires; the intercept is then an ordinary (regularised) weight.
    """
    import numpy as np

    ones = np.ones((x.shape[0], 1))
    return np.hstack([x / bound, ones]) / math.sqrt(2.0)


@dataclass(frozen=True)
class Perturbation:
    """The noise terms of objective perturbation for one fit (Chaudhuri et al., Alg. 2)."""

    epsilon_prime: float
    """The ε left for the linear noise term after the regulariser's share."""
    delta: float
    """Extra L2 regularisation added when ε is too small for the given ``l2`` and n."""
    noise: Any
    """The noise vector b, with density proportional to exp(-ε'/2 · |b|)."""


def perturbation(n: int, d: int, epsilon: float, l2: float, rng: Any) -> Perturbation:
    """Draw the noise of objective perturbation for ``n`` rows of ``d`` columns.

    ε' = ε - log(1 + 2c/(nλ) + c²/(n²λ²)); when that is not positive, Δ = c/(n(e^{ε/4} - 1))
    - λ and ε' = ε/2. b has a uniformly random direction and a norm drawn from Gamma(d,
    2/ε'), which is the density exp(-ε'/2 |b|) in polar form.
    """
    import numpy as np

    c = SMOOTHNESS
    eps_p = epsilon - math.log(1 + 2 * c / (n * l2) + c**2 / (n * l2) ** 2)
    delta = 0.0
    if eps_p <= 0:
        delta = c / (n * math.expm1(epsilon / 4)) - l2
        eps_p = epsilon / 2
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    norm = rng.gamma(shape=d, scale=2 / eps_p)
    return Perturbation(eps_p, max(delta, 0.0), norm * direction)


def logistic_regression(x: Any, y: Any, epsilon: float, l2: float, rng: Any) -> Any:
    """ε-DP logistic regression by objective perturbation; returns the weights.

    ``x``: rows of L2 norm at most 1 (:func:`unit_rows`), ``y``: 0/1 labels. Minimises
    (1/n) Σ log(1 + exp(-s_i wᵀx_i)) + (λ + Δ)/2 |w|² + bᵀw / n with ``s = 2y - 1``, by
    L-BFGS from zero (deterministic). The guarantee assumes the exact minimiser; the solver
    runs to a gradient tolerance of 1e-10, as close as floating point allows.
    """
    import numpy as np
    from scipy import optimize
    from scipy.special import expit

    x = np.asarray(x, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    n, d = x.shape
    noise = perturbation(n, d, epsilon, l2, rng)
    reg = l2 + noise.delta
    b = noise.noise

    def objective(w: Any) -> tuple[float, Any]:
        margin = s * (x @ w)
        loss = float(np.logaddexp(0.0, -margin).mean())
        value = loss + 0.5 * reg * float(w @ w) + float(b @ w) / n
        grad = -(x.T @ (s * expit(-margin))) / n + reg * w + b / n
        return value, grad

    found = optimize.minimize(
        objective,
        np.zeros(d),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15},
    )
    return found.x


def logistic_proba(x: Any, w: Any) -> Any:
    """The positive-class probability of unit rows under weights ``w``."""
    from scipy.special import expit

    return expit(x @ w)


@dataclass(frozen=True)
class RandomTree:
    """One random decision tree: data-independent splits, noisy leaf label counts."""

    features: Any
    thresholds: Any
    depth: int
    counts: Any
    """Noisy counts per leaf and class, shape (2**depth, 2)."""

    def leaves(self, x: Any) -> Any:
        """The leaf each row falls in (a complete binary tree, heap-numbered)."""
        import numpy as np

        node = np.zeros(x.shape[0], dtype=int)
        for _ in range(self.depth):
            go_right = x[np.arange(x.shape[0]), self.features[node]] > self.thresholds[node]
            node = 2 * node + 1 + go_right.astype(int)
        return node - (2**self.depth - 1)


def random_trees(
    x: Any, y: Any, epsilon: float, trees: int, depth: int, low: Any, high: Any, rng: Any
) -> list[RandomTree]:
    """An ε-DP forest of random trees over rows bounded by ``low`` and ``high`` per column.

    Splits are drawn from the bounds alone (a uniformly chosen feature and a uniform
    threshold within its bounds at each node), so they cost no privacy. The rows are dealt
    into ``trees`` disjoint shares (by a permutation that ignores their values); each tree
    counts its share's labels per leaf and adds Laplace noise of scale 2/ε to each count
    (replacing one row moves one unit between at most two counts: L1 sensitivity 2).
    Disjoint shares compose in parallel, so the forest is ε-DP.
    """
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=int)
    order = rng.permutation(x.shape[0])
    shares = np.array_split(order, trees)
    nodes = 2**depth - 1
    out = []
    for share in shares:
        features = rng.integers(0, x.shape[1], size=nodes)
        thresholds = rng.uniform(low[features], high[features])
        tree = RandomTree(features, thresholds, depth, np.zeros((2**depth, 2)))
        leaf = tree.leaves(x[share])
        counts = np.zeros((2**depth, 2))
        np.add.at(counts, (leaf, y[share]), 1.0)
        counts += rng.laplace(scale=2.0 / epsilon, size=counts.shape)
        out.append(RandomTree(features, thresholds, depth, counts))
    return out


def forest_proba(forest: list[RandomTree], x: Any) -> Any:
    """The positive-class probability: the mean over trees of each leaf's noisy label share.

    Negative noisy counts are taken as zero; a leaf whose counts are both zero says 0.5.
    """
    import numpy as np

    x = np.asarray(x, dtype=float)
    total = np.zeros(x.shape[0])
    for tree in forest:
        counts = np.clip(tree.counts[tree.leaves(x)], 0.0, None)
        both = counts.sum(axis=1)
        total += np.where(both > 0, counts[:, 1] / np.where(both > 0, both, 1.0), 0.5)
    return total / len(forest)
