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
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from commandpost.settings import Settings
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

    url = urlsplit(interpolate(app["environment"]["COMMANDPOST_DATABASE_URL"], {}))
    db_env = {k: interpolate(v, {}) for k, v in db["environment"].items()}
    assert url.scheme == "postgresql+psycopg" and url.hostname == "db" and url.port == 5432
    assert (url.username, url.path) == (db_env["POSTGRES_USER"], "/" + db_env["POSTGRES_DB"])
    assert db["volumes"] == ["pgdata:/var/lib/postgresql/data"] and "pgdata" in compose()["volumes"]


def test_the_database_password_is_a_secret_file_in_both_services() -> None:
    """Never a value in the file or an environment variable: podman-compose prints every `podman run`
    with its -e values, so the password is a Compose secret (a file mounted in /run/secrets) that the
    postgres image reads through POSTGRES_PASSWORD_FILE and commandpost through
    COMMANDPOST_DATABASE_PASSWORD_FILE."""
    data = compose()
    services = data["services"]
    app, db = services["commandpost"], services["db"]
    assert data["secrets"] == {"db_password": {"file": "${COMMANDPOST_DB_PASSWORD_FILE:-./db_password}"}}
    assert interpolate(data["secrets"]["db_password"]["file"], {}) == "./db_password"
    assert db["secrets"] == app["secrets"] == ["db_password"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert app["environment"]["COMMANDPOST_DATABASE_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_PASSWORD" not in db["environment"]
    assert urlsplit(app["environment"]["COMMANDPOST_DATABASE_URL"]).password is None
    assert "PASSWORD}" not in COMPOSE.read_text()  # no ${…PASSWORD} interpolated into a value


def test_the_password_file_goes_into_the_database_url(tmp_path, monkeypatch) -> None:
    """What commandpost makes of the two variables compose.yaml gives it: the URL with the file's
    password (quoted where the URL needs it, the line break of `openssl … > file` dropped)."""
    secret = tmp_path / "db_password"
    secret.write_text("p@ss:w/rd#1\n")
    app = compose()["services"]["commandpost"]["environment"]
    monkeypatch.setenv("COMMANDPOST_DATABASE_URL", app["COMMANDPOST_DATABASE_URL"])
    monkeypatch.setenv("COMMANDPOST_DATABASE_PASSWORD_FILE", str(secret))
    url = make_url(Settings().database_url)
    assert (url.username, url.password, url.host, url.database) == (
        "commandpost",
        "p@ss:w/rd#1",
        "db",
        "commandpost",
    )
    # serve's schema upgrade runs in a child process, given this URL and the same environment
    monkeypatch.setenv("COMMANDPOST_DATABASE_URL", Settings().database_url)
    assert make_url(Settings().database_url) == url


@pytest.mark.parametrize(
    ("content", "url", "says"),
    [
        (None, "postgresql+psycopg://commandpost@db/commandpost", "cannot read the database password from"),
        ("\n", "postgresql+psycopg://commandpost@db/commandpost", "is empty"),
        (b"\xff\xfe", "postgresql+psycopg://commandpost@db/commandpost", "is not UTF-8 text"),
        (
            "s3cret-from-file",
            "postgresql+psycopg://commandpost:url-hunter2@db/commandpost",
            "has another password",
        ),
        ("s3cret-from-file", "sqlite:///var/commandpost.db", "is for a postgresql+psycopg://"),
    ],
)
def test_a_bad_password_file_is_refused_naming_the_file_not_the_password(
    tmp_path, monkeypatch, content: str | bytes | None, url: str, says: str
) -> None:
    secret = tmp_path / "db_password"
    if isinstance(content, bytes):
        secret.write_bytes(content)
    elif content is not None:
        secret.write_text(content)
    monkeypatch.setenv("COMMANDPOST_DATABASE_URL", url)
    monkeypatch.setenv("COMMANDPOST_DATABASE_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("COMMANDPOST_SMTP_PASSWORD", "smtp-hunter2")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert says in str(info.value) and "database_password_file" in str(info.value)
    for secret_text in ("s3cret-from-file", "smtp-hunter2", "url-hunter2"):
        assert secret_text not in str(info.value)
