"""compose.yaml: valid against the Compose Specification's JSON Schema, and wired as docs/deploy.md
says (commandpost waits for a healthy PostgreSQL and reaches it by its service name).

The stack itself is started by tests/integration/test_compose_stack.py (with a local stand-in for
the PostgreSQL image, which cannot be pulled where the tests run); the commandpost image alone is
built and run by tests/integration/test_container.py.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "compose.yaml"
SCHEMA = REPO / "tests" / "fixtures" / "compose" / "compose-spec.json"


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, as `compose config` resolves them."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if name in env:
            return env[name]
        assert op != ":?", f"{name} is required: {arg}"
        return arg

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_file_is_valid_against_the_compose_schema() -> None:
    errors = sorted(validator().iter_errors(compose()), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_the_schema_catches_a_misspelt_key() -> None:
    """The check above can fail: a typo in a service is an error."""
    broken = compose()
    broken["services"]["commandpost"]["depend_on"] = broken["services"]["commandpost"].pop("depends_on")
    assert any("depend_on" in e.message for e in validator().iter_errors(broken))


def test_commandpost_waits_for_postgres_and_reaches_it_by_name() -> None:
    services = compose()["services"]
    app, db = services["commandpost"], services["db"]
    env = {"COMMANDPOST_DB_PASSWORD": "s3cret"}

    assert interpolate(app["image"], {}) == "localhost/commandpost:latest"  # what `make image` tags
    assert interpolate(db["image"], {}) == "docker.io/library/postgres:15"
    assert app["build"] == {"context": ".", "dockerfile": "Containerfile"}
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["command"] == ["commandpost", "serve", "--ops", "/etc/commandpost/ops"]
    assert "./ops:/etc/commandpost/ops:ro" in app["volumes"]
    # on the host's loopback only (the TLS proxy is in front); the host port can be changed
    assert [interpolate(p, {}) for p in app["ports"]] == ["127.0.0.1:8080:8080"]
    assert interpolate(app["ports"][0], {"COMMANDPOST_PUBLISHED_PORT": "8081"}) == "127.0.0.1:8081:8080"

    url = urlsplit(interpolate(app["environment"]["COMMANDPOST_DATABASE_URL"], env))
    db_env = {k: interpolate(v, env) for k, v in db["environment"].items()}
    assert url.scheme == "postgresql+psycopg" and url.hostname == "db" and url.port == 5432
    assert (url.username, url.password, url.path) == (
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_PASSWORD"],
        "/" + db_env["POSTGRES_DB"],
    )
    assert db["volumes"] == ["pgdata:/var/lib/postgresql/data"] and "pgdata" in compose()["volumes"]


def test_the_database_password_must_be_given() -> None:
    """No default password: `compose up` stops with the message unless it is set."""
    services = compose()["services"]
    required = "${COMMANDPOST_DB_PASSWORD:?set COMMANDPOST_DB_PASSWORD}"
    assert required in services["commandpost"]["environment"]["COMMANDPOST_DATABASE_URL"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == required
