"""Tables of other shapes than German credit, generated from a seed.

Each generator returns a :class:`Table`: the file it wrote, how to read it, and what the test
must expect (which label is positive, which prediction is favourable, which values are
planted PII). The shapes are chosen from what broke when the pipeline met other people's
data: a positive class that is the *good* outcome, missing values as NULL and as codes,
sparse intersections, PII columns, header-less ``", "``-separated files, junk lines and
duplicate headers.

Run as a script to write the corpus into a folder: ``python -m tests.corpus.generate DIR``.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Unique strings no real table holds: a scan for them finds only leaks.
PLANTED_NAMES = [f"Zebedee Quux-{i:04d}" for i in range(400)]
PLANTED_EMAILS = [f"zq{i:04d}@planted.invalid" for i in range(400)]
PLANTED_CASES = [f"CASE-PLANT-{i:06d}" for i in range(400)]


@dataclass(frozen=True)
class Table:
    """A generated file and what a test should expect of it."""

    path: Path
    target: str
    features: list[str]
    sensitive: list[str]
    pii: list[str] = field(default_factory=list)
    planted: list[str] = field(default_factory=list)
    na_values: list[str] = field(default_factory=list)
    outcome: dict[str, object] = field(default_factory=dict)
    header: bool = True
    columns: list[str] = field(default_factory=list)


def _write(path: Path, header: list[str] | None, rows: list[list[object]], sep: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        if sep == ", ":  # csv cannot write a two-character delimiter
            if header:
                handle.write(", ".join(header) + "\n")
            for row in rows:
                handle.write(", ".join("" if v is None else str(v) for v in row) + "\n")
            return
        writer = csv.writer(handle, delimiter=sep, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])


def loans_repaid(folder: Path, n: int = 1200, seed: int = 1) -> Table:
    """Loans where the positive class is the GOOD outcome (``repaid = 1``).

    Group ``B`` of ``group`` repays far less often in the labels, and the score follows the
    labels, so a model's favourable rate (predicted 1) for B is well under four fifths of A's:
    the four-fifths rule must FAIL. ``gender`` has NULLs (a "missing" group), and the
    ``group × gender`` intersection has a cell with very few rows.
    """
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], size=n, p=[0.6, 0.4])
    gender = rng.choice(["f", "m", None], size=n, p=[0.45, 0.45, 0.10])
    # A sparse cell: almost no women in group B.
    sparse = (group == "B") & (gender == "f")
    keep = rng.random(n) < 0.05
    gender = np.where(sparse & ~keep, "m", gender)
    income = np.round(rng.normal(50, 12, n) + np.where(group == "A", 12, -8), 1)
    debt = np.round(rng.gamma(2.0, 5.0, n), 1)
    purpose = rng.choice(["car", "home", "study", "other"], size=n)
    logit = 0.12 * (income - 50) - 0.08 * (debt - 10) + np.where(group == "A", 0.8, -1.4)
    repaid = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    path = folder / "loans.csv"
    header = ["applicant_id", "income", "debt", "purpose", "group", "gender", "repaid"]
    rows = [
        [f"L{i:05d}", income[i], debt[i], purpose[i], group[i], gender[i], repaid[i]]
        for i in range(n)
    ]
    _write(path, header, rows)
    return Table(
        path=path,
        target="repaid",
        features=["income", "debt", "purpose"],
        sensitive=["group", "gender"],
        outcome={
            "positive_label": 1,
            "positive": "repays",
            "negative": "defaults",
            "favourable": "positive",
            "favourable_decision": "loan offered",
            "unfavourable_decision": "loan refused",
        },
    )


def clinic_recovery(folder: Path, n: int = 900, seed: int = 2) -> Table:
    """Patients, with planted PII columns and "?" as the missing-value code.

    The label is text (``recovered`` / ``not recovered``), the positive class is the good
    outcome, ``ethnicity`` uses "?" for unknown, a feature uses "?" too, and the PII columns
    (name, email, date of birth, case number) hold planted values a scan can find.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    dose = np.round(rng.uniform(1, 10, n), 2)
    ward = rng.choice(["north", "south", "east"], size=n)
    ethnicity = rng.choice(["x", "y", "z", "?"], size=n, p=[0.5, 0.3, 0.12, 0.08])
    bmi = np.round(rng.normal(26, 4, n), 1).astype(object)
    bmi[rng.random(n) < 0.05] = "?"
    logit = 1.2 - 0.03 * (age - 50) + 0.2 * (dose - 5)
    recovered = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "recovered", "not recovered")
    dob = [f"{1935 + int(a) % 60}-0{1 + i % 9}-1{i % 10}" for i, a in enumerate(age)]
    path = folder / "clinic.csv"
    header = [
        "patient_name",
        "email",
        "date_of_birth",
        "case_number",
        "age",
        "dose",
        "bmi",
        "ward",
        "ethnicity",
        "outcome",
    ]
    rows = [
        [
            PLANTED_NAMES[i % 400],
            PLANTED_EMAILS[i % 400],
            dob[i],
            PLANTED_CASES[i % 400],
            age[i],
            dose[i],
            bmi[i],
            ward[i],
            ethnicity[i],
            recovered[i],
        ]
        for i in range(n)
    ]
    _write(path, header, rows)
    return Table(
        path=path,
        target="outcome",
        features=["age", "dose", "bmi", "ward"],
        sensitive=["ethnicity"],
        pii=["patient_name", "email", "date_of_birth", "case_number"],
        planted=[*PLANTED_NAMES[:5], *PLANTED_EMAILS[:5], *PLANTED_CASES[:5]],
        na_values=["?"],
        outcome={
            "positive_label": "recovered",
            "positive": "recovers",
            "negative": "does not recover",
            "favourable": "positive",
        },
    )


def census_headerless(folder: Path, n: int = 600, seed: int = 3) -> Table:
    """A header-less file with ``", "`` separators, like UCI Adult, and a junk title line."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 80, n)
    hours = rng.integers(10, 70, n)
    sex = rng.choice(["Female", "Male"], size=n)
    work = rng.choice(["Private", "State-gov", "?"], size=n, p=[0.7, 0.25, 0.05])
    logit = 0.04 * (age - 40) + 0.05 * (hours - 40) + np.where(sex == "Male", 0.7, -0.7)
    high = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), ">50K", "<=50K")
    path = folder / "census.data"
    rows = [[age[i], work[i], hours[i], sex[i], high[i]] for i in range(n)]
    _write(path, None, rows, sep=", ")
    columns = ["age", "workclass", "hours_per_week", "sex", "income"]
    return Table(
        path=path,
        target="income",
        features=["age", "workclass", "hours_per_week"],
        sensitive=["sex"],
        na_values=["?"],
        header=False,
        columns=columns,
        outcome={
            "positive_label": ">50K",
            "positive": "earns over 50K",
            "negative": "earns 50K or less",
            "favourable": "positive",
        },
    )


def with_title_line(folder: Path) -> Path:
    """A CSV whose first line is a title above the header (a junk line)."""
    path = folder / "titled.csv"
    path.write_text(
        "Export of 2026-11-30, confidential\n"
        "id,score,label\n" + "".join(f"{i},{i % 7 / 7:.3f},{i % 2}\n" for i in range(200)),
        encoding="utf-8",
    )
    return path


def duplicate_headers(folder: Path) -> Path:
    """A CSV repeating two column names (both must be reported)."""
    path = folder / "dupes.csv"
    path.write_text(
        "id,amount,Amount,date,date,label\n"
        + "".join(f"{i},{i},{i * 2},2026-01-0{1 + i % 9},x,{i % 2}\n" for i in range(50)),
        encoding="utf-8",
    )
    return path


def vendor_scores(folder: Path, n: int = 2000, seed: int = 4) -> Table:
    """An existing vendor risk score (probability of default) with its labels.

    The score is higher (worse) for ``region = rural`` at equal risk, so a decision at 0.5
    (declined when the score is at least 0.5) refuses rural applicants more often.
    """
    rng = np.random.default_rng(seed)
    region = rng.choice(["urban", "rural"], size=n, p=[0.7, 0.3])
    age_band = rng.choice(["<30", "30-60", ">60"], size=n)
    risk = rng.beta(2, 5, n)
    default = (rng.random(n) < risk).astype(int)
    score = np.clip(risk + np.where(region == "rural", 0.18, 0.0) + rng.normal(0, 0.05, n), 0, 1)
    path = folder / "vendor_scores.csv"
    header = ["application", "vendor_score", "defaulted", "region", "age_band"]
    rows = [
        [f"A{i:06d}", round(float(score[i]), 6), default[i], region[i], age_band[i]]
        for i in range(n)
    ]
    _write(path, header, rows)
    return Table(
        path=path,
        target="defaulted",
        features=[],
        sensitive=["region", "age_band"],
        outcome={
            "positive_label": 1,
            "positive": "defaults",
            "negative": "repays",
            "favourable": "negative",
            "favourable_decision": "approved",
            "unfavourable_decision": "declined",
        },
    )


def write_all(folder: Path) -> dict[str, Table | Path]:
    """Every table of the corpus, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "loans": loans_repaid(folder),
        "clinic": clinic_recovery(folder),
        "census": census_headerless(folder),
        "titled": with_title_line(folder),
        "dupes": duplicate_headers(folder),
        "vendor": vendor_scores(folder),
    }


if __name__ == "__main__":
    for name, item in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")).items():
        print(name, item.path if isinstance(item, Table) else item)  # noqa: T201
