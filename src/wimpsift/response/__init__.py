"""Detector response, stage by stage: light (S1), charge (drift, S2), position resolution, pulse shape."""
