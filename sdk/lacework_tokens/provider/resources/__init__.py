"""Managed resources, one module each (model, schema with defaults, plan, CRUD, import)."""
