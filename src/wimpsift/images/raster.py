"""Image settings and the dispatcher that renders every requested kind.

Kinds, channels and scaling (all images: one channel, float32, values in [0, 1],
arrays of shape (N, height, width); the paper's "100×50" is width × height):

- ``hit`` (default 50 × 100): left half the main S1 hit pattern on the *bottom* array,
  right half the main S2 hit pattern on the *top* array. Each PMT is a disc at its
  position (TPC diameter across the panel, +y up); its grey level is
  log10(1 + area) / log10(1 + max), ``max`` = ``hit_s1_max_pe`` / ``hit_s2_max_pe`` per
  PMT, clipped to [0, 1]; pixels at a disc edge are anti-aliased by their coverage.
- ``peak`` (default 50 × 100): left half the main S1 waveform
  (``s1_trace_ns`` window), right half the main S2 waveform (``s2_trace_ns`` window);
  each column is the mean amplitude (PE per 10 ns sample) over its time slice, drawn as
  a filled curve whose height is log-scaled between ``peak_min_pe_per_sample`` (bottom)
  and ``peak_max_pe_per_sample`` (top), as the paper's log y axis; same scale for S1 and
  S2 so that the S1/S2 size ratio shows. With ``peak_secondary_s2`` a third panel, the
  whole event's waveform, shows the secondary S2s (:mod:`wimpsift.images.peak`).
- ``hitpeak`` (default 75 × 75): the 2 × 2 of both, ``hit`` in the top half (S1 bottom
  array, S2 top array) and ``peak`` in the bottom half (S1, S2).
- ``event`` (optional, not in the default kinds; 50 × 100): the whole event's summed
  waveform from the window start to the longest possible drift
  (``ProcessedEvents.event_trace_pe``), the largest amplitude in each column's time
  slice as the same log-scaled filled curve as ``peak`` (:mod:`wimpsift.images.event`).
  Secondary S2s (neutron multiple scatters) and the S1–S2 distance show here; the S2
  width shows in ``peak`` (its S2 window spans several widths even at the cathode).

Rendering is a few vectorised numpy operations per batch: the hit panels are a matrix
product of the per-PMT grey levels with a precomputed pixel-coverage matrix.

Why hand-written: plotting libraries (matplotlib, PIL) draw one figure at a time through
a canvas, with their own anti-aliasing and colour handling; training needs tens of
thousands of exact float32 arrays, so the discs and curves are rasterised here in numpy,
a batch at a time.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, ValidationError

from wimpsift.config import WimpsiftConfig
from wimpsift.errors import ConfigError, DataError, bad_value, validation_message

IMAGE_KINDS = ("hit", "peak", "hitpeak")
"""the default kinds"""
ALL_IMAGE_KINDS = (*IMAGE_KINDS, "event")
DEFAULT_SHAPES: dict[str, tuple[int, int]] = {"hit": (50, 100), "peak": (50, 100),
                                               "hitpeak": (75, 75), "event": (50, 100)}
MIN_SIDE = {"hit": (2, 4), "peak": (2, 4), "hitpeak": (4, 4), "event": (2, 2)}


class ImageSettings(WimpsiftConfig):
    """Image sizes (height, width) and the scaling of grey levels."""

    shapes: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: {k: DEFAULT_SHAPES[k] for k in IMAGE_KINDS})
    hit_s1_max_pe: Annotated[float, Field(gt=0)] = 30.0
    hit_s2_max_pe: Annotated[float, Field(gt=0)] = 3000.0
    peak_min_pe_per_sample: Annotated[float, Field(gt=0)] = 0.1
    peak_max_pe_per_sample: Annotated[float, Field(gt=0)] = 100.0
    peak_secondary_s2: bool = False
    """``peak`` (and ``hitpeak``) images get a third panel, the whole event's waveform, where
    secondary S2s show beside the main S2 (:mod:`wimpsift.images.peak`); off: the
    two-panel images, unchanged"""

    def shape(self, kind: str) -> tuple[int, int]:
        return tuple(self.shapes.get(kind, DEFAULT_SHAPES[kind]))  # type: ignore[return-value]


def check_kinds(kinds) -> tuple[str, ...]:
    """Validate image kinds (a comma-separated string or a sequence)."""
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    kinds = tuple(kinds)
    if not kinds:
        raise bad_value("kinds", kinds, f"one or more of {', '.join(ALL_IMAGE_KINDS)}")
    for kind in kinds:
        if kind not in ALL_IMAGE_KINDS:
            raise bad_value("kinds", kind, f"one of {', '.join(ALL_IMAGE_KINDS)}")
    if len(set(kinds)) != len(kinds):
        raise bad_value("kinds", kinds, "each kind at most once")
    return kinds


def image_settings(shapes: dict | None = None, **scaling) -> ImageSettings:
    """Build validated ImageSettings; ``shapes`` maps a kind to (height, width)."""
    merged = {k: DEFAULT_SHAPES[k] for k in IMAGE_KINDS}  # default kinds only
    for kind, shape in (shapes or {}).items():
        check_kinds([kind])
        try:
            h, w = (int(v) for v in shape)
            if any(float(v) != int(v) for v in shape):
                raise ValueError
        except (TypeError, ValueError):
            raise bad_value(f"shapes[{kind!r}]", shape, "(height, width) integers") from None
        min_h, min_w = MIN_SIDE[kind]
        if h < min_h or w < min_w:
            raise bad_value(f"shapes[{kind!r}]", shape,
                            f"positive sizes, height >= {min_h} and width >= {min_w}")
        merged[kind] = (h, w)
    try:
        return ImageSettings(shapes=merged, **scaling)
    except ValidationError as err:
        raise ConfigError(f"image settings: {validation_message(err)}") from err


def hit_shape(kind: str, shape: tuple[int, int]) -> tuple[int, int] | None:
    """The ``hit`` image inside an image of ``kind`` and ``shape`` (the top half of
    ``hitpeak``), or None for kinds without one."""
    height, width = shape
    return {"hit": (height, width), "hitpeak": (height // 2, width)}.get(kind)


def render_images(processed, kinds=IMAGE_KINDS, settings: ImageSettings | None = None
                  ) -> dict[str, np.ndarray]:
    """Render the requested kinds for processed events -> {kind: (N, H, W) float32}."""
    from wimpsift.images.event import render_event
    from wimpsift.images.hit import render_hit
    from wimpsift.images.hitpeak import render_hitpeak
    from wimpsift.images.peak import render_peak

    kinds = check_kinds(kinds)
    settings = settings or ImageSettings()
    out = {}
    for kind in kinds:
        shape = settings.shape(kind)
        if kind == "hit":
            out[kind] = render_hit(processed.s1_pmt_area_pe, processed.s2_pmt_area_pe,
                                   processed.arrays, shape, settings)
        elif kind == "event":
            if processed.event_trace_pe is None:
                raise DataError("events: no whole-event profiles (event_trace_pe) for "
                                "'event' images; process the events again")
            out[kind] = render_event(processed.event_trace_pe, shape, settings)
        elif kind == "peak":
            out[kind] = render_peak(processed.s1_trace_pe, processed.s2_trace_pe, shape, settings,
                                    processed.event_trace_pe)
        else:
            out[kind] = render_hitpeak(processed, shape, settings)
    return out
