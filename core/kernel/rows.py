"""Typed catalog rows, generated from :mod:`core.kernel.records`.

Do not edit: change ``records.py`` and run ``python -m core.kernel.schema_gen`` (a test
compares this file with a fresh rendering). Each class has the same name, fields, order,
types and defaults as its SQLModel declaration, without the CPU cost of importing SQLModel,
SQLAlchemy and pydantic on every command that reads the catalog.
See :mod:`core.kernel.row` for why they are not dataclasses.
"""

from __future__ import annotations

from typing import ClassVar

from core.kernel.row import Row


class CatalogMeta(Row):
    """Bookkeeping: schema version, last applied event number and hash."""

    TABLE: ClassVar[str] = "catalog_meta"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "key",
        "value",
    )
    KEY: ClassVar[tuple[str, ...]] = ("key",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        key: str,
        value: str,
    ) -> None:
        self.key = key
        self.value = value


class EventRow(Row):
    """The ledger's events, indexed for queries (``audit log``)."""

    TABLE: ClassVar[str] = "events"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "hash",
        "ts",
        "actor",
        "action",
        "subjects",
        "reason",
        "body",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        hash: str,
        ts: str,
        actor: str,
        action: str,
        subjects: list[str],
        reason: str,
        body: str,
    ) -> None:
        self.seq = seq
        self.hash = hash
        self.ts = ts
        self.actor = actor
        self.action = action
        self.subjects = subjects
        self.reason = reason
        self.body = body


class ActorRow(Row):
    """A person or service that acts on the workspace, with its roles."""

    TABLE: ClassVar[str] = "actors"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "name",
        "roles",
        "created_seq",
        "created_at",
        "created_by",
        "updated_seq",
        "status",
        "kind",
        "demo",
    )
    KEY: ClassVar[tuple[str, ...]] = ("name",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        name: str,
        roles: list[str],
        created_seq: int,
        created_at: str,
        created_by: str,
        updated_seq: int,
        status: str = "active",
        kind: str = "person",
        demo: bool = False,
    ) -> None:
        self.name = name
        self.roles = roles
        self.created_seq = created_seq
        self.created_at = created_at
        self.created_by = created_by
        self.updated_seq = updated_seq
        self.status = status
        self.kind = kind
        self.demo = demo


class KeyRow(Row):
    """A signing key: where its private half lives, its public half, and its status."""

    TABLE: ClassVar[str] = "keys"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "key_id",
        "actor",
        "purpose",
        "backend",
        "algorithm",
        "label",
        "handle",
        "public_key_digest",
        "public_pem",
        "status",
        "created_seq",
        "created_at",
        "status_seq",
        "status_at",
        "status_reason",
        "replaced_by",
        "certified",
        "compromised_since",
    )
    KEY: ClassVar[tuple[str, ...]] = ("key_id",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        key_id: str,
        actor: str,
        purpose: str,
        backend: str,
        algorithm: str,
        label: str,
        handle: str,
        public_key_digest: str,
        public_pem: str,
        status: str,
        created_seq: int,
        created_at: str,
        status_seq: int | None = None,
        status_at: str | None = None,
        status_reason: str | None = None,
        replaced_by: str | None = None,
        certified: bool = False,
        compromised_since: str | None = None,
    ) -> None:
        self.key_id = key_id
        self.actor = actor
        self.purpose = purpose
        self.backend = backend
        self.algorithm = algorithm
        self.label = label
        self.handle = handle
        self.public_key_digest = public_key_digest
        self.public_pem = public_pem
        self.status = status
        self.created_seq = created_seq
        self.created_at = created_at
        self.status_seq = status_seq
        self.status_at = status_at
        self.status_reason = status_reason
        self.replaced_by = replaced_by
        self.certified = certified
        self.compromised_since = compromised_since


class EdgeRow(Row):
    """One lineage edge: ``src`` derives from, or is about, ``dst``."""

    TABLE: ClassVar[str] = "edges"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "src",
        "dst",
        "relation",
        "seq",
    )
    KEY: ClassVar[tuple[str, ...]] = ("src", "dst", "relation")
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        src: str,
        dst: str,
        relation: str,
        seq: int,
    ) -> None:
        self.src = src
        self.dst = dst
        self.relation = relation
        self.seq = seq


class ObjectRow(Row):
    """A blob the ledger refers to, with the first event that did."""

    TABLE: ClassVar[str] = "objects"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "digest",
        "size",
        "media_type",
        "seq",
    )
    KEY: ClassVar[tuple[str, ...]] = ("digest",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        digest: str,
        size: int,
        media_type: str,
        seq: int,
    ) -> None:
        self.digest = digest
        self.size = size
        self.media_type = media_type
        self.seq = seq


class SnapshotRow(Row):
    """An immutable dataset version: where it came from, what it holds, how it was read."""

    TABLE: ClassVar[str] = "snapshots"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "ref",
        "dataset",
        "version",
        "kind",
        "format",
        "dialect",
        "raw_digest",
        "parquet_digest",
        "table_digest",
        "profile_digest",
        "rows",
        "columns",
        "provenance",
        "pii",
        "sensitive",
        "retention",
        "transform_digest",
        "encryption",
        "pseudonyms",
        "erased_seq",
        "created_seq",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("ref",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        ref: str,
        dataset: str,
        version: int,
        kind: str,
        format: str,
        dialect: str,
        raw_digest: str | None = None,
        parquet_digest: str,
        table_digest: str,
        profile_digest: str,
        rows: int,
        columns: str,
        provenance: str,
        pii: list[str],
        sensitive: list[str],
        retention: str,
        transform_digest: str | None = None,
        encryption: str | None = None,
        pseudonyms: str | None = None,
        erased_seq: int | None = None,
        created_seq: int,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.ref = ref
        self.dataset = dataset
        self.version = version
        self.kind = kind
        self.format = format
        self.dialect = dialect
        self.raw_digest = raw_digest
        self.parquet_digest = parquet_digest
        self.table_digest = table_digest
        self.profile_digest = profile_digest
        self.rows = rows
        self.columns = columns
        self.provenance = provenance
        self.pii = pii
        self.sensitive = sensitive
        self.retention = retention
        self.transform_digest = transform_digest
        self.encryption = encryption
        self.pseudonyms = pseudonyms
        self.erased_seq = erased_seq
        self.created_seq = created_seq
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class ValidationRow(Row):
    """One recorded validation run of a suite against a snapshot."""

    TABLE: ClassVar[str] = "validations"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "snapshot",
        "suite_name",
        "suite_digest",
        "result_digest",
        "passed",
        "errors",
        "warnings",
        "checks",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        snapshot: str,
        suite_name: str,
        suite_digest: str,
        result_digest: str,
        passed: bool,
        errors: int,
        warnings: int,
        checks: int,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.snapshot = snapshot
        self.suite_name = suite_name
        self.suite_digest = suite_digest
        self.result_digest = result_digest
        self.passed = passed
        self.errors = errors
        self.warnings = warnings
        self.checks = checks
        self.created_at = created_at
        self.created_by = created_by


class RunRow(Row):
    """A recorded training run: inputs, spec, environment, metrics and artifacts by digest."""

    TABLE: ClassVar[str] = "runs"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "run_id",
        "seq",
        "name",
        "input_ref",
        "input_table_digest",
        "spec_digest",
        "environment_digest",
        "model_digest",
        "predictions_digest",
        "metrics",
        "estimator",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("run_id",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        run_id: str,
        seq: int,
        name: str,
        input_ref: str,
        input_table_digest: str,
        spec_digest: str,
        environment_digest: str,
        model_digest: str,
        predictions_digest: str,
        metrics: str,
        estimator: str,
        created_at: str,
        created_by: str,
    ) -> None:
        self.run_id = run_id
        self.seq = seq
        self.name = name
        self.input_ref = input_ref
        self.input_table_digest = input_table_digest
        self.spec_digest = spec_digest
        self.environment_digest = environment_digest
        self.model_digest = model_digest
        self.predictions_digest = predictions_digest
        self.metrics = metrics
        self.estimator = estimator
        self.created_at = created_at
        self.created_by = created_by


class ModelRow(Row):
    """A registered model version ``name@version`` pointing at a run's artifact."""

    TABLE: ClassVar[str] = "models"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "ref",
        "name",
        "version",
        "run_id",
        "model_digest",
        "seq",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("ref",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        ref: str,
        name: str,
        version: int,
        run_id: str,
        model_digest: str,
        seq: int,
        created_at: str,
        created_by: str,
    ) -> None:
        self.ref = ref
        self.name = name
        self.version = version
        self.run_id = run_id
        self.model_digest = model_digest
        self.seq = seq
        self.created_at = created_at
        self.created_by = created_by


class SignatureRow(Row):
    """A recorded signature over a model version (DSSE, plus the OpenSSF bundle if any)."""

    TABLE: ClassVar[str] = "signatures"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "subject",
        "key_id",
        "envelope_digest",
        "openssf_digest",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        subject: str,
        key_id: str,
        envelope_digest: str,
        openssf_digest: str | None = None,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.subject = subject
        self.key_id = key_id
        self.envelope_digest = envelope_digest
        self.openssf_digest = openssf_digest
        self.created_at = created_at
        self.created_by = created_by


class ReproductionRow(Row):
    """The outcome of retraining a run from its record."""

    TABLE: ClassVar[str] = "reproductions"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "run_id",
        "passed",
        "result_digest",
        "differences",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        run_id: str,
        passed: bool,
        result_digest: str,
        differences: str,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.run_id = run_id
        self.passed = passed
        self.result_digest = result_digest
        self.differences = differences
        self.created_at = created_at
        self.created_by = created_by


class EvaluationRow(Row):
    """Signed evidence about a model version (fairness, SHAP, robustness, privacy, baseline)."""

    TABLE: ClassVar[str] = "evaluations"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "model",
        "evidence_digest",
        "suite_digest",
        "envelope_digest",
        "key_id",
        "passed",
        "errors",
        "warnings",
        "created_at",
        "created_by",
        "verdict",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        model: str,
        evidence_digest: str,
        suite_digest: str,
        envelope_digest: str,
        key_id: str,
        passed: bool,
        errors: int,
        warnings: int,
        created_at: str,
        created_by: str,
        verdict: str = "PASS",
    ) -> None:
        self.seq = seq
        self.model = model
        self.evidence_digest = evidence_digest
        self.suite_digest = suite_digest
        self.envelope_digest = envelope_digest
        self.key_id = key_id
        self.passed = passed
        self.errors = errors
        self.warnings = warnings
        self.created_at = created_at
        self.created_by = created_by
        self.verdict = verdict


class ScoreEvaluationRow(Row):
    """Signed evidence about an existing score: a column of a snapshot, not a model trained here."""

    TABLE: ClassVar[str] = "score_evaluations"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "subject",
        "snapshot",
        "score_column",
        "evidence_digest",
        "suite_digest",
        "spec_digest",
        "envelope_digest",
        "key_id",
        "passed",
        "errors",
        "warnings",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        subject: str,
        snapshot: str,
        score_column: str,
        evidence_digest: str,
        suite_digest: str,
        spec_digest: str,
        envelope_digest: str,
        key_id: str,
        passed: bool,
        errors: int,
        warnings: int,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.subject = subject
        self.snapshot = snapshot
        self.score_column = score_column
        self.evidence_digest = evidence_digest
        self.suite_digest = suite_digest
        self.spec_digest = spec_digest
        self.envelope_digest = envelope_digest
        self.key_id = key_id
        self.passed = passed
        self.errors = errors
        self.warnings = warnings
        self.created_at = created_at
        self.created_by = created_by


class PolicyRow(Row):
    """A policy bundle put in force; the newest row is the one in force (the ledger decides)."""

    TABLE: ClassVar[str] = "policies"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "digest",
        "name",
        "version",
        "modules",
        "installed_at",
        "installed_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        digest: str,
        name: str,
        version: str,
        modules: str,
        installed_at: str,
        installed_by: str,
    ) -> None:
        self.seq = seq
        self.digest = digest
        self.name = name
        self.version = version
        self.modules = modules
        self.installed_at = installed_at
        self.installed_by = installed_by


class RiskRow(Row):
    """A model's risk assessment; the newest row for a name is its tier."""

    TABLE: ClassVar[str] = "model_risk"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "name",
        "impact",
        "likelihood",
        "tier",
        "rationale",
        "dpia",
        "purpose",
        "use",
        "restrictions",
        "owner",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        name: str,
        impact: int,
        likelihood: int,
        tier: int,
        rationale: str,
        dpia: str | None = None,
        purpose: str | None = None,
        use: str | None = None,
        restrictions: str | None = None,
        owner: str | None = None,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.name = name
        self.impact = impact
        self.likelihood = likelihood
        self.tier = tier
        self.rationale = rationale
        self.dpia = dpia
        self.purpose = purpose
        self.use = use
        self.restrictions = restrictions
        self.owner = owner
        self.created_at = created_at
        self.created_by = created_by


class ApprovalRow(Row):
    """A signed approval or rejection of a model version for a stage."""

    TABLE: ClassVar[str] = "approvals"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "model",
        "model_digest",
        "stage",
        "decision",
        "role",
        "approver",
        "key_id",
        "envelope_digest",
        "policy_digest",
        "evidence",
        "conditions",
        "reason",
        "created_at",
        "recorded_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        model: str,
        model_digest: str,
        stage: str,
        decision: str,
        role: str,
        approver: str,
        key_id: str,
        envelope_digest: str,
        policy_digest: str,
        evidence: str,
        conditions: str,
        reason: str,
        created_at: str,
        recorded_by: str,
    ) -> None:
        self.seq = seq
        self.model = model
        self.model_digest = model_digest
        self.stage = stage
        self.decision = decision
        self.role = role
        self.approver = approver
        self.key_id = key_id
        self.envelope_digest = envelope_digest
        self.policy_digest = policy_digest
        self.evidence = evidence
        self.conditions = conditions
        self.reason = reason
        self.created_at = created_at
        self.recorded_by = recorded_by


class LifecycleRow(Row):
    """One stage transition of a model version (the history ``model history`` shows)."""

    TABLE: ClassVar[str] = "lifecycle"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "model",
        "model_digest",
        "from_stage",
        "to_stage",
        "approvals",
        "break_glass",
        "policy_digest",
        "reason",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        model: str,
        model_digest: str,
        from_stage: str,
        to_stage: str,
        approvals: str,
        break_glass: bool = False,
        policy_digest: str,
        reason: str,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.model = model
        self.model_digest = model_digest
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.approvals = approvals
        self.break_glass = break_glass
        self.policy_digest = policy_digest
        self.reason = reason
        self.created_at = created_at
        self.created_by = created_by


class FindingRow(Row):
    """A validation finding on a model version and where its remediation stands."""

    TABLE: ClassVar[str] = "findings"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "model",
        "model_digest",
        "severity",
        "title",
        "owner",
        "due",
        "status",
        "expires",
        "opened_at",
        "opened_by",
        "updated_seq",
        "updated_at",
        "updated_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        model: str,
        model_digest: str,
        severity: str,
        title: str,
        owner: str,
        due: str,
        status: str,
        expires: str | None = None,
        opened_at: str,
        opened_by: str,
        updated_seq: int,
        updated_at: str,
        updated_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.model = model
        self.model_digest = model_digest
        self.severity = severity
        self.title = title
        self.owner = owner
        self.due = due
        self.status = status
        self.expires = expires
        self.opened_at = opened_at
        self.opened_by = opened_by
        self.updated_seq = updated_seq
        self.updated_at = updated_at
        self.updated_by = updated_by
        self.reason = reason


class BreakGlassReviewRow(Row):
    """The after-the-fact review of one break-glass promotion (``promotion`` is its event)."""

    TABLE: ClassVar[str] = "breakglass_reviews"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "promotion",
        "model",
        "outcome",
        "reason",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        promotion: int,
        model: str,
        outcome: str,
        reason: str,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.promotion = promotion
        self.model = model
        self.outcome = outcome
        self.reason = reason
        self.created_at = created_at
        self.created_by = created_by


class DeploymentRow(Row):
    """One model version put to work in an environment (``seq`` is its ``model.deploy``)."""

    TABLE: ClassVar[str] = "deployments"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "deployment_id",
        "env",
        "arm",
        "model",
        "model_digest",
        "strategy",
        "share",
        "replaces",
        "rollback_of",
        "retention",
        "conditions",
        "incident",
        "ended_seq",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        deployment_id: str,
        env: str,
        arm: str,
        model: str,
        model_digest: str,
        strategy: str,
        share: float | None = None,
        replaces: str | None = None,
        rollback_of: str | None = None,
        retention: str,
        conditions: str,
        incident: int | None = None,
        ended_seq: int | None = None,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.deployment_id = deployment_id
        self.env = env
        self.arm = arm
        self.model = model
        self.model_digest = model_digest
        self.strategy = strategy
        self.share = share
        self.replaces = replaces
        self.rollback_of = rollback_of
        self.retention = retention
        self.conditions = conditions
        self.incident = incident
        self.ended_seq = ended_seq
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class ThrottleRow(Row):
    """An environment told to answer only a ``share`` of requests (None lifts the limit)."""

    TABLE: ClassVar[str] = "throttles"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "env",
        "share",
        "incident",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        env: str,
        share: float | None = None,
        incident: int | None = None,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.env = env
        self.share = share
        self.incident = incident
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class ApiTokenRow(Row):
    """A scoring-service caller's token, bound to an actor (only its digest is kept)."""

    TABLE: ClassVar[str] = "api_tokens"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "token_id",
        "actor",
        "env",
        "digest",
        "created_seq",
        "created_at",
        "created_by",
        "revoked_seq",
    )
    KEY: ClassVar[tuple[str, ...]] = ("token_id",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        token_id: str,
        actor: str,
        env: str,
        digest: str,
        created_seq: int,
        created_at: str,
        created_by: str,
        revoked_seq: int | None = None,
    ) -> None:
        self.token_id = token_id
        self.actor = actor
        self.env = env
        self.digest = digest
        self.created_seq = created_seq
        self.created_at = created_at
        self.created_by = created_by
        self.revoked_seq = revoked_seq


class DecisionBatchRow(Row):
    """One batch of logged decisions: a Parquet object whose Merkle root its event signs."""

    TABLE: ClassVar[str] = "decision_batches"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "batch_id",
        "env",
        "deployments",
        "object_digest",
        "merkle_root",
        "count",
        "refused",
        "errors",
        "first_ts",
        "last_ts",
        "first_request",
        "last_request",
        "source",
        "created_at",
        "created_by",
        "stored_digest",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        batch_id: str,
        env: str,
        deployments: str,
        object_digest: str,
        merkle_root: str,
        count: int,
        refused: int,
        errors: int,
        first_ts: str,
        last_ts: str,
        first_request: str,
        last_request: str,
        source: str,
        created_at: str,
        created_by: str,
        stored_digest: str | None = None,
    ) -> None:
        self.seq = seq
        self.batch_id = batch_id
        self.env = env
        self.deployments = deployments
        self.object_digest = object_digest
        self.merkle_root = merkle_root
        self.count = count
        self.refused = refused
        self.errors = errors
        self.first_ts = first_ts
        self.last_ts = last_ts
        self.first_request = first_request
        self.last_request = last_request
        self.source = source
        self.created_at = created_at
        self.created_by = created_by
        self.stored_digest = stored_digest


class DecisionOverrideRow(Row):
    """A human's override of one logged decision (EU AI Act Art. 14 oversight)."""

    TABLE: ClassVar[str] = "decision_overrides"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "request_id",
        "batch_seq",
        "outcome",
        "reason",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        request_id: str,
        batch_seq: int,
        outcome: str,
        reason: str,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.request_id = request_id
        self.batch_seq = batch_seq
        self.outcome = outcome
        self.reason = reason
        self.created_at = created_at
        self.created_by = created_by


class OutcomeBatchRow(Row):
    """Observed outcomes (late labels) joined to decisions by request id: a Parquet object."""

    TABLE: ClassVar[str] = "outcome_batches"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "object_digest",
        "rows",
        "matched",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        object_digest: str,
        rows: int,
        matched: int,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.object_digest = object_digest
        self.rows = rows
        self.matched = matched
        self.created_at = created_at
        self.created_by = created_by


class OpsConfigRow(Row):
    """An SLO set or a playbook put in force for an environment (the document is a blob)."""

    TABLE: ClassVar[str] = "ops_configs"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "kind",
        "env",
        "name",
        "digest",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        kind: str,
        env: str,
        name: str,
        digest: str,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.kind = kind
        self.env = env
        self.name = name
        self.digest = digest
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class MonitorRunRow(Row):
    """One monitoring window's evidence (drift, skew, performance, fairness) and verdict."""

    TABLE: ClassVar[str] = "monitor_runs"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "env",
        "window_start",
        "window_end",
        "evidence_digest",
        "verdict",
        "decisions",
        "deployment_id",
        "model",
        "checks",
        "slo_digest",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        env: str,
        window_start: str,
        window_end: str,
        evidence_digest: str,
        verdict: str,
        decisions: int,
        deployment_id: str | None = None,
        model: str | None = None,
        checks: str,
        slo_digest: str | None = None,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.env = env
        self.window_start = window_start
        self.window_end = window_end
        self.evidence_digest = evidence_digest
        self.verdict = verdict
        self.decisions = decisions
        self.deployment_id = deployment_id
        self.model = model
        self.checks = checks
        self.slo_digest = slo_digest
        self.created_at = created_at
        self.created_by = created_by


class OpsAlertRow(Row):
    """An SLO breach found by a monitoring run (``seq`` is its ``monitor.alert``)."""

    TABLE: ClassVar[str] = "ops_alerts"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "env",
        "slo",
        "metric",
        "observed",
        "threshold",
        "verdict",
        "monitor_seq",
        "incident",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        env: str,
        slo: str,
        metric: str,
        observed: float | None = None,
        threshold: str,
        verdict: str,
        monitor_seq: int,
        incident: int | None = None,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.env = env
        self.slo = slo
        self.metric = metric
        self.observed = observed
        self.threshold = threshold
        self.verdict = verdict
        self.monitor_seq = monitor_seq
        self.incident = incident
        self.created_at = created_at
        self.created_by = created_by


class IncidentRow(Row):
    """An incident ticket (``seq`` is its ``incident.open``; the status columns follow it)."""

    TABLE: ClassVar[str] = "incidents"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "env",
        "title",
        "severity",
        "status",
        "alert_seq",
        "slo",
        "playbook",
        "opened_at",
        "opened_by",
        "updated_seq",
        "closed_at",
        "closed_by",
        "resolution",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        env: str,
        title: str,
        severity: str,
        status: str,
        alert_seq: int | None = None,
        slo: str | None = None,
        playbook: str | None = None,
        opened_at: str,
        opened_by: str,
        updated_seq: int,
        closed_at: str | None = None,
        closed_by: str | None = None,
        resolution: str | None = None,
        reason: str,
    ) -> None:
        self.seq = seq
        self.env = env
        self.title = title
        self.severity = severity
        self.status = status
        self.alert_seq = alert_seq
        self.slo = slo
        self.playbook = playbook
        self.opened_at = opened_at
        self.opened_by = opened_by
        self.updated_seq = updated_seq
        self.closed_at = closed_at
        self.closed_by = closed_by
        self.resolution = resolution
        self.reason = reason


class IncidentActionRow(Row):
    """One action taken on an incident: who, when, why, and the runbook step it followed."""

    TABLE: ClassVar[str] = "incident_actions"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "incident",
        "action",
        "detail",
        "automatic",
        "status",
        "step",
        "runbook",
        "caused_seq",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        incident: int,
        action: str,
        detail: str,
        automatic: bool = False,
        status: str,
        step: int | None = None,
        runbook: str | None = None,
        caused_seq: int | None = None,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.incident = incident
        self.action = action
        self.detail = detail
        self.automatic = automatic
        self.status = status
        self.step = step
        self.runbook = runbook
        self.caused_seq = caused_seq
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class PipelineRunRow(Row):
    """One CI/CD pipeline run: its steps with their results (the history auditors ask for)."""

    TABLE: ClassVar[str] = "pipeline_runs"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "name",
        "spec_digest",
        "status",
        "steps",
        "failed_step",
        "report_digest",
        "created_at",
        "created_by",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        name: str,
        spec_digest: str,
        status: str,
        steps: str,
        failed_step: str | None = None,
        report_digest: str | None = None,
        created_at: str,
        created_by: str,
    ) -> None:
        self.seq = seq
        self.name = name
        self.spec_digest = spec_digest
        self.status = status
        self.steps = steps
        self.failed_step = failed_step
        self.report_digest = report_digest
        self.created_at = created_at
        self.created_by = created_by


class DataAccessRow(Row):
    """A read (decryption) or export of sensitive data: who, which snapshot, why."""

    TABLE: ClassVar[str] = "data_access"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "snapshot",
        "purpose",
        "target",
        "columns",
        "actor",
        "created_at",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        snapshot: str,
        purpose: str,
        target: str | None = None,
        columns: str | None = None,
        actor: str,
        created_at: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.snapshot = snapshot
        self.purpose = purpose
        self.target = target
        self.columns = columns
        self.actor = actor
        self.created_at = created_at
        self.reason = reason


class ErasureRow(Row):
    """One erasure (``data.erase``): what was shredded or deleted, why, and its receipt."""

    TABLE: ClassVar[str] = "erasures"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "target",
        "snapshots",
        "method",
        "legal_basis",
        "rule",
        "receipt_digest",
        "subject_column",
        "replaced_by",
        "models",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        target: str,
        snapshots: list[str],
        method: str,
        legal_basis: str,
        rule: str,
        receipt_digest: str,
        subject_column: str | None = None,
        replaced_by: str | None = None,
        models: list[str],
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.target = target
        self.snapshots = snapshots
        self.method = method
        self.legal_basis = legal_basis
        self.rule = rule
        self.receipt_digest = receipt_digest
        self.subject_column = subject_column
        self.replaced_by = replaced_by
        self.models = models
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class HoldRow(Row):
    """A legal hold on a dataset or snapshot: erasure and retention wait until it is lifted."""

    TABLE: ClassVar[str] = "holds"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "target",
        "created_at",
        "created_by",
        "reason",
        "released_seq",
        "released_by",
        "released_reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        target: str,
        created_at: str,
        created_by: str,
        reason: str,
        released_seq: int | None = None,
        released_by: str | None = None,
        released_reason: str | None = None,
    ) -> None:
        self.seq = seq
        self.target = target
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason
        self.released_seq = released_seq
        self.released_by = released_by
        self.released_reason = released_reason


class RetentionRuleRow(Row):
    """An explicit retention rule (``retention.set``): a dataset's or a decision log's period."""

    TABLE: ClassVar[str] = "retention_rules"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "target",
        "period",
        "previous",
        "seq",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("target",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        target: str,
        period: str,
        previous: str | None = None,
        seq: int,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.target = target
        self.period = period
        self.previous = previous
        self.seq = seq
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


class RetentionRunRow(Row):
    """One ``retention run`` (``retention.run``): what it erased, skipped for holds, refused."""

    TABLE: ClassVar[str] = "retention_runs"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq",
        "as_of",
        "erased",
        "held",
        "refused",
        "decision_logs",
        "created_at",
        "created_by",
        "reason",
    )
    KEY: ClassVar[tuple[str, ...]] = ("seq",)
    __slots__ = COLUMNS

    def __init__(
        self,
        *,
        seq: int,
        as_of: str | None = None,
        erased: str,
        held: str,
        refused: str,
        decision_logs: str,
        created_at: str,
        created_by: str,
        reason: str,
    ) -> None:
        self.seq = seq
        self.as_of = as_of
        self.erased = erased
        self.held = held
        self.refused = refused
        self.decision_logs = decision_logs
        self.created_at = created_at
        self.created_by = created_by
        self.reason = reason


# Every catalog table, in the order its DDL is created and its rows dumped.
TABLES = (
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
