"""Scenarios: the frozen model, the YAML loader that builds it, and selection."""
