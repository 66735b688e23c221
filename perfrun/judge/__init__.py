"""Judging a run: the report built from what was measured, thresholds, saturation, insights,
baselines, the history and --fail-on."""
