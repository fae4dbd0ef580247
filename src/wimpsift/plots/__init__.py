"""Figures for people (matplotlib); never in a hot path."""
