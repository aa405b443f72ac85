"""The baseline file: a rule-based fallback an operator can put live in a model's place.

```toml
[baseline]
name = "duration-rule"                 # shown as baseline:duration-rule in decisions
score = "CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END"   # one SQL expression
threshold = 0.5                        # score >= threshold predicts the positive class
```

Parsed strictly (an unknown or misspelt key is an error, not a silent default), then checked
by :func:`core.operations.deployments.baseline_rule`: one expression over the row, no query,
that DuckDB binds and that gives a number (:func:`check_binds`).
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


def check_binds(score_sql: str, columns: list[str]) -> None:
    """Refuse a score DuckDB cannot evaluate as a number, before anything is recorded.

    Parsing is not enough: an unknown function, a table function (``read_text(…)``), a
    text result or a text branch (``CASE … THEN 'high' ELSE 0.2 END``) parse, and would then
    fail every scoring call once the rule is live, exactly when it is the fallback. The
    expression is bound over a row of its columns (untyped nulls, so any input type fits)
    and its type must be a number or a boolean; a text literal as a branch of ``CASE``,
    ``IF`` or ``COALESCE`` is refused too, as DuckDB only finds it when that branch is taken.

    Raises:
        UsageError: naming what is wrong.
    """
    import duckdb
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(score_sql, dialect="duckdb")
    branches: list[Any] = [tree]
    for node in tree.walk():
        if isinstance(node, exp.If):
            branches.append(node.args.get("true"))
        if isinstance(node, exp.Case | exp.If):
            branches.append(node.args.get("default") or node.args.get("false"))
        if isinstance(node, exp.Coalesce):
            branches += [node.this, *node.expressions]
    if any(isinstance(b, exp.Literal) and b.is_string for b in branches if b is not None):
        raise UsageError(
            f"the baseline's score {score_sql!r} gives text in a branch: a score is a number",
            hint="e.g. CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END",
        )
    row = ", ".join(f'NULL AS "{c.replace(chr(34), chr(34) * 2)}"' for c in columns) or "NULL AS _"
    con = duckdb.connect()
    try:
        types = con.sql(f"SELECT ({score_sql}) AS s FROM (SELECT {row} WHERE false)").types
    except duckdb.Error as err:
        raise UsageError(
            f"the baseline's score {score_sql!r} cannot be evaluated: {str(err).splitlines()[0]}"
        ) from None
    finally:
        con.close()
    kind = str(types[0]).upper()
    if kind in ("VARCHAR", "BLOB") or kind.startswith(("DATE", "TIME", "INTERVAL", "STRUCT")):
        raise UsageError(f"the baseline's score {score_sql!r} gives {kind}, not a number")
