"""OpenTelemetry tracing: one provider per process, context carried in HTTP headers and in
the event envelope (`traceparent`/`tracestate`). Sentry joins in when SENTRY_DSN is set."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

_configured = False


def configure_tracing(
    service: str,
    otlp_endpoint: str | None = None,
    extra_processors: list[SpanProcessor] | None = None,
) -> TracerProvider:
    """Install the global tracer provider once; export OTLP/HTTP when an endpoint is set."""
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def configure_sentry(dsn: str | None, service: str, environment: str) -> bool:
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, environment=environment, server_name=service, traces_sample_rate=0.0)
    return True


def tracer(name: str = "servicekit") -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_headers() -> dict[str, str]:
    """The active context as W3C headers (`traceparent`, maybe `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def consumer_span(name: str, headers: Mapping[str, Any], **attributes: Any) -> Iterator[Span]:
    """A CONSUMER span whose parent is the producer's context from the envelope."""
    carrier = {k: str(v) for k, v in headers.items() if v is not None}
    parent = propagate.extract(carrier)
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(name, kind=SpanKind.CONSUMER) as span:
            for key, value in attributes.items():
                span.set_attribute(key, value)
            yield span
    finally:
        otel_context.detach(token)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
