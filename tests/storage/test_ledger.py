"""The hash-chained ledger on real segment files, including tampering and torn writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import merkle
from storage.errors import IntegrityError
from storage.ledger import GENESIS, Ledger


def filled(tmp_path: Path, n: int = 20, segment_size: int = 8) -> Ledger:
    ledger = Ledger(tmp_path / "ledger", segment_size=segment_size)
    ledger.append([b'{"n":%d}' % i for i in range(n)])
    return ledger


def test_append_chains_and_reports_head(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    assert ledger.head() == (0, GENESIS)
    first = ledger.append([b'{"a":1}'])[0]
    assert first.seq == 1 and first.prev == GENESIS
    second = ledger.append([b'{"a":2}'])[0]
    assert second.prev == first.hash
    assert ledger.head() == (2, second.hash)
    assert [e.seq for e in ledger.iter_entries()] == [1, 2]
    assert ledger.entry(2) == second


def test_raw_newlines_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="newline"):
        Ledger(tmp_path).append([b'{"a":\n1}'])


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_roots_match_a_tree_over_all_leaves(tmp_path: Path, workers: int) -> None:
    ledger = filled(tmp_path, 37)
    scan = ledger.scan(cuts=list(range(1, 38)), workers=workers, keep_leaves=True)
    assert scan.problem is None and scan.size == 37
    for cut in range(1, 38):
        assert scan.roots[cut] == merkle.root(scan.leaves[:cut])
    assert scan.leaves == [e.leaf for e in ledger.iter_entries()]


def test_edited_event_is_named(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    seg = ledger.segment_path(1)
    seg.write_bytes(seg.read_bytes().replace(b'{"n":10}', b'{"n":99}'))
    problem = ledger.scan().problem
    assert problem is not None and problem[0] == 11 and "altered" in problem[1]


def test_deleted_inserted_and_reordered_events_are_named(tmp_path: Path) -> None:
    for mutate in ("delete", "insert", "swap"):
        ledger = filled(tmp_path / mutate)
        seg = ledger.segment_path(0)
        lines = seg.read_bytes().splitlines(keepends=True)
        if mutate == "delete":
            del lines[3]
        elif mutate == "insert":
            lines.insert(3, lines[2])
        else:
            lines[3], lines[4] = lines[4], lines[3]
        seg.write_bytes(b"".join(lines))
        problem = ledger.scan().problem
        assert problem is not None, mutate
        assert problem[0] == 4, (mutate, problem)


def test_a_missing_segment_is_an_integrity_error(tmp_path: Path) -> None:
    ledger = filled(tmp_path, 30)
    ledger.segment_path(1).unlink()
    with pytest.raises(IntegrityError, match=r"00000001\.log is missing"):
        ledger.scan()


def test_torn_tail_is_ignored_then_repaired(tmp_path: Path) -> None:
    ledger = filled(tmp_path, 5)
    head = ledger.head()
    with ledger.segment_path(0).open("ab") as handle:
        handle.write(b'6 abc {"half')
    assert ledger.head() == head
    scan = ledger.scan()
    assert scan.problem is None and scan.torn_tail == len(b'6 abc {"half')
    assert ledger.repair() == len(b'6 abc {"half')
    assert ledger.append([b'{"n":6}'])[0].seq == 6
    assert ledger.scan().problem is None


def test_a_torn_line_longer_than_the_read_window_is_dropped_whole(tmp_path: Path) -> None:
    ledger = filled(tmp_path, 3)
    with ledger.segment_path(0).open("ab") as handle:
        handle.write(b"4 " + b"x" * (3 << 20))
    assert ledger.repair() == 2 + (3 << 20)
    ledger.append([b'{"n":4}'])
    assert ledger.scan().problem is None and ledger.head()[0] == 4
