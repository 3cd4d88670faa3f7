"""metricsync keeps experiment and analytics metric definitions in Git."""

__version__ = "0.1.0"
