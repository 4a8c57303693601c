"""Hygiene (guide §8): redaction of secrets, API tokens with scopes, and the audit log."""
