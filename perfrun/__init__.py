"""perfrun: load testing for HTTP services."""

__version__ = "0.1.0"
