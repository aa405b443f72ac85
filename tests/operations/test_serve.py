"""The scoring service for real: uvicorn on 127.0.0.1, a real model, the real decision log.

One server runs for the module (staging: credit-risk@1 live, credit-risk@2 in shadow) and
the tests call it in order with bounded traffic (fixed counts, a client timeout); nothing
sleeps: the socket listens before uvicorn starts, so the first request simply waits for it.
Two more servers run as subprocesses, killed with SIGKILL and stopped with SIGTERM (a third,
durable one killed with SIGKILL runs with ``-m slow``; by default an in-process durable
service shows each answer is logged before it is sent).

The attacks: no, unknown, cut, revoked tokens; a token of a suspended actor, of an actor
whose role was revoked, bound to another environment; malformed and oversized bodies;
replayed request ids; a shadow's answer leaking to the caller; a rollback and a withdrawal
while serving; a token's secret in the ledger, the catalog, the objects or the server's
logs; a kill -9 (what is lost, and that the log still verifies).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.identity import actors
from core.operations import deployments, serving, tokens
from tests.operations.conftest import V1, V2, Ops

ENV = "staging"
TIMEOUT = 20.0


@dataclass
class Served:
    """The module's running service and what the tests need to call it."""

    root: Path
    url: str
    service: serving.Service
    rows: list[dict[str, Any]]
    tokens: dict[str, str]
    token_ids: dict[str, str]
    sent: dict[str, int] = field(default_factory=dict)
    answered: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def post(self, who: str | None, body: Any, *, raw: bytes | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        data = raw if raw is not None else json.dumps(body).encode()
        with httpx.Client(timeout=TIMEOUT) as client:
            r = client.post(self.url + "/v1/score", content=data, headers=headers)
        self.sent[str(r.status_code)] = self.sent.get(str(r.status_code), 0) + 1
        if r.status_code == 200:
            self.answered += [d["request_id"] for d in r.json()["decisions"]]
        return r

    def get(self, path: str) -> httpx.Response:
        with httpx.Client(timeout=TIMEOUT) as client:
            return client.get(self.url + path)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def _rows(ws: Any, n: int) -> list[dict[str, Any]]:
    from core.data import snapshots
    from core.modelling import training

    with ws.session("") as s:
        snap = snapshots.resolve(s.catalog, "german-credit-features@1")
    frame = training.load_table(ws, snap, [c["name"] for c in json.loads(snap.columns)])
    frame = frame.drop(columns=["bad_credit"]).head(n)
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    for row in rows:
        row["age_years"] = max(int(row["age_years"]), 25)  # tess's condition holds
    return rows


@pytest.fixture(scope="module")
def served(ops_team: Ops, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A copy of the operations workspace served on 127.0.0.1 (see the module docstring)."""
    root = tmp_path_factory.mktemp("serve") / "ws"
    shutil.copytree(ops_team.root, root)
    ws = Ops(root).ws
    deployments.deploy(ws, "opal", V1, env=ENV, reason="live")
    deployments.deploy(ws, "opal", V2, env=ENV, strategy="shadow", reason="shadow")
    actors.add(ws, "alice", "cora", ["consumer"])
    issued: dict[str, str] = {}
    ids: dict[str, str] = {}
    for name, who, env in (
        ("cal", "cal", ENV),
        ("cora", "cora", ENV),
        ("cal-prod", "cal", "production"),
        ("leaked", "cal", ENV),
    ):
        row, token = tokens.issue(ws, "opal", who, env=env, reason=f"token {name}")
        issued[name], ids[name] = token, row.token_id
    service = serving.Service(ws, ENV, "scorer", serving.Options(flush_every=8, flush_seconds=3600))
    service.start()
    sock = serving.listen("127.0.0.1", 0)
    server = serving.server(serving.build_app(service), log_level="debug")
    logs: list[str] = []  # after the server's config: uvicorn sets up its loggers there
    handler = _Collect(logs)
    loggers = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    for logger in loggers:
        logger.addHandler(handler)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    host, port = sock.getsockname()[:2]
    try:
        yield Served(root, f"http://{host}:{port}", service, _rows(ws, 40), issued, ids, logs=logs)
    finally:
        server.should_exit = True
        thread.join(timeout=TIMEOUT)
        sock.close()
        for logger in loggers:
            logger.removeHandler(handler)
    assert not thread.is_alive()


def _error(r: httpx.Response) -> str:
    doc = r.json()
    assert set(doc) == {"error", "message"}
    return str(doc["message"])


def test_only_loopback_and_sane_options() -> None:
    from core.kernel.errors import UsageError

    for host in ("0.0.0.0", "192.168.1.10", "::", "example.org", ""):
        with pytest.raises(UsageError, match="loopback only"):
            serving.listen(host, 0)
    assert serving.check_host("localhost") == "127.0.0.1"
    assert serving.check_host("::1") == "::1"
    with pytest.raises(UsageError):
        serving.Options(flush_every=0).check()
    with pytest.raises(UsageError):
        serving.Options(flush_seconds=0).check()


def test_a_consumer_is_answered_never_with_the_shadow(served: Served) -> None:
    health = served.get("/healthz")
    assert health.status_code == 200
    doc = health.json()
    assert [(d["arm"], d["model"]) for d in doc["deployments"]] == [("live", V1), ("shadow", V2)]
    assert doc["policy"]["digest"] and doc["service_actor"] == "scorer"
    assert all(len(d["model_digest"]) == 64 for d in doc["deployments"])
    one = served.post("cal", {"row": served.rows[0], "request_id": "t-one"})
    assert one.status_code == 200, one.text
    [answer] = one.json()["decisions"]
    assert answer["request_id"] == "t-one" and answer["status"] == "ok"
    assert 0 <= answer["score"] <= 1 and answer["label"] in (0, 1) and answer["decision"]
    assert not {"model", "arm", "deployment_id"} & set(answer)
    many = served.post("cora", served.rows[1:11])  # a bare list, server-made request ids
    decisions = many.json()["decisions"]
    assert many.status_code == 200 and len(decisions) == 10  # one per row: no shadow answer
    assert len({d["request_id"] for d in decisions}) == 10
    bare = served.post("cal", served.rows[11])  # a bare object is one row
    assert bare.status_code == 200 and len(bare.json()["decisions"]) == 1


def test_concurrent_requests_each_get_their_own_answers(served: Served) -> None:
    """Requests scored together (the batcher) are answered as if each came alone."""
    ref = served.post(
        "cal", {"rows": served.rows[24:32], "request_ids": [f"s-{i}" for i in range(8)]}
    )
    expected = [d["score"] for d in ref.json()["decisions"]]
    start = threading.Barrier(8, timeout=TIMEOUT)
    got: dict[int, Any] = {}

    def one(i: int) -> None:
        start.wait()
        got[i] = served.post("cal", {"row": served.rows[24 + i], "request_id": f"b-{i}"})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert sorted(got) == list(range(8))
    for i, r in got.items():
        [d] = r.json()["decisions"]
        assert d["request_id"] == f"b-{i}"
        assert d["score"] == pytest.approx(expected[i], rel=1e-9)  # BLAS rounds by batch size


def test_a_condition_refuses_a_row_it_does_not_hold_for(served: Served) -> None:
    young = dict(served.rows[12], age_years=19)
    r = served.post("cal", {"rows": [young, served.rows[13]], "request_ids": ["t-19", "t-ok"]})
    assert r.status_code == 200
    refused, ok = r.json()["decisions"]
    assert refused["status"] == "refused" and "under 21" in refused["detail"]
    assert refused["score"] is None and ok["status"] == "ok"


def test_each_bad_token_gets_its_status(served: Served) -> None:
    body = {"row": served.rows[0]}
    assert "no token" in _error(served.post(None, body))
    served.tokens["guess"] = "lml_tok-000000000000_" + "A" * 43
    served.tokens["cut"] = served.tokens["cal"][:-2]
    for who in ("guess", "cut"):
        r = served.post(who, body)
        assert r.status_code == 401 and _error(r) == "unknown token"
    r = served.post("cal-prod", body)
    assert r.status_code == 403 and "for production, not staging" in _error(r)
    ws = Ops(served.root).ws
    tokens.revoke(ws, "opal", served.token_ids["leaked"], reason="it leaked")
    r = served.post("leaked", body)  # the very next request after the revocation
    assert r.status_code == 401 and "revoked" in _error(r)
    actors.change(ws, "alice", "cora", "suspend", "investigation")
    r = served.post("cora", body)
    assert r.status_code == 403 and "cora is suspended" in _error(r)
    actors.change(ws, "alice", "cora", "resume", "cleared")
    actors.change(ws, "alice", "cora", "revoke-role", "moved team", role="consumer")
    r = served.post("cora", body)
    assert r.status_code == 403 and "not consumer or operator" in _error(r)
    assert served.post("cal", body).status_code == 200  # the others' tokens still work


def test_malformed_bodies_are_422_and_change_nothing_else(served: Served) -> None:
    rows = served.rows
    served.service.flush()  # t-one is in a committed batch now: its id cannot be reused
    # t-open is in the open window (flushes come at 8 decisions, not by time, here)
    assert served.post("cal", {"row": rows[1], "request_id": "t-open"}).status_code == 200
    cases: list[tuple[bytes, str]] = [
        (json.dumps({"row": rows[0], "request_id": "t-open"}).encode(), "not yet written"),
        (b"{not json", "not JSON"),
        (b"[]", "no rows"),
        (json.dumps({"rows": [rows[0]], "request_ids": ["a", "b"]}).encode(), "one id per"),
        (json.dumps({"rows": [rows[0], rows[1]], "request_ids": ["a", "a"]}).encode(), "repeat"),
        (json.dumps({"row": {"x": {"nested": 1}}}).encode(), "scalar"),
        (json.dumps({"row": rows[0], "request_id": "no spaces"}).encode(), "request id"),
        (json.dumps({"row": rows[0], "extra": 1}).encode(), "unexpected"),
        (json.dumps([1, 2]).encode(), "not a JSON object"),
        (json.dumps({"row": rows[0], "request_id": "t-one"}).encode(), "already logged"),
    ]
    for raw, words in cases:
        r = served.post("cal", None, raw=raw)
        assert r.status_code == 422, (raw, r.text)
        assert words in _error(r)
    huge = b'{"row": {"x": "' + b"a" * (serving.MAX_BODY + 10) + b'"}}'
    assert served.post("cal", None, raw=huge).status_code == 413


def test_a_rollback_while_serving_takes_effect_at_the_next_request(served: Served) -> None:
    ws = Ops(served.root).ws
    refreshes = served.service.refreshes
    deployments.deploy(ws, "opal", V2, env=ENV, reason="promote")
    assert served.post("cal", {"row": served.rows[20], "request_id": "t-v2"}).status_code == 200
    assert served.service.refreshes == refreshes + 1
    assert [d["model"] for d in served.get("/healthz").json()["deployments"]] == [V2, V2]
    deployments.rollback(ws, "opal", env=ENV, reason="v2 misbehaves")
    assert served.post("cal", {"row": served.rows[21], "request_id": "t-back"}).status_code == 200
    assert served.get("/healthz").json()["deployments"][0]["model"] == V1
    served.service.flush()
    from core.operations import decision_log

    found = {f.row["request_id"]: f.row for f in decision_log.find(ws, "t-v2")}
    assert found["t-v2"]["model"] == V2
    back = [f.row for f in decision_log.find(ws, "t-back") if f.row["returned"]]
    assert [r["model"] for r in back] == [V1]


def test_a_withdrawal_makes_the_service_unavailable(served: Served) -> None:
    ws = Ops(served.root).ws
    deployments.withdraw(ws, "opal", env=ENV, arms=["live", "shadow"], reason="stop")
    assert served.get("/healthz").status_code == 503
    r = served.post("cal", {"row": served.rows[22]})
    assert r.status_code == 503 and _error(r)
    deployments.deploy(ws, "opal", V1, env=ENV, reason="back")
    assert served.get("/healthz").status_code == 200
    assert served.post("cal", {"row": served.rows[23]}).status_code == 200


def test_metrics_count_what_was_sent(served: Served) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    text = served.get("/metrics").text
    samples = {
        (s.name, s.labels.get("status", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    for status, n in served.sent.items():
        assert samples[("ledgerml_serve_requests_total", status)] == n
    assert samples[("ledgerml_serve_request_seconds_count", "")] == sum(served.sent.values())
    assert samples[("ledgerml_serve_decisions_total", "ok")] == len(served.answered) - 1
    assert samples[("ledgerml_serve_decisions_total", "refused")] == 1
    assert samples[("ledgerml_serve_flushes_total", "")] >= 2
    assert samples[("ledgerml_serve_decisions_logged_total", "")] > len(served.answered)
    assert samples[("ledgerml_serve_last_flush_timestamp_seconds", "")] > 0


def test_the_log_verifies_and_no_secret_is_anywhere(served: Served) -> None:
    """Last: stops the server (a clean stop flushes), then reads everything it wrote."""
    from core.audit import verification
    from core.operations import decision_log

    served.get("/healthz")
    served.service.stop()
    ws = Ops(served.root).ws
    with ws.session("") as s:
        batches = decision_log.batches(s, env=ENV)
        actors_of = {e.seq: e.actor for e in s.catalog.events(action="decision.batch")}
    assert batches and {actors_of[b.seq] for b in batches} == {"scorer"}
    for batch in batches:
        assert decision_log.check_batch(ws, batch) == []
    logged = decision_log.decisions(ws, env=ENV)
    returned = logged.filter(logged.column("returned")).to_pylist()
    assert set(served.answered) <= {r["request_id"] for r in returned}  # every answer is in the log
    callers = {r["request_id"]: r["caller"] for r in returned}
    assert callers["t-one"] == "cal" and "cora" in callers.values()
    # every refusal after authentication is the caller's logged decision; a 401 is nobody's
    refusals = {
        (r["caller"], r["detail"].split(":")[0]) for r in returned if r["status"] == "refused"
    }
    assert ("cora", "cora is suspended") in refusals
    assert ("cal", "malformed request") in refusals
    assert any(c == "cal" and "for production" in d for c, d in refusals)
    assert not {c for c, _ in refusals} - {"cal", "cora"}
    assert logged.num_rows > len(returned)  # the shadow's decisions are logged too
    report = verification.verify(ws)
    assert report.ok, report.failures
    for name, token in served.tokens.items():
        if name in ("guess", "cut"):
            continue
        secret = token.split("_", 2)[2].encode()  # the secret may hold "_" itself
        assert len(secret) == 43
        hits = [p for p in served.root.rglob("*") if p.is_file() and secret in p.read_bytes()]
        assert hits == [], name
        assert not any(token in line for line in served.logs)
    assert served.logs  # uvicorn did log (at debug level), just never a token


# ---- a server killed with SIGKILL --------------------------------------------------------


def _start(root: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    cmd = [sys.executable, "-m", "app", "--workspace", str(root), "--as", "scorer", "serve"]
    proc = subprocess.Popen(
        [*cmd, "--env", ENV, "--port", "0", *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + 60, b""
    while b"\n" not in seen.partition(b" at http://")[2]:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None or not sel.select(left):
            proc.kill()
            raise AssertionError(f"the server did not start: {seen.decode()}")
        seen += os.read(proc.stderr.fileno(), 4096)
    url = seen.partition(b" at ")[2].split(b" ", 1)[0].decode()
    return proc, url


def _count_logged(root: Path) -> int:
    from core.operations import decision_log

    return int(decision_log.decisions(Ops(root).ws, env=ENV).num_rows)


def _kill_setup(ops: Ops) -> tuple[list[dict[str, Any]], Any, str]:
    """V1 live in staging, ten rows, a function that posts rows, and the consumer's token."""
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env=ENV, reason="live")
    _, token = tokens.issue(ws, "opal", "cal", env=ENV, reason="kill test")
    headers = {"Authorization": f"Bearer {token}"}

    def send(url: str, rows: list[dict[str, Any]]) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            for row in rows:
                assert client.post(url + "/v1/score", json=row, headers=headers).status_code == 200

    return _rows(ws, 10), send, token


def test_kill_9_loses_the_open_window_and_sigterm_nothing(ops: Ops) -> None:
    from core.audit import verification

    rows, send, _ = _kill_setup(ops)
    proc, url = _start(ops.root, "--flush-every", "4", "--flush-seconds", "3600")
    try:
        send(url, rows[:6])  # the 4th decision fills the window: a flush is under way
        deadline = time.monotonic() + TIMEOUT
        with httpx.Client(timeout=TIMEOUT) as client:
            while "ledgerml_serve_flushes_total 1.0" not in client.get(url + "/metrics").text:
                assert time.monotonic() < deadline, "no flush after 4 decisions"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    assert _count_logged(ops.root) == 4  # 6 answered, 2 in the open window: lost
    assert verification.verify(ops.ws).ok  # the kill tore nothing

    proc, url = _start(ops.root, "--flush-every", "1000", "--flush-seconds", "3600")
    try:
        send(url, rows[6:8])  # answered, in the open window...
    finally:
        proc.send_signal(signal.SIGTERM)  # ...and flushed by the clean stop
        assert proc.wait(timeout=TIMEOUT) == 0
    assert _count_logged(ops.root) == 4 + 2


def test_a_durable_answer_is_in_the_log_before_it_is_sent(ops: Ops) -> None:
    """``durable``: each answer waits for the commit of the batch holding its decision, so
    what a caller was told is already in the signed, fsynced log when the answer arrives
    (a later kill -9 cannot take it back: the slow test below kills such a server). No
    other flush can run here (a window of 1000 decisions or an hour)."""
    from core.audit import verification

    rows, _, token = _kill_setup(ops)
    srv = _Server(ops.ws, ENV, serving.Options(flush_every=1000, flush_seconds=3600, durable=True))
    try:
        for answered, row in enumerate(rows[:3], start=1):
            assert srv.post(token, {"row": row}).status_code == 200
            assert _count_logged(ops.root) == answered  # read from disk, server still up
        health = srv.get("/healthz").json()
        assert health["log"]["durable"] is True and health["pending_decisions"] == 0
    finally:
        srv.close()
    assert _count_logged(ops.root) == 3 and verification.verify(ops.ws).ok


@pytest.mark.slow
def test_kill_9_of_a_durable_server_loses_no_answered_decision(ops: Ops) -> None:
    """The real process behind ``test_a_durable_answer_is_in_the_log_before_it_is_sent``."""
    from core.audit import verification

    rows, send, _ = _kill_setup(ops)
    proc, url = _start(ops.root, "--durable", "--flush-every", "1000")
    try:
        send(url, rows[:2])  # each answer waited for its batch
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    assert _count_logged(ops.root) == 2
    assert verification.verify(ops.ws).ok


class _Server:
    """A service on 127.0.0.1 in a thread, for the tests that need their own workspace."""

    def __init__(self, ws: Any, env: str, options: serving.Options) -> None:
        self.service = serving.Service(ws, env, "scorer", options)
        self.service.start()
        self.sock = serving.listen("127.0.0.1", 0)
        self.server = serving.server(serving.build_app(self.service), log_level="warning")
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.client = httpx.Client(timeout=TIMEOUT)

    def post(self, token: str, body: Any) -> httpx.Response:
        return self.client.post(
            self.url + "/v1/score",
            content=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}"},
        )

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.url + path)

    def close(self) -> None:
        """A clean stop: the lifespan stops the service (its last flush)."""
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=TIMEOUT)
        self.sock.close()
        assert not self.thread.is_alive()


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def _logged(ws: Any) -> int:
    from core.operations import decision_log

    with ws.session() as s:
        return sum(b.count for b in decision_log.batches(s, env="production"))


def test_one_float_among_integers_is_logged_like_the_rest(ops: Ops) -> None:
    """Review #2, its repro over HTTP: 60 posts to production (retention rows), the 4th
    sending ``credit_amount`` 1234.5 where the others send integers. Before the fix 59 of
    the 60 answered decisions never reached the log and /healthz said "ok"."""
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go", retention="rows")
    _, token = tokens.issue(ws, "opal", "cal", env="production", reason="t")
    rows = _rows(ws, 60)
    rows[3]["credit_amount"] = 1234.5
    srv = _Server(ws, "production", serving.Options(flush_every=10, flush_seconds=3600))
    try:
        codes = [srv.post(token, {"row": row}).status_code for row in rows]
        assert codes == [200] * 60
        srv.service.flush()
        health = srv.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["last_flush_error"] is None
        assert _metric(srv.get("/metrics").text, "ledgerml_serve_flush_failures_total") == 0
    finally:
        srv.close()
    assert _logged(ws) == 60


def test_a_failing_log_stops_the_answers_and_says_so(
    ops: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a flush fails anyway (here: the commit raises), the service answers nothing more:
    /healthz 503 naming the error, /metrics counting it, every POST 503; the decisions
    answered before it stay queued and are logged once the log can be written again."""
    from core.operations import decision_log

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go", retention="rows")
    _, token = tokens.issue(ws, "opal", "cal", env="production", reason="t")
    rows = _rows(ws, 6)
    real = decision_log.commit

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    srv = _Server(ws, "production", serving.Options(flush_every=1000, flush_seconds=3600))
    try:
        assert [srv.post(token, {"row": r}).status_code for r in rows[:3]] == [200] * 3
        monkeypatch.setattr(decision_log, "commit", broken)
        srv.service.flush()
        health = srv.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert "disk full" in health.json()["unavailable_because"]
        assert health.json()["pending_decisions"] == 3
        metrics = srv.get("/metrics").text
        assert _metric(metrics, "ledgerml_serve_flush_failures_total") >= 1
        assert _metric(metrics, "ledgerml_serve_log_failing") == 1
        assert _metric(metrics, "ledgerml_serve_pending_decisions") == 3
        refused = srv.post(token, {"row": rows[3]})
        assert refused.status_code == 503 and "cannot be written" in _error(refused)
        assert _logged(ws) == 0
        monkeypatch.setattr(decision_log, "commit", real)
        srv.service.flush()
        assert srv.get("/healthz").status_code == 200
        assert _metric(srv.get("/metrics").text, "ledgerml_serve_log_failing") == 0
        assert srv.post(token, {"row": rows[4]}).status_code == 200
    finally:
        srv.close()
    assert _logged(ws) == 4  # the three answered before the failure, then the one after
