"""Database: engine and sessions (``engine.py``), declarative Base (``base.py``), Alembic migrations."""
