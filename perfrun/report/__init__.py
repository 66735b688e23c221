"""Reports: the report model and its renderers (JSON, console)."""
