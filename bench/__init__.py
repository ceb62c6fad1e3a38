"""Benchmarks of the collection against the lab: ``make bench`` and ``make chaos``."""

from __future__ import annotations
