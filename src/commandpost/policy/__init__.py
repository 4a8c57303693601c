"""Ops-as-code: the ``ops/`` folder as validated pydantic models, its loader, check, apply and revisions.

Face, what other domains import: ``opsfiles`` (the whole folder's model, ``OpsConfig``) and the
models of each kind of ops file (``ops_org``, ``ops_severities``, ``ops_people``, ``ops_services``,
``ops_escalation``, ``ops_schedules``, ``ops_runbooks``, on ``ops_base``), ``service`` (the applied
revision the server runs on), ``models`` (the revision tables), ``loader``, ``xref`` and
``findings`` (load and cross-check a folder, say ``path:line``), ``durations`` and ``yamlsource``
(read durations and YAML as people write them). Internal: email_contacts, hooks, schemas; only
the edges (api, cli, the web pages) and the composition root reach those.
"""

__all__ = [
    "durations",
    "findings",
    "loader",
    "models",
    "ops_base",
    "ops_escalation",
    "ops_org",
    "ops_people",
    "ops_runbooks",
    "ops_schedules",
    "ops_services",
    "ops_severities",
    "opsfiles",
    "service",
    "xref",
    "yamlsource",
]
