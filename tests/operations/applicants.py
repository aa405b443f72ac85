"""Real applicants for scoring tests: rows of the German credit feature view."""

from __future__ import annotations

from typing import Any

FEATURES = [
    "checking_account", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employment_since", "installment_rate_pct", "other_debtors",
    "residence_since_years", "property", "other_installment_plans", "housing",
    "existing_credits", "job", "people_liable", "has_telephone",
]  # fmt: skip
"""The model's input features (sample_data/german-credit/train.toml)."""


def applicants(ws: Any, n: int) -> Any:
    """``n`` real rows of the feature view: the model's features and the applicant's age."""
    from core.data import snapshots
    from core.modelling import training

    with ws.session() as s:
        snap = snapshots.resolve(s.catalog, "german-credit-features@1")
    return training.load_table(ws, snap, [*FEATURES, "age_years"]).head(n).reset_index(drop=True)
