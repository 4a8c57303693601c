"""Release basics (issue 20, item 1): the licence pyproject names, a Keep a Changelog file, one version
everywhere (``commandpost --version``, ``/healthz``, the OpenAPI document), valid classifiers; and the
CLI's config file under ``$XDG_CONFIG_HOME`` (item 8)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest
import trove_classifiers
from typer.testing import CliRunner

from commandpost import __version__, cli
from commandpost import client as api_client
from commandpost.settings import Settings
from tests.cli_support import run_cli
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, as Debian ships it in
# /usr/share/common-licenses/Apache-2.0: the LICENSE file is that text, unaltered.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
CHANGELOG_KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_license_is_the_apache_2_text_pyproject_names():
    assert PYPROJECT["license"] == "Apache-2.0"
    assert hashlib.sha256((REPO / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


def test_version_is_pyprojects_on_the_fast_path_through_typer_and_in_the_package():
    expected = f"commandpost {PYPROJECT['version']}\n"
    fast = run_cli(["--version"])  # cli_root.main answers before Typer is imported
    assert (fast.returncode, fast.stdout) == (0, expected)
    typer_path = CliRunner().invoke(cli.app, ["--version"])  # the option Typer lists on the help page
    assert (typer_path.exit_code, typer_path.stdout) == (0, expected)
    assert __version__ == PYPROJECT["version"]
    assert "Show the version and exit." in run_cli(["--help"]).stdout


def test_healthz_and_openapi_carry_the_same_version(client):
    assert client.get("/healthz").json()["version"] == PYPROJECT["version"]
    assert client.get("/openapi.json").json()["info"]["version"] == PYPROJECT["version"]


def test_classifiers_are_pypis_and_none_is_deprecated():
    classifiers = PYPROJECT["classifiers"]
    assert classifiers, "pyproject.toml lists no classifiers"
    assert [c for c in classifiers if c not in trove_classifiers.classifiers] == []
    assert [c for c in classifiers if c in trove_classifiers.deprecated_classifiers] == []
    # PEP 639: with `license` an SPDX expression, a License :: classifier is an error to build tools
    assert [c for c in classifiers if c.startswith("License ::")] == []
    assert f"Programming Language :: Python :: {PYPROJECT['requires-python'].lstrip('>=')}" in classifiers


def test_changelog_keeps_a_changelog():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in text
    releases = re.findall(r"^## \[([^\]]+)\](.*)$", text, flags=re.MULTILINE)
    assert releases[0] == ("Unreleased", "")
    for version, rest in releases[1:]:  # `## [1.2.0] - 2027-01-31`, newest first
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
        assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", rest), rest
    if len(releases) > 1:
        assert releases[1][0] == PYPROJECT["version"], "the newest release is not pyproject's version"
    kinds = re.findall(r"^### (.+)$", text, flags=re.MULTILINE)
    assert kinds and set(kinds) <= CHANGELOG_KINDS, kinds
    unreleased = text.split("## [Unreleased]", 1)[1]
    assert re.search(r"^- ", unreleased, flags=re.MULTILINE), "Unreleased lists nothing"


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [
        ("{tmp}/xdg", "{tmp}/xdg/commandpost/config.toml"),
        (None, "{home}/.config/commandpost/config.toml"),
        ("", "{home}/.config/commandpost/config.toml"),  # the spec: empty is unset
        ("relative/dir", "{home}/.config/commandpost/config.toml"),  # the spec: relative is ignored
    ],
)
def test_config_file_follows_xdg_config_home(tmp_path, monkeypatch, xdg, expected):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("COMMANDPOST_CONFIG_FILE", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg.format(tmp=tmp_path))
    assert Settings().config_file == Path(expected.format(tmp=tmp_path, home=home))


def test_the_client_reads_its_url_and_token_from_xdg_config_home(tmp_path, monkeypatch):
    for name in ("COMMANDPOST_CONFIG_FILE", "COMMANDPOST_URL", "COMMANDPOST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    config = tmp_path / "xdg" / "commandpost" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('url = "https://cp.example/"\ntoken = "cp_from_xdg"\n', encoding="utf-8")
    assert api_client.resolve() == ("https://cp.example", "cp_from_xdg")
    monkeypatch.setenv("COMMANDPOST_CONFIG_FILE", str(tmp_path / "elsewhere.toml"))  # still wins
    assert api_client.resolve() == ("http://127.0.0.1:8080", "")
