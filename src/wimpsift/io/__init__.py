"""Readers and writers for exchange formats."""
