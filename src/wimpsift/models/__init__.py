"""Classifier architectures (PyTorch modules); training lives in :mod:`wimpsift.training`."""
