"""wimpsift: machine-learning dark-matter searches in liquid-xenon TPCs.

The package follows the analysis chain: ``sources`` (recoil spectra and rates),
``microphysics`` (NEST quanta), ``detector`` (detector response), ``processing``,
``images``, ``models``, ``training``, ``metrics``, ``stats`` and ``reports``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wimpsift")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from wimpsift.errors import ConfigError, DataError, WimpsiftError  # noqa: E402

__all__ = ["ConfigError", "DataError", "WimpsiftError", "__version__"]
