"""Mergeable measurements: latency histograms, per-scenario stats, per-second timeline, and
the records they are made of (request results, schedule counts, resource samples)."""
