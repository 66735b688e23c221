"""Load generation: engines send requests, executors decide when."""
