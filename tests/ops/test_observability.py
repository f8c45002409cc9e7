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
# Metrics the alerts read that other software exports (deploy/k8s/README.md lists it).
EXTERNAL_METRICS = {
    "keda_scaler_errors_total": "KEDA >= 2.14 (operator metrics)",
    "keda_scaler_metrics_value": "KEDA (operator metrics)",
    "kube_cronjob_status_last_successful_time": "kube-state-metrics",
    "certmanager_certificate_expiration_timestamp_seconds": "cert-manager",
}
RUNBOOK = REPO / "docs" / "runbook.md"
AGGREGATIONS = r"\b(sum|min|max|avg|count|stddev|stdvar|topk|bottomk|quantile|group)\b"


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
    if name in EXTERNAL_METRICS:
        return True
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
        "DependencyDown",
        "MetricsAbsent",
        "KedaScalerErrors",
        "KedaMetricsAbsent",
        "BackupMissing",
        "CertificateExpiringSoon",
        "MailParked",
    } <= names
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), rule["alert"]
    parked = next(r for r in rules if r["alert"] == "ParkedMessages")
    assert 'consumer_queue_messages_ready{queue=~".*\\\\.parked"}' in parked["expr"]


def runbook_anchors() -> set[str]:
    """GitHub/GitLab heading anchors of docs/runbook.md."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def test_every_alert_says_what_happened_and_where_the_runbook_is() -> None:
    anchors = runbook_anchors()
    assert "alerts-and-first-moves" in anchors
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert len(annotations.get("description", "")) > 40, rule["alert"]
        url = annotations.get("runbook_url", "")
        assert url.startswith("https://") and "/docs/runbook.md#" in url, rule["alert"]
        assert url.rsplit("#", 1)[1] in anchors, (rule["alert"], url)


def test_every_aggregation_keeps_the_namespace() -> None:
    """`sum by (service)` would add prod and dev (or two tenants) into one alert."""
    for rule in alert_rules():
        expr = rule["expr"]
        for match in re.finditer(AGGREGATIONS + r"\s*(by\s*\(([^)]*)\))?\s*\(", expr):
            grouping = match.group(3)
            assert grouping is not None, f"{rule['alert']}: {match.group(1)} without by (...)"
            labels = {label.strip() for label in grouping.split(",")}
            assert "namespace" in labels, f"{rule['alert']}: by ({grouping}) drops namespace"


def test_every_rule_has_a_promtool_case_where_it_fires() -> None:
    """Each rule (an alert name with its static labels) fires in at least one case of
    alerts.test.yml, so promtool has seen it work, not only parse."""
    cases = yaml.safe_load((OBSERVABILITY / "alerts.test.yml").read_text())["tests"]
    fired = [
        (check["alertname"], alert["exp_labels"])
        for case in cases
        for check in case["alert_rule_test"]
        for alert in check["exp_alerts"]
    ]
    for rule in alert_rules():
        static = {k: str(v) for k, v in rule["labels"].items()}
        assert any(
            name == rule["alert"] and static.items() <= {k: str(v) for k, v in got.items()}.items()
            for name, got in fired
        ), f"no promtool case makes {rule['alert']} {static} fire"


def test_our_metrics_never_take_a_name_that_another_exporter_owns() -> None:
    """RabbitMQ's own rabbitmq_queue_messages_ready is scraped beside ours: a gauge of ours
    with that name mixed two meanings and label sets in every query."""
    ours = set(re.findall(r'(?:Counter|Gauge|Histogram|Summary)\(\s*"(\w+)"', source_text()))
    assert "consumer_queue_messages_ready" in ours
    for prefix in ("rabbitmq_", "keda_", "kube_", "certmanager_", "mongodb_", "redis_", "up"):
        assert not {n for n in ours if n.startswith(prefix)}, prefix


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
        "consumer_queue_messages_ready",
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


def test_the_prometheusrule_manifest_is_rendered_from_the_tested_rules() -> None:
    import render_prometheusrule

    assert render_prometheusrule.main(["--check"]) == 0
    rule = yaml.safe_load(render_prometheusrule.MANIFEST.read_text())
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]
