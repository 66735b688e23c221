"""Mergeable measurements: latency histograms, per-scenario stats, per-second timeline."""
