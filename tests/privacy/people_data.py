"""A small table of people with PII for the privacy tests: canary values, a suite, specs.

Every name, e-mail address and phone number is a unique canary (``canary-…``), so a scan of
the workspace's bytes finds a plain value if and only if it was stored somewhere.
"""

from __future__ import annotations

import csv
from pathlib import Path

ROWS = 120


def people_csv(path: Path, *, rows: int = ROWS, tag: str = "p") -> list[dict[str, str]]:
    """Write the people table to ``path``; return its rows as text, as written."""
    out = []
    for i in range(rows):
        out.append(
            {
                "customer_id": f"{i:05d}",  # leading zeros: a number-looking text value
                "name": f"canary-name-{tag}-{i:04d}",
                "email": f"canary-{tag}-{i:04d}@example.org",
                "phone": f"+49-canary-{tag}-{i:06d}",
                "zip": f"{10000 + (i * 37) % 900}",
                "sex": "female" if i % 3 else "male",
                "age": str(20 + (i * 7) % 50),
                "income": str(1500 + (i * 131) % 4000),
                "default": str(int((i * 13) % 5 == 0)),
            }
        )
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    return out


SUITE = '[suite]\nname = "people"\n[[checks]]\ntype = "row_count"\nmin = 1\n'


def spec(input_ref: str, name: str, features: list[str], sensitive: list[str]) -> str:
    """A training spec over the people table (target ``default``)."""
    return (
        f'[run]\nname = "{name}"\ninput = "{input_ref}"\nsuite = "people"\n'
        f'target = "default"\nfeatures = {features!r}\nsensitive = {sensitive!r}\n'
        "seed = 1\n"
        '[outcome]\npositive_label = 1\npositive = "default"\nnegative = "repaid"\n'
        'favourable = "negative"\n'
        '[estimator]\ntype = "logistic_regression"\n'
    ).replace("'", '"')


CANARY = b"canary"
"""What every plain name, e-mail address and phone number contains."""


def scan(root: Path, needle: bytes = CANARY) -> list[str]:
    """Every file under ``root`` whose bytes hold ``needle``."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    )
