"""xp: experiment management for machine-learning projects (the Python helper)."""

__version__ = "0.1.0"
