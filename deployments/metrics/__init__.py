"""The metrics sampler: one per Docker host, reading the stats stream of every Berth container."""
