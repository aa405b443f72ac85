"""Typed rows of the catalog, declared once as SQLModel tables.

These classes are both the catalog schema (their DDL is generated from them) and the typed
records that queries return and ``core`` hands to the front doors, so a column is named in
exactly one place. Keys are natural (event numbers, names, key ids, digests): DuckDB rejects the
SERIAL that an auto-increment integer key would ask for, and natural keys keep a rebuild from
the ledger byte-for-byte identical.
"""

from __future__ import annotations

from sqlalchemy import ARRAY, BigInteger, Column, String
from sqlmodel import Field, SQLModel


class CatalogMeta(SQLModel, table=True):
    """Bookkeeping: schema version, last applied event number and hash."""

    __tablename__ = "catalog_meta"
    key: str = Field(primary_key=True)
    value: str


class EventRow(SQLModel, table=True):
    """The ledger's events, indexed for queries (``audit log``)."""

    __tablename__ = "events"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str
    ts: str
    actor: str
    action: str
    subjects: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    reason: str
    body: str


class ActorRow(SQLModel, table=True):
    """A person or service that acts on the workspace, with its roles."""

    __tablename__ = "actors"
    name: str = Field(primary_key=True)
    roles: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str
    updated_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = "active"
    kind: str = "person"
    demo: bool = False


class KeyRow(SQLModel, table=True):
    """A signing key: where its private half lives, its public half, and its status."""

    __tablename__ = "keys"
    key_id: str = Field(primary_key=True)
    actor: str
    purpose: str
    backend: str
    algorithm: str
    label: str
    handle: str
    public_key_digest: str
    public_pem: str
    status: str
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    status_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    status_at: str | None = None
    status_reason: str | None = None
    replaced_by: str | None = None
    certified: bool = False
    compromised_since: str | None = None


class EdgeRow(SQLModel, table=True):
    """One lineage edge: ``src`` derives from, or is about, ``dst``."""

    __tablename__ = "edges"
    src: str = Field(primary_key=True)
    dst: str = Field(primary_key=True)
    relation: str = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class ObjectRow(SQLModel, table=True):
    """A blob the ledger refers to, with the first event that did."""

    __tablename__ = "objects"
    digest: str = Field(primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    media_type: str
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class SnapshotRow(SQLModel, table=True):
    """An immutable dataset version: where it came from, what it holds, how it was read."""

    __tablename__ = "snapshots"
    ref: str = Field(primary_key=True)
    dataset: str
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str
    format: str
    dialect: str
    raw_digest: str | None = None
    parquet_digest: str
    table_digest: str
    profile_digest: str
    rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    columns: str
    provenance: str
    pii: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    sensitive: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    retention: str
    transform_digest: str | None = None
    encryption: str | None = None
    pseudonyms: str | None = None
    erased_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str
    reason: str


class ValidationRow(SQLModel, table=True):
    """One recorded validation run of a suite against a snapshot."""

    __tablename__ = "validations"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    snapshot: str
    suite_name: str
    suite_digest: str
    result_digest: str
    passed: bool
    errors: int = Field(sa_column=Column(BigInteger, nullable=False))
    warnings: int = Field(sa_column=Column(BigInteger, nullable=False))
    checks: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str


class RunRow(SQLModel, table=True):
    """A recorded training run: inputs, spec, environment, metrics and artifacts by digest."""

    __tablename__ = "runs"
    run_id: str = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    name: str
    input_ref: str
    input_table_digest: str
    spec_digest: str
    environment_digest: str
    model_digest: str
    predictions_digest: str
    metrics: str
    estimator: str
    created_at: str
    created_by: str


class ModelRow(SQLModel, table=True):
    """A registered model version ``name@version`` pointing at a run's artifact."""

    __tablename__ = "models"
    ref: str = Field(primary_key=True)
    name: str
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    run_id: str
    model_digest: str
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str


class SignatureRow(SQLModel, table=True):
    """A recorded signature over a model version (DSSE, plus the OpenSSF bundle if any)."""

    __tablename__ = "signatures"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    subject: str
    key_id: str
    envelope_digest: str
    openssf_digest: str | None = None
    created_at: str
    created_by: str


class ReproductionRow(SQLModel, table=True):
    """The outcome of retraining a run from its record."""

    __tablename__ = "reproductions"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    run_id: str
    passed: bool
    result_digest: str
    differences: str
    created_at: str
    created_by: str


class EvaluationRow(SQLModel, table=True):
    """Signed evidence about a model version (fairness, SHAP, robustness, privacy, baseline)."""

    __tablename__ = "evaluations"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    model: str
    evidence_digest: str
    suite_digest: str
    envelope_digest: str
    key_id: str
    passed: bool
    errors: int = Field(sa_column=Column(BigInteger, nullable=False))
    warnings: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str
    verdict: str = "PASS"
    """The evidence's overall verdict (derived from the counts for events before verdicts)."""


class ScoreEvaluationRow(SQLModel, table=True):
    """Signed evidence about an existing score: a column of a snapshot, not a model trained here."""

    __tablename__ = "score_evaluations"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    subject: str
    snapshot: str
    score_column: str
    evidence_digest: str
    suite_digest: str
    spec_digest: str
    envelope_digest: str
    key_id: str
    passed: bool
    errors: int = Field(sa_column=Column(BigInteger, nullable=False))
    warnings: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str


class PolicyRow(SQLModel, table=True):
    """A policy bundle put in force; the newest row is the one in force (the ledger decides)."""

    __tablename__ = "policies"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    digest: str
    name: str
    version: str
    modules: str
    installed_at: str
    installed_by: str


class RiskRow(SQLModel, table=True):
    """A model's risk assessment; the newest row for a name is its tier."""

    __tablename__ = "model_risk"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str
    impact: int = Field(sa_column=Column(BigInteger, nullable=False))
    likelihood: int = Field(sa_column=Column(BigInteger, nullable=False))
    tier: int = Field(sa_column=Column(BigInteger, nullable=False))
    rationale: str
    dpia: str | None = None
    purpose: str | None = None
    use: str | None = None
    restrictions: str | None = None
    owner: str | None = None
    created_at: str
    created_by: str


class ApprovalRow(SQLModel, table=True):
    """A signed approval or rejection of a model version for a stage."""

    __tablename__ = "approvals"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    model: str
    model_digest: str
    stage: str
    decision: str
    role: str
    approver: str
    key_id: str
    envelope_digest: str
    policy_digest: str
    evidence: str
    conditions: str
    reason: str
    created_at: str
    recorded_by: str


class LifecycleRow(SQLModel, table=True):
    """One stage transition of a model version (the history ``model history`` shows)."""

    __tablename__ = "lifecycle"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    model: str
    model_digest: str
    from_stage: str
    to_stage: str
    approvals: str
    break_glass: bool = False
    policy_digest: str
    reason: str
    created_at: str
    created_by: str


class FindingRow(SQLModel, table=True):
    """A validation finding on a model version and where its remediation stands.

    ``seq`` is the ``finding.open`` event (the finding's id); the status columns follow the
    newest ``finding.update`` (``updated_seq``), so the row is always the ledger's latest word.
    """

    __tablename__ = "findings"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    model: str
    model_digest: str
    severity: str
    title: str
    owner: str
    due: str
    status: str
    expires: str | None = None
    opened_at: str
    opened_by: str
    updated_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: str
    updated_by: str
    reason: str


class BreakGlassReviewRow(SQLModel, table=True):
    """The after-the-fact review of one break-glass promotion (``promotion`` is its event)."""

    __tablename__ = "breakglass_reviews"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    promotion: int = Field(sa_column=Column(BigInteger, nullable=False))
    model: str
    outcome: str
    reason: str
    created_at: str
    created_by: str


# ---- operations: deployments, scoring, decisions, monitoring, incidents ------------------


class DeploymentRow(SQLModel, table=True):
    """One model version put to work in an environment (``seq`` is its ``model.deploy``).

    ``arm`` is how it takes traffic: ``live`` (answers), ``canary`` (answers a ``share`` of
    requests, split by request id) or ``shadow`` (scored beside the live one, never
    returned). ``ended_seq`` is the event that took it out (a later deployment replacing
    it, a rollback, a withdrawal), so "what was live where at event N" is a range query.
    """

    __tablename__ = "deployments"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    deployment_id: str
    env: str
    arm: str
    model: str
    model_digest: str
    strategy: str
    share: float | None = None
    replaces: str | None = None
    rollback_of: str | None = None
    retention: str
    conditions: str
    incident: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    ended_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: str
    created_by: str
    reason: str


class ThrottleRow(SQLModel, table=True):
    """An environment told to answer only a ``share`` of requests (None lifts the limit).

    The rest are refused and logged as such, for a human to decide: an incident's brake.
    """

    __tablename__ = "throttles"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    env: str
    share: float | None = None
    incident: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: str
    created_by: str
    reason: str


class ApiTokenRow(SQLModel, table=True):
    """A scoring-service caller's token, bound to an actor (only its digest is kept)."""

    __tablename__ = "api_tokens"
    token_id: str = Field(primary_key=True)
    actor: str
    env: str
    digest: str
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str
    revoked_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class DecisionBatchRow(SQLModel, table=True):
    """One batch of logged decisions: a Parquet object whose Merkle root its event signs."""

    __tablename__ = "decision_batches"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    batch_id: str
    env: str
    deployments: str
    object_digest: str
    merkle_root: str
    count: int = Field(sa_column=Column(BigInteger, nullable=False))
    refused: int = Field(sa_column=Column(BigInteger, nullable=False))
    errors: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_ts: str
    last_ts: str
    first_request: str
    last_request: str
    source: str
    created_at: str
    created_by: str
    stored_digest: str | None = None
    """The copy its rows are read from since a decision-log erasure replaced the object by
    one without input values (``data.erase`` ``stripped``); None: the object itself."""


class DecisionOverrideRow(SQLModel, table=True):
    """A human's override of one logged decision (EU AI Act Art. 14 oversight)."""

    __tablename__ = "decision_overrides"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    request_id: str
    batch_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    outcome: str
    reason: str
    created_at: str
    created_by: str


class OutcomeBatchRow(SQLModel, table=True):
    """Observed outcomes (late labels) joined to decisions by request id: a Parquet object."""

    __tablename__ = "outcome_batches"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    object_digest: str
    rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    matched: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str


class OpsConfigRow(SQLModel, table=True):
    """An SLO set or a playbook put in force for an environment (the document is a blob)."""

    __tablename__ = "ops_configs"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str
    env: str
    name: str
    digest: str
    created_at: str
    created_by: str
    reason: str


class MonitorRunRow(SQLModel, table=True):
    """One monitoring window's evidence (drift, skew, performance, fairness) and verdict."""

    __tablename__ = "monitor_runs"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    env: str
    window_start: str
    window_end: str
    evidence_digest: str
    verdict: str
    decisions: int = Field(sa_column=Column(BigInteger, nullable=False))
    deployment_id: str | None = None
    model: str | None = None
    checks: str
    slo_digest: str | None = None
    created_at: str
    created_by: str


class OpsAlertRow(SQLModel, table=True):
    """An SLO breach found by a monitoring run (``seq`` is its ``monitor.alert``)."""

    __tablename__ = "ops_alerts"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    env: str
    slo: str
    metric: str
    observed: float | None = None
    threshold: str
    verdict: str
    monitor_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    incident: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: str
    created_by: str


class IncidentRow(SQLModel, table=True):
    """An incident ticket (``seq`` is its ``incident.open``; the status columns follow it)."""

    __tablename__ = "incidents"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    env: str
    title: str
    severity: str
    status: str
    alert_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    slo: str | None = None
    playbook: str | None = None
    opened_at: str
    opened_by: str
    updated_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    closed_at: str | None = None
    closed_by: str | None = None
    resolution: str | None = None
    reason: str


class IncidentActionRow(SQLModel, table=True):
    """One action taken on an incident: who, when, why, and the runbook step it followed."""

    __tablename__ = "incident_actions"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    incident: int = Field(sa_column=Column(BigInteger, nullable=False))
    action: str
    detail: str
    automatic: bool = False
    status: str
    step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    runbook: str | None = None
    caused_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: str
    created_by: str
    reason: str


class PipelineRunRow(SQLModel, table=True):
    """One CI/CD pipeline run: its steps with their results (the history auditors ask for)."""

    __tablename__ = "pipeline_runs"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str
    spec_digest: str
    status: str
    steps: str
    failed_step: str | None = None
    report_digest: str | None = None
    created_at: str
    created_by: str


class DataAccessRow(SQLModel, table=True):
    """A read (decryption) or export of sensitive data: who, which snapshot, why."""

    __tablename__ = "data_access"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    snapshot: str
    purpose: str
    target: str | None = None
    columns: str | None = None
    actor: str
    created_at: str
    reason: str


class ErasureRow(SQLModel, table=True):
    """One erasure (``data.erase``): what was shredded or deleted, why, and its receipt."""

    __tablename__ = "erasures"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    target: str
    snapshots: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    method: str
    legal_basis: str
    rule: str
    receipt_digest: str
    subject_column: str | None = None
    replaced_by: str | None = None
    models: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    created_at: str
    created_by: str
    reason: str


class HoldRow(SQLModel, table=True):
    """A legal hold on a dataset or snapshot: erasure and retention wait until it is lifted."""

    __tablename__ = "holds"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    target: str
    created_at: str
    created_by: str
    reason: str
    released_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    released_by: str | None = None
    released_reason: str | None = None


class RetentionRuleRow(SQLModel, table=True):
    """An explicit retention rule (``retention.set``): a dataset's or a decision log's period.

    ``target`` is ``dataset:NAME`` (it overrides the ``retention`` tag of each of the
    dataset's snapshots) or ``decisions:ENV`` (each deployment's decision log in the
    environment, counted from the deployment's end). The last rule set for a target stands;
    ``previous`` is the period it replaced.
    """

    __tablename__ = "retention_rules"
    target: str = Field(primary_key=True)
    period: str
    previous: str | None = None
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str
    created_by: str
    reason: str


class RetentionRunRow(SQLModel, table=True):
    """One ``retention run`` (``retention.run``): what it erased, skipped for holds, refused.

    The erasures themselves are their own ``data.erase`` events; this
    row says which run made them, as of when, and what it left and why (JSON lists).
    """

    __tablename__ = "retention_runs"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    as_of: str | None = None
    erased: str
    held: str
    refused: str
    decision_logs: str
    created_at: str
    created_by: str
    reason: str


TABLES: tuple[type[SQLModel], ...] = (
    CatalogMeta,
    EventRow,
    ActorRow,
    KeyRow,
    EdgeRow,
    ObjectRow,
    SnapshotRow,
    ValidationRow,
    RunRow,
    ModelRow,
    SignatureRow,
    ReproductionRow,
    EvaluationRow,
    ScoreEvaluationRow,
    PolicyRow,
    RiskRow,
    ApprovalRow,
    LifecycleRow,
    FindingRow,
    BreakGlassReviewRow,
    DeploymentRow,
    ThrottleRow,
    ApiTokenRow,
    DecisionBatchRow,
    DecisionOverrideRow,
    OutcomeBatchRow,
    OpsConfigRow,
    MonitorRunRow,
    OpsAlertRow,
    IncidentRow,
    IncidentActionRow,
    PipelineRunRow,
    DataAccessRow,
    ErasureRow,
    HoldRow,
    RetentionRuleRow,
    RetentionRunRow,
)
