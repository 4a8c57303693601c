"""Ops-as-code: the ``ops/`` folder as validated pydantic models, its loader, check, apply and revisions.

Face, what other domains import: ``opsfiles`` (the models of the ops files), ``service`` (the
applied revision the server runs on), ``models`` (the revision tables), ``loader``, ``xref`` and
``findings`` (load and cross-check a folder, say ``path:line``), ``durations`` and ``yamlsource``
(read durations and YAML as people write them). Internal: email_contacts, hooks, schemas; only
the edges (api, cli, the web pages) and the composition root reach those.
"""

__all__ = ["durations", "findings", "loader", "models", "opsfiles", "service", "xref", "yamlsource"]
