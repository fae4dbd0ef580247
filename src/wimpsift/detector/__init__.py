"""Detector response: light collection, drift and S2, position resolution, PMT arrays."""
