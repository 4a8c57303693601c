"""similar: incident_search (the full-text index behind "similar past incidents")

Revision ID: 0021
Revises: 0020

One document per incident, in four weighted parts: its title; its identity (service, the incident's
labels, the alertname and labels of its first 20 attached alerts); its summary; its postmortem's
root cause and technical factor. SQLite keeps it in an FTS5 table (porter stemming, rowid = the
incident's id), PostgreSQL in a ``tsvector`` column with a GIN index.

Triggers keep it, not the services: the text comes from three domains' tables (incident, alert,
postmortem) written by many use cases, an import and the demo; a trigger sees every one of those
writes in the same transaction, as the metrics' ``incident_response`` does (0010). The triggers fire
only on the columns the document reads, and an alert attached beyond an incident's 20th changes
nothing (an alert storm costs no rebuilds). Existing incidents are indexed here.
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | tuple[str, ...] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALERTS_INDEXED = 20


def _sqlite_document(where: str) -> str:
    """INSERT of the documents of the incidents ``i`` that ``where`` selects."""
    alerts = (
        "SELECT a.alertname || ' ' || COALESCE((SELECT group_concat(j.key || ' ' || j.value, ' ') "
        "FROM json_each(a.labels) j), '') AS t FROM alert a "
        f"WHERE a.incident_id = i.id ORDER BY a.id LIMIT {ALERTS_INDEXED}"
    )
    identity = (
        "COALESCE(i.service, '') || ' ' || COALESCE((SELECT group_concat(j.key || ' ' || j.value, ' ') "
        f"FROM json_each(i.labels) j), '') || ' ' || COALESCE((SELECT group_concat(t, ' ') FROM ({alerts})), '')"
    )
    cause = (
        "COALESCE((SELECT COALESCE(json_extract(p.sections, '$.root_cause'), '') || ' ' || "
        "COALESCE(json_extract(p.sections, '$.technical_factor'), '') "
        "FROM postmortem p WHERE p.incident_id = i.id), '')"
    )
    return (
        "INSERT INTO incident_search (rowid, title, identity, summary, cause) "
        f"SELECT i.id, i.title, {identity}, COALESCE(i.summary, ''), {cause} FROM incident i {where}"
    )


def _sqlite_refresh(row: str) -> str:
    """Statements re-indexing incident ``row`` (an expression: NEW.id, NEW.incident_id …)."""
    return f"DELETE FROM incident_search WHERE rowid = {row}; {_sqlite_document(f'WHERE i.id = {row}')};"


def _attached(row: str) -> str:
    return f"(SELECT count(*) FROM alert WHERE incident_id = {row}.incident_id) <= {ALERTS_INDEXED}"


SQLITE = [
    "CREATE VIRTUAL TABLE incident_search USING fts5(title, identity, summary, cause, "
    "tokenize = 'porter unicode61')",
    f"CREATE TRIGGER similar_incident_insert AFTER INSERT ON incident BEGIN {_sqlite_refresh('NEW.id')} END",
    "CREATE TRIGGER similar_incident_update AFTER UPDATE OF title, summary, service, labels ON incident "
    f"BEGIN {_sqlite_refresh('NEW.id')} END",
    "CREATE TRIGGER similar_alert_insert AFTER INSERT ON alert "
    f"WHEN NEW.incident_id IS NOT NULL AND {_attached('NEW')} BEGIN {_sqlite_refresh('NEW.incident_id')} END",
    "CREATE TRIGGER similar_alert_attach AFTER UPDATE OF incident_id ON alert "
    f"WHEN NEW.incident_id IS NOT NULL AND {_attached('NEW')} BEGIN {_sqlite_refresh('NEW.incident_id')} END",
    "CREATE TRIGGER similar_postmortem_insert AFTER INSERT ON postmortem "
    f"BEGIN {_sqlite_refresh('NEW.incident_id')} END",
    "CREATE TRIGGER similar_postmortem_update AFTER UPDATE OF sections ON postmortem "
    f"BEGIN {_sqlite_refresh('NEW.incident_id')} END",
    _sqlite_document(""),
]

_PG_DOCUMENT = f"""
SELECT i.id,
  setweight(to_tsvector('english', i.title), 'A')
  || setweight(to_tsvector('english', COALESCE(i.service, '') || ' '
     || COALESCE((SELECT string_agg(key || ' ' || value, ' ') FROM jsonb_each_text(i.labels)), '') || ' '
     || COALESCE((SELECT string_agg(a.alertname || ' ' || COALESCE(
          (SELECT string_agg(key || ' ' || value, ' ') FROM jsonb_each_text(a.labels)), ''), ' ')
        FROM (SELECT alertname, labels FROM alert WHERE incident_id = i.id ORDER BY id
              LIMIT {ALERTS_INDEXED}) a), '')), 'B')
  || setweight(to_tsvector('english', COALESCE(i.summary, '')), 'C')
  || setweight(to_tsvector('english', COALESCE((SELECT COALESCE(p.sections ->> 'root_cause', '') || ' '
     || COALESCE(p.sections ->> 'technical_factor', '') FROM postmortem p WHERE p.incident_id = i.id), '')), 'B')
FROM incident i"""

POSTGRESQL = [
    "CREATE TABLE incident_search (incident_id INTEGER PRIMARY KEY REFERENCES incident (id), "
    "document TSVECTOR NOT NULL)",
    "CREATE INDEX ix_incident_search_document ON incident_search USING GIN (document)",
    "CREATE FUNCTION similar_refresh(target INTEGER) RETURNS void LANGUAGE sql AS $$ "
    f"INSERT INTO incident_search (incident_id, document) {_PG_DOCUMENT} WHERE i.id = target "
    "ON CONFLICT (incident_id) DO UPDATE SET document = excluded.document $$",
    "CREATE FUNCTION similar_incident() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "PERFORM similar_refresh(NEW.id); RETURN NULL; END $$",
    "CREATE FUNCTION similar_other() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.incident_id IS NOT NULL AND (TG_TABLE_NAME <> 'alert' OR "
    f"(SELECT count(*) FROM alert WHERE incident_id = NEW.incident_id) <= {ALERTS_INDEXED}) THEN "
    "PERFORM similar_refresh(NEW.incident_id); END IF; RETURN NULL; END $$",
    "CREATE TRIGGER similar_incident AFTER INSERT OR UPDATE OF title, summary, service, labels ON incident "
    "FOR EACH ROW EXECUTE FUNCTION similar_incident()",
    "CREATE TRIGGER similar_alert AFTER INSERT OR UPDATE OF incident_id ON alert "
    "FOR EACH ROW EXECUTE FUNCTION similar_other()",
    "CREATE TRIGGER similar_postmortem AFTER INSERT OR UPDATE OF sections ON postmortem "
    "FOR EACH ROW EXECUTE FUNCTION similar_other()",
    f"INSERT INTO incident_search (incident_id, document) {_PG_DOCUMENT}",
]


def upgrade() -> None:
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("incident_insert", "incident_update", "alert_insert", "alert_attach"):
            op.execute(f"DROP TRIGGER similar_{name}")
        op.execute("DROP TRIGGER similar_postmortem_insert")
        op.execute("DROP TRIGGER similar_postmortem_update")
    else:
        for table in ("incident", "alert", "postmortem"):
            op.execute(f"DROP TRIGGER similar_{table} ON {table}")
        op.execute("DROP FUNCTION similar_other()")
        op.execute("DROP FUNCTION similar_incident()")
        op.execute("DROP FUNCTION similar_refresh(INTEGER)")
    op.execute("DROP TABLE incident_search")
