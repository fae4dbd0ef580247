"""Image datasets: build them in chunked HDF5, read them back, stream them to PyTorch.

Public API (stable; the CNN training code builds on it)::

    build_image_dataset(path, detector, signal="wimp:500", background="er",
                        events_per_class=N, kinds=("hit", "peak", "hitpeak"), seed=K,
                        shapes=None, progress=True, chunk_events=256,
                        selection="window") -> Path
    load_images(path, kind) -> (X float32 (N, H, W) in [0, 1], y int64 (N,), table DataFrame)
    ImageDataset(path, kind)   # torch.utils.data.Dataset -> (tensor (1, H, W), label)

``detector`` is a :class:`wimpsift.detectors.Detector` or its name; ``signal`` and
``background`` are source names, ``"wimp:<mass GeV>"`` for a WIMP. Label 1 = signal,
0 = background. ``shapes`` maps a kind to (height, width); defaults are hit (50, 100),
peak (50, 100), hitpeak (75, 75) — the seed's "100×50" is width × height.
"""

# Implementation follows below; the signatures above are the contract.
