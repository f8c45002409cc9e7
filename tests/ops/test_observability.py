"""The Grafana dashboard and the Prometheus alert rules only use metrics the code exports:
every metric name in every expression must be defined (as a string literal) in the
libraries' or services' source, so a renamed metric breaks this test instead of silently
emptying a panel or muting an alert. promtool (Debian's prometheus package, installed by
scripts/install-ops-tools.sh) checks the PromQL and unit-tests the alerts when present."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "deploy" / "observability"
ALERTS = OBSERVABILITY / "alerts.yml"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"

PROMQL_WORDS = {
    # aggregations and their modifiers
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    # operators and literals
    "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2",
}  # fmt: skip
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords, labels and strings left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables ($__rate_interval, ...)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


@cache
def source_text() -> str:
    files = [*REPO.glob("libs/*/src/**/*.py"), *REPO.glob("services/*/src/**/*.py")]
    return "\n".join(f.read_text() for f in files)


def defined(name: str) -> bool:
    candidates = {name} | {name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)}
    return any(f'"{c}"' in source_text() for c in candidates)


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_targets() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    out = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                out.append((panel["title"], target["expr"]))

    walk(doc["panels"])
    return out


def test_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket"
        '{route!~".*/events$", service=~"$service"}[$__rate_interval]))) > 1 and max by (queue) '
        '(rabbitmq_queue_messages_ready{queue=~".*\\\\.parked"}) offset 5m'
    )
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "rabbitmq_queue_messages_ready",
    }


def test_the_alert_rules_cover_what_an_operator_must_hear_about() -> None:
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    assert {
        "HighErrorRate",
        "HighP99Latency",
        "OutboxBacklogGrowing",
        "ParkedMessages",
        "AIProviderFailureRate",
        "AIJobFailureRate",
    } <= names
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), rule["alert"]
    parked = next(r for r in rules if r["alert"] == "ParkedMessages")
    assert 'rabbitmq_queue_messages_ready{queue=~".*\\\\.parked"}' in parked["expr"]


def test_every_metric_in_the_alert_rules_is_exported_by_the_code() -> None:
    missing = {
        (rule["alert"], name)
        for rule in alert_rules()
        for name in metric_names(rule["expr"])
        if not defined(name)
    }
    assert not missing, f"alerts on metrics nothing exports: {sorted(missing)}"


def test_every_metric_on_the_dashboard_is_exported_by_the_code() -> None:
    targets = dashboard_targets()
    assert len(targets) >= 20
    used = {name for _, expr in targets for name in metric_names(expr)}
    for wanted in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "outbox_backlog",
        "rabbitmq_queue_messages_ready",
        "event_consumer_lag_seconds_bucket",
        "events_consumed_total",
        "quota_denials_total",
        "gateway_rate_limited_total",
        "ai_tokens_total",
        "ai_cost_usd_total",
        "ai_calls_total",
        "judge_verdicts_total",
        "notifications_mail_sent_total",
        "notifications_mail_failed_total",
        "notifications_mail_parked_total",
    ):
        assert wanted in used, f"the dashboard does not show {wanted}"
    missing = {
        (title, name) for title, expr in targets for name in metric_names(expr) if not defined(name)
    }
    assert not missing, f"panels on metrics nothing exports: {sorted(missing)}"


def test_the_dashboard_is_importable_grafana_json() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] and doc["schemaVersion"] >= 36
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"] for v in doc["templating"]["list"]}
    assert {"datasource", "service"} <= variables
    for panel in doc["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")"), panel["title"]


@pytest.fixture
def promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (scripts/install-ops-tools.sh installs it)")
    return tool


def test_promtool_accepts_the_rules(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_fire_on_the_series_they_are_meant_for(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=OBSERVABILITY,
    )
    assert done.returncode == 0, done.stdout + done.stderr
