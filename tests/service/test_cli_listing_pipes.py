"""A listing in a pipe (issue 20, item 8): ``token list`` into a pipe prints every value whole,
tab-separated, without colour or header — a Rich table there was cut at 80 columns (``numb…``)."""

from __future__ import annotations

from sqlalchemy import func, select

from commandpost.security.models import ApiToken
from tests import cli_support


def test_a_long_token_name_comes_through_a_pipe_whole(db_url, applied_ops):
    name = "deploy-bot for the payment platform's blue/green rollouts, " * 3 + "eu-west"  # 187 characters
    env = {"COMMANDPOST_DATABASE_URL": db_url, "COLUMNS": "80"}
    made = cli_support.run_cli(
        ["token", "create", "--person", "hana", "--scope", "read", "--name", name], env=env
    )
    assert made.returncode == 0, made.stderr
    listed = cli_support.run_cli(["token", "list"], env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = [line.split("\t") for line in listed.stdout.splitlines()]
    assert len(row) == 7 and row[1:4] == ["@hana", "read", name]
    assert row[4].startswith("cp_") and len(listed.stdout.splitlines()[0]) > 200  # the prefix is "cp_xxxxxx…"
    assert "\x1b[" not in listed.stdout and "│" not in listed.stdout


def test_a_token_name_longer_than_its_column_is_refused_not_a_database_error(db_url, applied_ops, sessions):
    env = {"COMMANDPOST_DATABASE_URL": db_url}
    done = cli_support.run_cli(
        ["token", "create", "--person", "hana", "--scope", "read", "--name", "n" * 201], env=env
    )
    assert done.returncode == 2 and "at most 200 characters; this one has 201" in done.stderr
    assert "Traceback" not in done.stderr
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 0
