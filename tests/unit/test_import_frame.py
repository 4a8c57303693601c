"""The importers' shared frame: names, saved responses, the live reader and the folder writer.

The live reader is driven against a real HTTP server on 127.0.0.1 whose answers each test scripts
(the vendors' own stand-ins, in tests/standins, drive it through the vendor modules)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from commandpost.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unauthorized, Unavailable
from commandpost.importers import source as source_module
from commandpost.importers.fields import as_int, iso_instant, known_zone, one_line
from commandpost.importers.folder import write_ops_folder
from commandpost.importers.names import Namer, slug
from commandpost.importers.result import ImportResult, mask_key
from commandpost.importers.source import LiveAPI, SavedResponses, next_link, offset_pages
from tests.standins.local_server import LocalServer

TOKEN = "s3cret-token-0123456789"


def test_slugs_fold_accents_and_never_come_out_empty() -> None:
    assert slug("Ops Team (EU)") == "ops-team-eu"
    assert slug("Zoë Ångström") == "zoe-angstrom"
    assert slug("日本語") == "x"
    assert slug("\x00\x1b[31m") == "31m"
    assert slug("\x00\x07") == "x"
    assert len(slug("a" * 500)) == 48


def test_fields_read_alike_for_every_vendor() -> None:
    assert iso_instant("2026-01-05T09:00:00Z") == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert iso_instant("2026-01-05T10:00:00+01:00") == datetime(2026, 1, 5, 9, tzinfo=UTC)
    wrongs = ((None, "is not a time"), ("5 Jan", "not an ISO 8601"), ("2026-01-05T09:00", "no UTC"))
    for wrong, says in wrongs:
        with pytest.raises(ValueError, match=says):
            iso_instant(wrong)
    assert [as_int(7), as_int(True), as_int(2.5), as_int("3", -1)] == [7, 0, 0, -1]
    assert str(known_zone("Europe/Berlin")) == "Europe/Berlin"
    assert [known_zone(z) for z in ("Nowhere/City", "", None, "../etc/passwd", "a\x00b")] == [None] * 5
    assert one_line("  Ops\x00\x1b[31m\n  team\t ") == "Ops[31m team"


def test_namer_gives_each_id_one_unique_name() -> None:
    namer = Namer("person")
    assert namer.name("P1", "Alex") == "alex"
    assert namer.name("P2", "alex") == "alex-2"
    assert namer.name("P1", "Alex Renamed") == "alex"
    assert namer.get("P2") == "alex-2"
    assert namer.get("P9") is None


def test_masked_keys_show_only_the_last_four() -> None:
    assert mask_key("abcdef0123456789") == "…6789"
    assert mask_key("short") == "…"


def test_saved_responses_read_pages_in_order(tmp_path: Path) -> None:
    (tmp_path / "users.json").write_text('{"users": [1], "more": true}')
    (tmp_path / "users.2.json").write_text('{"users": [2], "more": false}')
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "PX1.json").write_text('{"schedule": {}}')
    saved = SavedResponses(tmp_path)
    assert [page["users"] for page in saved.pages("users")] == [[1], [2]]
    assert list(saved.pages("schedules/PX1")) == [{"schedule": {}}]
    assert saved.has("users") and not saved.has("teams")


def test_saved_responses_name_the_file_that_is_wrong(tmp_path: Path) -> None:
    saved = SavedResponses(tmp_path)
    with pytest.raises(NotFound, match=r"users\.json: missing"):
        list(saved.pages("users"))
    (tmp_path / "teams.json").write_text('{"teams": [')
    with pytest.raises(BadRequest, match=r"teams\.json: not JSON"):
        list(saved.pages("teams"))
    for hostile in ("../etc/passwd", "/abs", "a/../../b", "x\x00y", ""):
        with pytest.raises(BadRequest, match="not an API endpoint name"):
            list(saved.pages(hostile))
    with pytest.raises(NotFound, match="not a folder"):
        SavedResponses(tmp_path / "nope")


def test_a_saved_file_over_the_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "MAX_BYTES", 1024)
    (tmp_path / "users.json").write_text(json.dumps({"users": ["x" * 2000]}))
    with pytest.raises(PayloadTooLarge, match=r"users\.json"):
        list(SavedResponses(tmp_path).pages("users"))


class Scripted:
    """A server on 127.0.0.1 answering each GET with the next scripted (status, headers, body)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.local = LocalServer(self._on_get).start()
        self.url = f"{self.local.url}/api"

    def _on_get(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.requests.append((target, headers))
        return self.answers.pop(0)


@pytest.fixture
def far_end() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.local.close()


def _live(far_end: Scripted, paginate: Any, waits: list[float] | None = None) -> LiveAPI:
    sink = waits if waits is not None else []
    return LiveAPI(
        base_url=far_end.url,
        headers={"Authorization": f"Token token={TOKEN}"},
        paginate=paginate,
        first_params={"limit": "2"},
        sleep=sink.append,
        max_retries=2,
    )


def test_offset_pagination_follows_more_and_sends_the_token_in_a_header(far_end: Scripted) -> None:
    far_end.answers = [
        (200, {}, {"users": [1, 2], "more": True}),
        (200, {}, {"users": [3], "more": False}),
    ]
    pages = list(_live(far_end, offset_pages()).pages("users"))
    assert [p["users"] for p in pages] == [[1, 2], [3]]
    paths = [path for path, _ in far_end.requests]
    assert paths == ["/api/users?limit=2", "/api/users?limit=2&offset=2"]
    assert all(TOKEN in headers["Authorization"] and TOKEN not in path for path, headers in far_end.requests)


def test_link_pagination_follows_next_on_the_same_host_only(far_end: Scripted) -> None:
    far_end.answers = [
        (200, {}, {"data": [1], "paging": {"next": f"{far_end.url}/users?offset=1"}}),
        (200, {}, {"data": [2], "paging": {}}),
    ]
    assert [p["data"] for p in _live(far_end, next_link("paging", "next")).pages("users")] == [[1], [2]]
    far_end.answers = [(200, {}, {"next": "https://elsewhere.example/api/users?page=2", "results": []})]
    with pytest.raises(BadRequest, match="another host"):
        list(_live(far_end, next_link("next")).pages("users"))


def test_a_next_link_that_loops_is_stopped(far_end: Scripted) -> None:
    loop = {"next": f"{far_end.url}/users?page=2", "results": []}
    far_end.answers = [(200, {}, loop)] * 3
    with pytest.raises(BadRequest, match="same next page twice"):
        list(_live(far_end, next_link("next")).pages("users"))


def test_429_waits_as_the_vendor_says_and_5xx_backs_off(far_end: Scripted) -> None:
    waits: list[float] = []
    far_end.answers = [
        (429, {"ratelimit-reset": "7"}, {"error": {"message": "rate limited"}}),
        (503, {}, b"down"),
        (200, {}, {"users": [], "more": False}),
    ]
    assert list(_live(far_end, offset_pages(), waits).pages("users")) == [{"users": [], "more": False}]
    assert waits == [7.0, 2.0]


def test_errors_say_what_and_where_and_never_the_token(far_end: Scripted) -> None:
    far_end.answers = [(401, {}, {"error": {"message": f"bad token {TOKEN[:3]}\x1b[2J"}})]
    with pytest.raises(Unauthorized) as refused:
        list(_live(far_end, offset_pages()).pages("users"))
    assert "GET /api/users: HTTP 401" in refused.value.message and TOKEN not in refused.value.message
    assert "\x1b" not in refused.value.message
    far_end.answers = [(500, {}, b"")] * 3
    with pytest.raises(Unavailable, match="HTTP 500 after 3 tries"):
        list(_live(far_end, offset_pages()).pages("users"))
    far_end.answers = [(200, {}, b"<html>")]
    with pytest.raises(BadRequest, match="not JSON"):
        list(_live(far_end, offset_pages()).pages("users"))


def test_a_token_goes_only_over_https_off_loopback() -> None:
    with pytest.raises(BadRequest, match="must be https"):
        LiveAPI(base_url="http://api.example.com", headers={}, paginate=offset_pages())
    LiveAPI(base_url="https://api.example.com", headers={}, paginate=offset_pages())


def _result() -> ImportResult:
    result = ImportResult(vendor="pagerduty", org="Acme", timezone="Europe/Berlin")
    result.people = [{"handle": "alex", "name": "Alex", "contact": {"email": "alex@example.com"}}]
    result.schedules = {
        "ops": {
            "timezone": "Europe/Berlin",
            "layers": [
                {
                    "name": "primary",
                    "rotation": {
                        "members": ["alex"],
                        "length": "weekly",
                        "start": date(2026, 1, 5),
                        "handoff": {"weekday": "monday", "time": "10:00", "timezone": "Europe/Berlin"},
                    },
                }
            ],
        }
    }
    result.skip("user", "PX2", "Bob | <b>", "no contact method the folder can hold")
    return result


def test_the_written_folder_passes_check_and_reports_what_was_left_out(tmp_path: Path) -> None:
    out = tmp_path / "ops"
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    loaded = write_ops_folder(_result(), out, now=now)
    assert loaded.errors == [] and loaded.config is not None
    assert [s.name for s in loaded.config.schedules] == ["ops"]
    report = (out / "README.md").read_text()
    assert "| Bob \\| &lt;b> | PX2 | no contact method the folder can hold |" in report
    machine = json.loads((out / ".import" / "report.json").read_text())
    assert machine["counts"]["unmapped"] == 1 and machine["vendor"] == "pagerduty"
    assert json.loads((out / ".import" / "overrides.json").read_text()) == []
    assert not [w for w in loaded.warnings if "unknown" in w.message]  # README and .import are not ops files
    with pytest.raises(Conflict, match="not empty"):
        write_ops_folder(_result(), out, now=now)
    assert write_ops_folder(_result(), out, now=now, force=True).errors == []


def test_the_import_command_tells_an_export_from_a_vendor(tmp_path: Path) -> None:
    from tests.cli_support import run_cli

    done = run_cli(
        ["import", "pagerduty", "--out", str(tmp_path / "ops")], env={"COMMANDPOST_IMPORT_TOKEN": None}
    )
    assert done.returncode == 2 and "give a folder of saved API responses, or --token" in done.stderr
    done = run_cli(["import", "pagerduty", str(tmp_path)])
    assert done.returncode == 2 and "--out DIR is required" in done.stderr
    done = run_cli(["import", str(tmp_path / "export.json"), "--out", str(tmp_path / "ops")])
    assert done.returncode == 2 and "is not a vendor (pagerduty, opsgenie, grafana-oncall)" in done.stderr
    done = run_cli(
        ["import", "opsgenie", str(tmp_path), "--out", str(tmp_path / "o")],
        env={"COMMANDPOST_IMPORT_TOKEN": "t"},
    )
    assert done.returncode == 2 and "not both" in done.stderr
    assert not (tmp_path / "ops").exists() and not (tmp_path / "o").exists()
