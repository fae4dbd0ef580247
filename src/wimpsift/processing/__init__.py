"""Processing: peaks, areas, positions, corrections and selections."""
