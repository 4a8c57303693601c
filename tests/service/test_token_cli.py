"""``commandpost token create`` prints the token alone on its last line; the token then authenticates."""

from __future__ import annotations

import subprocess

from commandpost.security import service
from tests import cli_support


def run_cli(*args: str, env_db: str) -> subprocess.CompletedProcess[str]:
    return cli_support.run_cli(args, env={"COMMANDPOST_DATABASE_URL": env_db})


def test_token_create_list_revoke(db_url, session, clock, applied_ops):
    created = run_cli("token", "create", "--person", "hana", "--scope", "responder", env_db=db_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("cp_") and len(token) > 40
    principal = service.authenticate(session, token=token, now=clock.now())
    assert (principal.person, principal.scope) == ("hana", "responder")
    session.rollback()

    listed = run_cli("token", "list", "--json", env_db=db_url)
    assert '"person": "hana"' in listed.stdout and token not in listed.stdout

    revoked = run_cli("token", "revoke", str(principal.token_id), env_db=db_url)
    assert revoked.returncode == 0, revoked.stderr
    bad = run_cli("token", "create", "--person", "hana", "--scope", "root", env_db=db_url)
    assert bad.returncode == 2
    assert "unknown scope 'root'" in bad.stderr and "Traceback" not in bad.stderr


def test_token_create_refuses_a_person_not_in_people_yaml(db_url, session, applied_ops):
    """A token for a handle nobody has would declare incidents with that name as IC and page no one."""
    bad = run_cli("token", "create", "--person", "nobody-at-all", "--scope", "admin", env_db=db_url)
    assert bad.returncode == 2, bad.stderr
    assert "unknown person @nobody-at-all" in bad.stderr and "svc:NAME" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stdout == ""
    assert service.list_tokens(session) == []
    bot = run_cli("token", "create", "--person", "svc:deploy-bot", "--scope", "responder", env_db=db_url)
    assert bot.returncode == 0, bot.stderr
    session.rollback()  # a fresh snapshot
    assert [t.person for t in service.list_tokens(session)] == ["svc:deploy-bot"]
