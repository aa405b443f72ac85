"""The documents context's event kinds: recorded data sheets, model cards, impact assessments.

They change no table (the reports are blobs; the event index finds them), so they are declared
without a handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.kernel.kinds import Payload, declare


@dataclass(frozen=True)
class DatasheetRecorded(Payload):
    """A snapshot's data sheet, stored as Markdown and HTML blobs."""

    snapshot: str
    gaps: int
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


@dataclass(frozen=True)
class ModelCardRecorded(Payload):
    """A model version's card, stored as Markdown and HTML blobs."""

    model: str
    gaps: int
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


@dataclass(frozen=True)
class ImpactAssessmentRecorded(Payload):
    """A model version's algorithmic impact assessment, stored as Markdown and HTML blobs."""

    model: str
    level: str
    unanswered: int
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


declare("report.datasheet", DatasheetRecorded, context=__name__)
declare("report.model_card", ModelCardRecorded, context=__name__)
declare("report.impact_assessment", ImpactAssessmentRecorded, context=__name__)


@dataclass(frozen=True)
class ScoreCardRecorded(Payload):
    """An existing score's card (``score:SNAPSHOT#COLUMN``), stored as Markdown and HTML."""

    score: str
    verdict: str
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


declare("report.score_card", ScoreCardRecorded, context=__name__)


@dataclass(frozen=True)
class OperationsReportRecorded(Payload):
    """An environment's monitoring, incident or decision-log report, as Markdown and HTML.

    ``verdict`` is the report's headline as it reads: the worst monitoring verdict, or for
    incidents ``open``/``closed``, or the decision log's count of FAIL-free batches.
    """

    env: str
    verdict: str
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


@dataclass(frozen=True)
class MonitoringReportRecorded(OperationsReportRecorded):
    """An environment's monitoring report (its headline: the worst window's verdict)."""


@dataclass(frozen=True)
class IncidentReportRecorded(OperationsReportRecorded):
    """An environment's incident report (its headline: how many incidents, how many open)."""


@dataclass(frozen=True)
class DecisionLogReportRecorded(OperationsReportRecorded):
    """An environment's decision-log report (its headline: how many decisions, batches)."""


declare("report.monitoring", MonitoringReportRecorded, context=__name__)
declare("report.decision_log", DecisionLogReportRecorded, context=__name__)
declare("report.incidents", IncidentReportRecorded, context=__name__)


@dataclass(frozen=True)
class AccessReportRecorded(Payload):
    """The access-log report: which entries (``scope``), how many, as Markdown and HTML."""

    scope: str
    entries: int
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


@dataclass(frozen=True)
class MinimisationReportRecorded(Payload):
    """The data-minimisation report (``verdict``: its headline, as it reads)."""

    verdict: str
    markdown: str
    html: str
    pdf: str | None = None
    """The PDF rendering's digest, when one was made (``--pdf``)."""


declare("report.access", AccessReportRecorded, context=__name__)
declare("report.minimisation", MinimisationReportRecorded, context=__name__)


@dataclass(frozen=True)
class RetentionReportRecorded(Payload):
    """The retention and deletion log, rendered: its Markdown, HTML and JSON digests.

    ``events`` is the ledger size it covers; ``flags`` how many flags it raised (erasures
    made before their retention had run out by the wall clock, runs counted at a later
    instant than their own time).
    """

    markdown: str
    html: str
    json: str
    events: int
    flags: int
    pdf: str | None = None
    """The PDF rendering's digest, when one was made."""


declare("report.retention", RetentionReportRecorded, context=__name__, evidence_for=("retention",))
