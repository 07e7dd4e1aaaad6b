"""The version of splitbrain (kept apart so that any layer can read it without importing the package root)."""

__all__: list[str] = []


__version__ = "0.1.0"
