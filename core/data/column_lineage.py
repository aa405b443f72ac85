"""Column lineage of a feature view, and the PII and sensitive tags it carries forward.

An output column derived from a PII column of an input is PII, and one derived from a
sensitive column is sensitive, whatever the SQL did to it on the way (an expression, a CASE,
a CONCAT, a CTE, ``SELECT *``, a join): a view that selects ``name`` and ``date_of_birth``
from a PII-tagged snapshot cannot shed the tags by renaming them. The lineage is read from the
view's SQL with sqlglot (DuckDB dialect): the query is qualified against the inputs' schemas
(which expands ``*``) and each output column is traced back to the input columns it reads.

Only a view's ``[tags]`` ``not_pii`` / ``not_sensitive`` tables, each exception with a reason,
can drop a propagated tag; both the propagated tags and the exceptions are recorded with the
view's ``snapshot.add`` event. When the SQL cannot be traced, every output column is taken
as derived from every input column, and the result says so (:attr:`Lineage.notice`): a tag
is never lost silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.kernel.errors import UsageError

Source = tuple[str, str]
"""An input column: (input alias, column name)."""


@dataclass(frozen=True)
class Lineage:
    """Per output column, the input columns it is derived from.

    ``notice`` is empty when the lineage was traced from the SQL; otherwise it says why it was
    not and that every output is taken as derived from every input column.
    """

    sources: dict[str, frozenset[Source]]
    notice: str = ""


def _conservative(
    outputs: Sequence[str], schemas: Mapping[str, Sequence[str]], why: str
) -> Lineage:
    every = frozenset((alias, col) for alias, cols in schemas.items() for col in cols)
    return Lineage(
        dict.fromkeys(outputs, every),
        f"column lineage could not be traced from the SQL ({why}); every output column is "
        "taken as derived from every input column, so every input tag applies to it",
    )


def derive(sql: str, schemas: Mapping[str, Sequence[str]], outputs: Sequence[str]) -> Lineage:
    """The input columns each output column is derived from.

    Args:
        sql: the view's query (DuckDB dialect).
        schemas: per input alias, its column names.
        outputs: the output column names, in order, as DuckDB produced them (the traced
            select list must match them one for one, or the lineage is not trusted).
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify

    # DuckDB identifiers are case-insensitive (and sqlglot normalises them): compare folded
    # names and map them back to the inputs' own spelling.
    folded = {a.lower(): (a, {c.lower(): c for c in cols}) for a, cols in schemas.items()}
    schema: dict[str, object] = {
        a: dict.fromkeys(cols, "VARCHAR") for a, (_, cols) in folded.items()
    }
    try:
        parsed = sqlglot.parse(sql, dialect="duckdb")
        if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
            return _conservative(outputs, schemas, "it is not a single query")
        if parsed[0].find(exp.Pivot) is not None:
            return _conservative(outputs, schemas, "a PIVOT names its columns by values")
        query = qualify(parsed[0], schema=schema, dialect="duckdb", validate_qualify_columns=True)
        opaque = _opaque(query)
        if opaque:
            return _conservative(outputs, schemas, opaque)
        selects = query.selects
        if len(selects) != len(outputs) or any(isinstance(s, exp.Star) for s in selects):
            return _conservative(
                outputs, schemas, f"{len(selects)} traced columns for {len(outputs)} outputs"
            )
        found: dict[str, frozenset[Source]] = {}
        for name, select in zip(outputs, selects, strict=True):
            node = lineage(select.alias_or_name, query, schema=schema, dialect="duckdb")
            leaves = set()
            for step in node.walk():
                if isinstance(step.expression, exp.Table):
                    alias = step.expression.name.lower()
                    column = exp.to_column(step.name, dialect="duckdb").name.lower()
                    if alias not in folded or column not in folded[alias][1]:
                        return _conservative(
                            outputs, schemas, f"{name} reads {alias}.{column}, not an input"
                        )
                    leaves.add((folded[alias][0], folded[alias][1][column]))
            if not leaves and not _constant(select):
                # Derived from nothing, yet not a constant: a reference the tracer missed.
                return _conservative(outputs, schemas, f"{name} traces to no input column")
            found[name] = frozenset(leaves)
    except Exception as err:  # noqa: BLE001  (a failure to trace keeps every tag)
        return _conservative(outputs, schemas, f"{type(err).__name__}: {str(err)[:200]}")
    return Lineage(found)


def names_columns_by_values(sql: str) -> bool:
    """Whether the query names output columns by data values (a PIVOT), read from the SQL.

    Checked before the query runs: describing a PIVOT over a column of names already makes
    one column per person. SQL that does not parse counts as naming by values only if the
    word PIVOT appears in it.
    """
    import sqlglot
    from sqlglot import exp

    try:
        return any(q.find(exp.Pivot) is not None for q in sqlglot.parse(sql, dialect="duckdb") if q)
    except Exception:  # noqa: BLE001  (unparsable: judge by the keyword, conservatively)
        return "pivot" in sql.lower()


def _opaque(query: Any) -> str:
    """Why the query reads columns the tracer cannot follow one by one, or "" if it does not.

    A whole row as a value (``to_json(p)``, ``p AS r``, ``(p).name``), a star that
    qualification did not expand (``struct_pack(*)``, ``* LIKE 'na%'``), ``COLUMNS(…)`` and
    positional ``#3`` references all read input columns without naming them; ``count(*)``
    reads none.
    """
    from sqlglot import exp

    for node in query.walk():
        if isinstance(node, exp.TableColumn):
            return f"a whole row is used as a value ({node.sql('duckdb')})"
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            return "a star the query does not expand to named columns"
        if isinstance(node, exp.Columns | exp.PositionalColumn):
            return f"columns chosen by pattern or position ({node.sql('duckdb')})"
    return ""


def _constant(select: Any) -> bool:
    """Whether an output reads no value: literals, casts, arithmetic, ``count(*)``."""
    from sqlglot import exp

    allowed = (
        exp.Alias,
        exp.Identifier,
        exp.Literal,
        exp.Null,
        exp.Boolean,
        exp.Paren,
        exp.Cast,
        exp.DataType,
        exp.Neg,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.CurrentDate,
        exp.CurrentTimestamp,
    )
    return all(
        isinstance(node, (*allowed, exp.Count))
        or (isinstance(node, exp.Star) and isinstance(node.parent, exp.Count))
        for node in select.walk()
    )


@dataclass(frozen=True)
class Tags:
    """A view's tags once propagated: what it declares, what it inherits, what it excepts.

    ``pii`` and ``sensitive`` are the final lists recorded in the event; ``inherited_*`` say
    which input columns each inherited tag came from; ``not_*`` are the declared exceptions
    with their reasons.
    """

    pii: list[str]
    sensitive: list[str]
    inherited_pii: dict[str, list[str]] = field(default_factory=dict)
    inherited_sensitive: dict[str, list[str]] = field(default_factory=dict)
    not_pii: dict[str, str] = field(default_factory=dict)
    not_sensitive: dict[str, str] = field(default_factory=dict)
    notice: str = ""

    def to_json(self) -> dict[str, Any]:
        """What the ``snapshot.add`` event records of the propagation (under ``view.tags``)."""
        out: dict[str, Any] = {
            "inherited_pii": self.inherited_pii,
            "inherited_sensitive": self.inherited_sensitive,
            "not_pii": self.not_pii,
            "not_sensitive": self.not_sensitive,
            "lineage": "traced from the SQL" if not self.notice else self.notice,
        }
        return out

    def notices(self) -> list[str]:
        """What a user building the view should read."""
        out = [self.notice] if self.notice else []
        for tag, inherited in (
            ("PII", self.inherited_pii),
            ("sensitive", self.inherited_sensitive),
        ):
            for col, sources in sorted(inherited.items()):
                out.append(f"{col} is {tag}: derived from {', '.join(sources)}")
        for tag, excepted in (("PII", self.not_pii), ("sensitive", self.not_sensitive)):
            for col, why in sorted(excepted.items()):
                out.append(f"{col} is declared not {tag}: {why}")
        return out


def propagate(
    lineage: Lineage,
    inputs: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    *,
    pii: Sequence[str],
    sensitive: Sequence[str],
    not_pii: Mapping[str, str],
    not_sensitive: Mapping[str, str],
) -> Tags:
    """The view's tags: declared ones plus those its columns inherit, minus declared exceptions.

    Args:
        lineage: the view's column lineage.
        inputs: per input alias, its (PII, sensitive) columns.
        pii: the columns the view declares PII.
        sensitive: the columns the view declares sensitive.
        not_pii: output column to the reason it is not PII although derived from PII.
        not_sensitive: the same for sensitive.

    Raises:
        UsageError: for an exception naming no output column, or a column declared both PII
            (or sensitive) and not.
    """
    outputs = set(lineage.sources)
    for what, excepted, declared in (
        ("not_pii", not_pii, pii),
        ("not_sensitive", not_sensitive, sensitive),
    ):
        for col, why in excepted.items():
            if col not in outputs:
                raise UsageError(
                    f"[tags] {what} names {col!r}, which is not a column of the view",
                    hint=f"Columns: {', '.join(sorted(outputs))}.",
                )
            if not why.strip():
                raise UsageError(f"[tags] {what} {col}: give the reason it is not tagged")
            if col in declared:
                raise UsageError(f"[tags] {col!r} is declared both tagged and {what}")
    inherited: list[dict[str, list[str]]] = []
    for index, excepted in ((0, not_pii), (1, not_sensitive)):
        found: dict[str, list[str]] = {}
        for col, sources in lineage.sources.items():
            tagged = sorted(f"{a}.{c}" for a, c in sources if c in inputs.get(a, ((), ()))[index])
            if tagged and col not in excepted:
                found[col] = tagged
        inherited.append(found)
    return Tags(
        pii=sorted(set(pii) | set(inherited[0])),
        sensitive=sorted(set(sensitive) | set(inherited[1])),
        inherited_pii=inherited[0],
        inherited_sensitive=inherited[1],
        not_pii=dict(not_pii),
        not_sensitive=dict(not_sensitive),
        notice=lineage.notice,
    )
