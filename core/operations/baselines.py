"""The baseline file: a rule-based fallback an operator can put live in a model's place.

```toml
[baseline]
name = "duration-rule"                 # shown as baseline:duration-rule in decisions
score = "CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END"   # one SQL expression
threshold = 0.5                        # score >= threshold predicts the positive class
```

Parsed strictly (an unknown or misspelt key is an error, not a silent default), then checked
by :func:`core.operations.deployments.baseline_rule`: one expression over the row, no query.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config


def _models() -> Any:
    from pydantic import BaseModel, Field

    class Baseline(BaseModel):
        model_config = strict_config()
        name: str
        score: str = Field(min_length=1)
        threshold: float = 0.5

    class BaselineFile(BaseModel):
        model_config = strict_config()
        baseline: Baseline

    return BaselineFile


def load_baseline(path: Path) -> dict[str, Any]:
    """The rule a baseline file declares, ready for :func:`deploy_baseline`.

    Raises:
        UsageError: for a missing or malformed file or a rule that is not one expression.
    """
    from core.operations.deployments import baseline_rule

    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no baseline file {where}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{where} is not valid TOML: {err}") from None
    spec = parse_strict(_models(), doc, where=where).baseline
    return baseline_rule(spec.name, spec.score, spec.threshold)
