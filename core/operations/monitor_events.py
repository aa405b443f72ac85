"""Event kinds of the operations context (monitor_events): filled by its part."""

from __future__ import annotations
