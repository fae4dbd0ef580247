"""End-to-end pipelines: one module per reproduced analysis."""
