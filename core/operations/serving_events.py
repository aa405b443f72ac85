"""Event kinds of the operations context (serving_events): filled by its part."""

from __future__ import annotations
