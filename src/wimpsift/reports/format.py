"""Numbers as people read them: rounded to their precision, never 'nan' or 'None'."""

from __future__ import annotations

import math
import numbers
from typing import Any

MISSING = "–"
NBSP = "\u00a0"  # keeps "0.84 ± 0.04" and "1.2 × 10⁻⁴⁵" on one line
THIN = "\u202f"  # narrow no-break space between thousands
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _finite(value: Any) -> bool:
    """A real number (numpy scalars included) that is not NaN or infinite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def num(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits; powers of ten written out outside 1e-3 … 1e5."""
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":  # numpy too
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}".replace(",", THIN)
    if not _finite(value):
        return MISSING
    value = float(value)
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        return sci(value, digits)
    text = f"{value:.{digits}g}"
    return sci(value, digits) if "e" in text else text


def sci(value: Any, digits: int = 3) -> str:
    """Scientific notation with a real exponent: ``1.23 × 10⁻⁴⁵``."""
    if not _finite(value):
        return MISSING
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{mantissa}{NBSP}×{NBSP}10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def fixed(value: Any, decimals: int = 3) -> str:
    """A fixed number of decimals (ratios, fractions)."""
    return f"{value:.{decimals}f}" if _finite(value) else MISSING


def pct(value: Any, decimals: int = 1) -> str:
    """A fraction as a percentage."""
    return f"{100 * value:.{decimals}f}{NBSP}%" if _finite(value) else MISSING


def _decimals_of(error: float) -> int:
    """Decimals that keep two significant digits of ``error``."""
    return max(0, 1 - math.floor(math.log10(abs(error))))


def pm(value: Any, error: Any, scale: float = 1.0, unit: str = "") -> str:
    """``value ± error`` rounded to two significant digits of the error."""
    if not _finite(value):
        return MISSING
    if not _finite(error) or error <= 0:
        return f"{num(value * scale, 4)}{unit}"
    decimals = _decimals_of(error * scale)
    return f"{value * scale:.{decimals}f}{NBSP}±{NBSP}{error * scale:.{decimals}f}{unit}"


def pct_pm(value: Any, error: Any) -> str:
    """A fraction and its error as percentages: ``99.78 ± 0.07 %``."""
    return pm(value, error, scale=100.0, unit=f"{NBSP}%")


def seconds(value: Any) -> str:
    """A duration: seconds below 2 min, minutes below 2 h, hours beyond."""
    if not _finite(value):
        return MISSING
    if value < 10:
        return f"{value:.2g}{NBSP}s"
    if value < 120:
        return f"{value:.0f}{NBSP}s"
    if value < 7200:
        return f"{value / 60:.1f}{NBSP}min"
    return f"{value / 3600:.2f}{NBSP}h"


def times(value: Any) -> str:
    """A speed-up factor: ``35×``, ``1100×``, ``4.83×``."""
    if not _finite(value):
        return MISSING
    if value >= 100:
        return f"{float(f'{value:.2g}'):.0f}×"
    return f"{value:.3g}×"


def table(caption: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """A table for the templates: every cell a string (missing values as '–')."""
    return {"caption": caption, "columns": columns,
            "rows": [[MISSING if c is None else str(c) for c in row] for row in rows]}
