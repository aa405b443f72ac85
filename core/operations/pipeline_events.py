"""Event kinds of the operations context (pipeline_events): filled by its part."""

from __future__ import annotations
