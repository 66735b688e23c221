"""Running scenarios: one after another, each in isolation, with its target, monitor and load."""
