"""The Textual dashboard (``feedwatch run`` / ``feedwatch demo``)."""

from __future__ import annotations

from .app import FeedwatchApp, run_dashboard

__all__ = ["FeedwatchApp", "run_dashboard"]
