"""Developer tools that are neither part of the distribution nor of ``make test``."""
