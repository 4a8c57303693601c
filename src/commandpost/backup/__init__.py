"""Backup, restore, export and import of a whole commandpost database (docs/operations.md).

Domain-independent: every table is read and written through SQLAlchemy's metadata (the models
:mod:`commandpost.models_registry` lists), in foreign-key order, so a new table is exported without
a change here. It sits above every domain (pyproject.toml's layers contract) and no domain imports it.
"""
