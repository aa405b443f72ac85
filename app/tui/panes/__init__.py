"""The workstation's panes, one module per tab. Each loads through core in a thread worker,
then draws the view objects core returns; none opens a session, an object or a zip member."""

from app.tui.panes.approvals import ApprovalsPane
from app.tui.panes.base import Pane, Table
from app.tui.panes.bundle import BundlePane
from app.tui.panes.data import DataPane
from app.tui.panes.governance import InventoryPane
from app.tui.panes.ledger import LedgerPane
from app.tui.panes.lineage import LineagePane
from app.tui.panes.models import ModelsPane
from app.tui.panes.operations import OperationsPane
from app.tui.panes.overview import OverviewPane

__all__ = [
    "ApprovalsPane",
    "BundlePane",
    "DataPane",
    "InventoryPane",
    "LedgerPane",
    "LineagePane",
    "ModelsPane",
    "OperationsPane",
    "OverviewPane",
    "Pane",
    "Table",
]
