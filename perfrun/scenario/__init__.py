"""Scenarios: the frozen model, the metric registry, the YAML loader that builds them, and
selection."""
