"""splitbrain: Jepsen-style testing for distributed and concurrent Python code."""

__version__ = "0.1.0"
