"""Shared base for the typed, validated settings of the statistics stage: the package's
one configuration base (:mod:`wimpsift.config`)."""

from __future__ import annotations

from wimpsift.config import WimpsiftConfig, config_error

__all__ = ["StatsConfig", "config_error"]


class StatsConfig(WimpsiftConfig):
    """Frozen settings; unknown keys are errors. Build with :meth:`build` for a ConfigError."""
