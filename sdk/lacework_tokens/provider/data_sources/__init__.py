"""Data sources, one module each (models, schema, read)."""
