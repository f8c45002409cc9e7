"""Observability across the running platform: one interview is one trace from the gateway
through RabbitMQ to the AI runner and back (exported over OTLP), and every service's
/metrics shows the named series with values after the flow."""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from devstack import Stack
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from stackutil import delete_queues_with_prefix, wait_for

pytestmark = pytest.mark.e2e


class Collector:
    """A minimal OTLP/HTTP trace receiver: keeps (service, span name, trace id) triples."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    service = next(
                        (
                            a.value.string_value
                            for a in resource_spans.resource.attributes
                            if a.key == "service.name"
                        ),
                        "?",
                    )
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            collector.spans.append((service, span.name, span.trace_id.hex()))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def services_in(self, trace_id: str) -> set[str]:
        return {s for s, _, t in list(self.spans) if t == trace_id}

    def names_in(self, trace_id: str) -> set[str]:
        return {n for _, n, t in list(self.spans) if t == trace_id}


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()


@pytest.fixture(scope="module")
def traced_stack(
    tmp_path_factory: pytest.TempPathFactory,
    mongo_uri: str,
    rabbitmq_url: str,
    redis_url: str,
    isolated_env: dict[str, str],
    collector: Collector,
) -> Iterator[Stack]:
    env = isolated_env | {
        "RABBITMQ_URL": rabbitmq_url,
        "REDIS_URL": redis_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    platform = Stack(tmp_path_factory.mktemp("traced"), ports="auto", env=env, mongo_uri=mongo_uri)
    platform.start(timeout=90)
    try:
        yield platform
    finally:
        platform.stop()
        delete_queues_with_prefix(isolated_env["QUEUE_PREFIX"])


def test_one_interview_is_one_trace_and_metrics_show_it(
    traced_stack: Stack, collector: Collector
) -> None:
    with httpx.Client(base_url=traced_stack.gateway_url, timeout=30) as client:
        email = f"obs-{uuid.uuid4().hex[:8]}@example.com"
        client.post(
            "/auth/register", json={"name": "Olga", "email": email, "password": "Observable-99"}
        )
        token = client.post(
            "/auth/login", json={"email": email, "password": "Observable-99"}
        ).json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        trace_id = secrets.token_hex(16)
        traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        started = client.post(
            "/interviews",
            json={"type": "behavioral", "question_count": 1},
            headers=auth | {"traceparent": traceparent},
        )
        assert started.status_code == 202, started.text
        sid = started.json()["id"]
        wait_for(
            lambda: client.get(f"/interviews/{sid}", headers=auth).json()["status"] == "ready",
            timeout=45,
            message="session ready",
        )

        # the request's trace continues through interviews, the bus, the AI runner's job and
        # back into interviews when SessionReady arrives
        def whole_trace() -> set[str] | None:
            services = collector.services_in(trace_id)
            names = collector.names_in(trace_id)
            wanted = {"consume SessionRequested", "consume SessionReady"}
            # each process exports its spans in its own batches: the AI runner's job span
            # can reach the collector after interviews' span for the SessionReady it caused
            job = any(n.startswith("ai-job") for n in names)
            done = {"gateway", "interviews", "ai-runner"} <= services and wanted <= names and job
            return services if done else None

        services = wait_for(whole_trace, timeout=45, message="one trace across the hops")
        assert {"gateway", "interviews", "ai-runner"} <= services
        assert any(n.startswith("ai-job") for n in collector.names_in(trace_id))

        question = started.json()["questions"][0]
        client.post(
            f"/interviews/{sid}/submit",
            headers=auth,
            json={
                "answers": [
                    {
                        "question_id": question["question_id"],
                        "response": "I led the fix and it worked.",
                    }
                ]
            },
        )
        wait_for(
            lambda: client.get(f"/interviews/{sid}", headers=auth).json()["status"] == "completed",
            timeout=45,
            message="scored",
        )

    expected = {
        "gateway": [
            "http_requests_total",
            "http_request_duration_seconds_count",
            "events_consumed_total",
        ],
        "auth": ["http_requests_total", "events_appended_total", "outbox_published_total"],
        "interviews": [
            "http_requests_total",
            "events_appended_total",
            "outbox_published_total",
            "events_consumed_total",
            "event_consumer_lag_seconds_count",
            "interview_sessions_started_total",
        ],
        "ai-runner": [
            "events_consumed_total",
            "outbox_published_total",
            "ai_job_duration_seconds_count",
        ],
        "billing": ["events_consumed_total"],
    }
    for service, names in expected.items():
        text = httpx.get(traced_stack.service_url(service) + "/metrics", timeout=10).text
        for name in names:
            values = [
                float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
            ]
            assert values and max(values) > 0, f"{service}: {name} missing or zero"
        for gauge in ("outbox_backlog", "consumer_queue_messages_ready"):
            if service != "gateway":
                assert re.search(rf"^{gauge}{{", text, re.M), f"{service}: {gauge} missing"
