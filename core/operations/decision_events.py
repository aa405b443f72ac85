"""Event kinds of the operations context (decision_events): filled by its part."""

from __future__ import annotations
