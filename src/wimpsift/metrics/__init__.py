"""Metrics of classifiers and discriminants (one module per family of metrics)."""
