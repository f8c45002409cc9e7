"""Prometheus metrics shared by every service (names follow `*_seconds` / `*_total`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled.",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_APPENDED = Counter(
    "events_appended_total",
    "Events appended to the event store.",
    ["service", "event_type"],
    registry=REGISTRY,
)
APPEND_CONFLICTS = Counter(
    "event_append_conflicts_total",
    "Optimistic-concurrency conflicts on append.",
    ["service"],
    registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total",
    "Outbox events published with a broker confirm.",
    ["service", "event_type"],
    registry=REGISTRY,
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total",
    "Outbox publish attempts that failed.",
    ["service"],
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "outbox_backlog",
    "Outbox rows not yet published.",
    ["service"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unsent_age_seconds",
    "Age of the oldest unpublished outbox row.",
    ["service"],
    registry=REGISTRY,
)
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events consumed, by outcome (handled, duplicate, failed, parked).",
    ["service", "consumer", "event_type", "outcome"],
    registry=REGISTRY,
)
CONSUME_LATENCY = Histogram(
    "event_handling_duration_seconds",
    "Time to handle one event.",
    ["service", "consumer"],
    registry=REGISTRY,
)
CONSUMER_LAG = Histogram(
    "event_consumer_lag_seconds",
    "Time from an event's occurred_at to its handling.",
    ["service", "consumer"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# Not `rabbitmq_queue_messages_ready`: that is RabbitMQ's own metric (rabbitmq_prometheus),
# scraped beside ours; one name with two meanings and label sets mixes both in every query.
QUEUE_DEPTH = Gauge(
    "consumer_queue_messages_ready",
    "Messages ready in a queue this service consumes, as its consumer sees it.",
    ["service", "queue"],
    registry=REGISTRY,
)
MONGO_COMMANDS = Counter(
    "mongo_commands_total",
    "Mongo commands sent, by command, collection, origin (work, or the background loop that "
    "sent it) and result (ok, empty: a read that found nothing, error).",
    ["service", "command", "collection", "origin", "result"],
    registry=REGISTRY,
)
DEPENDENCY_UP = Gauge(
    "service_dependency_up",
    "1 when a dependency answered this replica's last check (Mongo, RabbitMQ, consumers, "
    "Redis, object storage...), else 0. Alerts read it: readiness does not, so a shared "
    "dependency's outage does not take every replica out of its Service.",
    ["service", "dependency"],
    registry=REGISTRY,
)
STORE_BREAKER_OPEN = Gauge(
    "store_breaker_open",
    "1 while requests are refused without asking the store (its commands kept timing out: a "
    "hung server), else 0. See servicekit.breaker.",
    ["service"],
    registry=REGISTRY,
)
