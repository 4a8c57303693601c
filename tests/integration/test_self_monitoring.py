"""commandpost's own alert rules and Grafana dashboard (deploy/) against a real Prometheus.

``promtool check rules`` accepts the rules file; Debian's Prometheus scrapes a real ``commandpost serve``
(engine on, as deployed) and loads the rules, and the test reads back through Prometheus' HTTP API that every
rule loaded and evaluated without error, that the freeze and intake-refusal alerts go off on real
data, and that every expression of the dashboard runs. Every metric name the rules and the dashboard
use is declared at commandpost's ``/metrics`` (a renamed metric fails here, not on a quiet graph).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from commandpost.db.engine import transaction
from commandpost.metrics import slo
from tests.alert_support import free_port, keys, load_jsonc, running, stop_serve, wait_ready
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = pytest.mark.integration

RULES = REPO / "deploy" / "prometheus" / "commandpost.rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "commandpost.json"
COMMANDPOST = Path(sys.executable).with_name("commandpost")
METRIC = re.compile(r"\bcommandpost_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
# Grafana's variables, as Grafana would fill them in for "All" over the last hour.
GRAFANA_VARIABLES = {"$job": ".*", "$instance": ".*", "$__rate_interval": "1m", "$__range": "1h"}


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: these tests run Debian's Prometheus "
            "(.ci/run installs it: apt-get install prometheus)",
            pytrace=False,
        )
    return path


def declared_names(exposition: str) -> set[str]:
    """Every sample name /metrics can carry: each declared family with its type's suffixes (a
    labelled metric nobody has incremented yet shows only its HELP and TYPE lines)."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(exposition)
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, path: str, **params: str) -> Any:
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = r.json()
        assert body["status"] == "success", (path, params, body)
        return body["data"]

    def rules(self) -> list[dict[str, Any]]:
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def alert_states(self) -> dict[str, str]:
        return {a["labels"]["alertname"]: a["state"] for a in self.api("alerts")["alerts"]}


@pytest.fixture
def prometheus(tmp_path: Path) -> Callable[[str], AbstractContextManager[Prometheus]]:
    """Start Debian's Prometheus scraping ``target`` (host:port) every second, with the rules."""

    @contextmanager
    def start(target: str) -> Iterator[Prometheus]:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "commandpost", "static_configs": [{"targets": [target]}]}],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        argv = [
            binary("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        url = f"http://127.0.0.1:{port}"
        with running("prometheus", argv, url, tmp_path / "prometheus.log", seconds=60):
            yield Prometheus(url)

    return start


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [binary("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def freeze_payment_platform(sessions: Any, config: Any) -> None:
    """Four days of reporting then 100 bad events of 1 allowed, on the real clock: the burn-rate
    processor's first pass in ``serve`` publishes the exhausted budget and the freeze."""
    now = datetime.now(UTC)
    with transaction(sessions) as s:
        slo.push(
            s,
            config=config,
            service="payment-platform",
            slo="availability",
            counts=[
                slo.Count("since", 0, 0, now - timedelta(days=4)),
                slo.Count("bad", 900, 1000, now - timedelta(minutes=1)),
            ],
            now=now,
        )


@contextmanager
def commandpost_serve(db_url: str, tmp: Path) -> Iterator[str]:
    """The installed ``commandpost serve`` with its engine, as deployed; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--database-url", db_url]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    err = tmp / "serve.log"
    with err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, err)
        yield base
    finally:
        stop_serve(proc)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # Prometheus sees the same /metrics on both
def test_rules_and_dashboard_in_a_real_prometheus(
    db_url, sessions, applied_ops, tmp_path, prometheus
) -> None:  # type: ignore[no-untyped-def]
    freeze_payment_platform(sessions, applied_ops)
    key = keys(sessions)["alertmanager"]
    [firing] = [d for d in load_jsonc("alertmanager_webhook_v4.jsonc") if d.get("status") == "firing"][:1]
    with commandpost_serve(db_url, tmp_path) as base:
        accepted = httpx.post(f"{base}/api/v1/intake/alertmanager/{key}", json=firing, timeout=10)
        assert accepted.status_code in (200, 202), accepted.text

        exposition = httpx.get(f"{base}/metrics", timeout=10).text
        declared = declared_names(exposition)
        assert "commandpost_slo_error_budget_consumed_events" in declared

        with prometheus(base.removeprefix("http://")) as prom:

            def refuse() -> None:
                r = httpx.post(f"{base}/api/v1/intake/alertmanager/not-a-key", json=firing, timeout=10)
                assert 400 <= r.status_code < 500, r.text

            # the target is up
            wait_for(
                lambda: [t for t in prom.api("targets")["activeTargets"] if t["health"] == "up"],
                "Prometheus to scrape commandpost",
            )

            # every rule of the file loaded, and each evaluated without error
            loaded = prom.rules()
            in_file = [r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
            assert sorted(r["name"] for r in loaded) == sorted(in_file)
            evaluated = wait_for(
                lambda: all(r["health"] == "ok" for r in prom.rules()) and prom.rules(),
                "every rule to evaluate",
            )
            assert all(r.get("lastError", "") == "" for r in evaluated)

            # every metric the rules use is declared at /metrics
            used = {name for r in loaded for name in METRIC.findall(r["query"])}
            assert used, "the rules name no commandpost metric"
            assert used <= declared, f"rules use metrics /metrics does not declare: {sorted(used - declared)}"

            # the freeze fires on the published gauge
            states = wait_for(
                lambda: prom.alert_states().get("CommandpostSLOFreeze") == "firing" and prom.alert_states(),
                "the SLO freeze alert",
            )
            freeze = [
                a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] == "CommandpostSLOFreeze"
            ]
            assert [a["labels"]["service"] for a in freeze] == ["payment-platform"]
            assert "CommandpostDown" not in states

            # a running engine keeps the stalled rule quiet
            stalled = next(r["query"] for r in loaded if r["name"] == "CommandpostEngineStalled")
            wait_for(
                lambda: prom.api("query", query=stalled.removesuffix(" == 0") + " > 0")["result"],
                "engine passes in Prometheus",
            )
            assert prom.api("query", query=stalled)["result"] == []

            # refused intake: a rate needs the counter to grow between two scrapes
            refuse()
            wait_for(
                lambda: prom.api("query", query="commandpost_alert_rejected_total")["result"],
                "the refusal counter in Prometheus",
            )
            refuse()
            wait_for(
                lambda: prom.alert_states().get("CommandpostIntakeRejecting") == "pending",
                "the intake-refusal alert (pending: it waits 10 minutes before firing)",
            )
            rejecting = [
                a
                for a in prom.api("alerts")["alerts"]
                if a["labels"]["alertname"] == "CommandpostIntakeRejecting"
            ]
            assert [a["labels"]["source"] for a in rejecting] == ["alertmanager"]

            # the dashboard: each expression runs in Prometheus, and names only declared metrics
            scraped = set(prom.api("label/__name__/values"))
            for expr in dashboard_exprs():
                names = set(METRIC.findall(expr))
                assert names <= declared, f"{expr}: not at /metrics: {sorted(names - declared)}"
                query = expr
                for variable, value in GRAFANA_VARIABLES.items():
                    query = query.replace(variable, value)
                if query.startswith("label_values("):
                    metric = METRIC.findall(query)[0]
                    assert metric in scraped, f"the variable's metric {metric} has no series"
                    continue
                prom.api("query", query=query)  # asserts status "success" (it parses and runs)
            assert {"commandpost_http_requests_total", "commandpost_slo_freeze"} <= scraped
