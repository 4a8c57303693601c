"""Ops-as-code: the ``ops/`` folder as validated pydantic models, its loader, check, apply and revisions."""
