"""Hygiene (guide §8): redaction of secrets, API tokens with scopes, and the audit log.

Face, what other domains import: ``links`` (one-tap page links), ``redact`` (secrets out of free
text), ``rules`` (token scopes), ``service`` (tokens and the audit log) and ``stored`` (redaction on
every stored column). Internal: cards, detectors, models, ops_secrets (credentials in ops files,
connected to policy's check by the composition root), schemas, throttle, users; only the edges
(api, cli, the web pages) and the composition root reach those.
"""

__all__ = ["links", "redact", "rules", "service", "stored"]
