"""Statistics: binned templates, profile likelihood, limits (issue 6).

Pipeline order: :mod:`templates` (expected events per bin and their Σw²) →
:mod:`likelihood` (binned Poisson with Gaussian-constrained background normalisations
and per-bin MC-statistics parameters, Barlow–Beeston lite) → :mod:`fit`
(iminuit) and :mod:`batchfit` (vectorised fits of toys) → :mod:`teststat` (q~_mu,
asymptotics) → :mod:`toys` (Neyman construction) → :mod:`limits` (upper limits,
bands, power constraint, discovery). Beside them: :mod:`traditional` (the
multi-dimensional analysis), :mod:`comparison` (both analyses on the same events),
:mod:`convergence` (limits against simulated events), :mod:`timing` (Table I),
:mod:`distributed` (Dask) and :mod:`pyhf_export`.
"""

from wimpsift.stats.likelihood import BinnedLikelihood, LikelihoodConfig
from wimpsift.stats.limits import LimitConfig, LimitResult, discovery_significance, upper_limit
from wimpsift.stats.templates import TemplateSet, histogram_template

__all__ = [
    "BinnedLikelihood", "LikelihoodConfig", "LimitConfig", "LimitResult", "TemplateSet",
    "discovery_significance", "histogram_template", "upper_limit",
]
