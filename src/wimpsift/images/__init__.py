"""Event images for the CNN analysis: ``hit``, ``peak`` and ``hitpeak``.

Images are rasterised directly into float32 arrays in [0, 1] from the processed
waveform-level events (per-PMT areas and the largest S1/S2 traces); no plotting
library is used in the hot path. ``wimpsift.images.png`` holds the matplotlib
figures for people. Datasets (chunked HDF5, :mod:`wimpsift.images.dataset_file`) are
built with :func:`wimpsift.images.dataset.build_image_dataset` (simulated sources) or
:func:`wimpsift.images.instruction_dataset.build_instruction_dataset` (an instruction
CSV) and read with :func:`wimpsift.images.dataset.load_images`.
"""

from wimpsift.images.raster import DEFAULT_SHAPES, IMAGE_KINDS, ImageSettings, render_images

__all__ = ["DEFAULT_SHAPES", "IMAGE_KINDS", "ImageSettings", "render_images"]
