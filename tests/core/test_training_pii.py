"""A sensitive attribute tagged PII is refused for training: its values would be group names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data import snapshots, validation
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from core.modelling import training


def test_a_pii_sensitive_attribute_is_refused_before_any_work(
    ws: Workspace, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    n = 200
    pd.DataFrame(
        {
            "date_of_birth": [f"19{50 + i % 40}-01-{1 + i % 28:02d}" for i in range(n)],
            "x": rng.normal(size=n),
            "y": rng.integers(0, 2, n),
        }
    ).to_csv(tmp_path / "people.csv", index=False)
    snapshots.add(ws, "alice", tmp_path / "people.csv", dataset="people", pii=["date_of_birth"])
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "people"\n[[checks]]\ntype = "row_count"\nmin = 1\n')
    validation.run(ws, "alice", "people@1", suite)
    spec = tmp_path / "train.toml"
    spec.write_text(
        '[run]\nname = "m"\ninput = "people@1"\nsuite = "people"\ntarget = "y"\n'
        'features = ["x"]\nsensitive = ["date_of_birth"]\n'
        '[outcome]\npositive_label = 1\npositive = "yes"\nnegative = "no"\n'
        'favourable = "positive"\n'
        '[estimator]\ntype = "logistic_regression"\n'
    )
    before = ws.ledger.head()
    with pytest.raises(UsageError, match="'date_of_birth' of people@1 is tagged PII"):
        training.train(ws, "alice", spec)
    assert ws.ledger.head() == before
