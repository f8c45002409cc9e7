"""A service's runtime: settings -> Mongo, event store, broker, outbox relay, consumers ->
FastAPI app with health, readiness, metrics and problem+json.

Start-up never blocks on a dependency: a background bootstrap retries until Mongo and
RabbitMQ answer, while `/healthz` is up and `/readyz` says what is missing.

Readiness is "this replica can serve": its start-up finished once and its own parts run
(`readiness_checks`). Shared dependencies (Mongo, RabbitMQ, Redis, object storage) are
checked and reported in `/readyz` and as `service_dependency_up`, but do not gate it: when
one is down it is down for every replica, and taking them all out of their Service would
turn a partial outage (the Stripe webhook, pages that need no broker) into a total one.

With `OPS_PORT` set, /healthz, /readyz and /metrics are served on that port only (a second
listener in the same process), so nothing routed to PORT - the Ingress, other services -
can reach them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from servicekit.breaker import StoreBreaker
from servicekit.broker import (
    ConsumerHost,
    EventConsumer,
    EventHandler,
    StatelessHandler,
    events_exchange,
    make_broker,
)
from servicekit.eventstore import EventStore, transactional_command
from servicekit.http import RequestContextMiddleware
from servicekit.logs import configure_logging, get_logger
from servicekit.metrics import DEPENDENCY_UP, REGISTRY
from servicekit.mongo import AsyncClientSession, AsyncDatabase, AsyncMongoClient, Document, connect
from servicekit.outbox import OutboxRelay
from servicekit.problems import install_problem_handlers
from servicekit.settings import ServiceSettings
from servicekit.tracing import configure_sentry, configure_tracing

T = TypeVar("T")


class _OpsServer(uvicorn.Server):
    """The ops listener: the process's main server owns the signals (SIGTERM starts its
    graceful shutdown, whose last step stops this one)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


Hook = Callable[["ServiceRuntime"], Awaitable[None]]
ReadinessCheck = Callable[[], Awaitable[bool]]

log = get_logger(__name__)


async def _quietly(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: BLE001 - it was cancelled on purpose
        pass


class ServiceRuntime:
    """Owns the process-wide resources of one service; create in `create_app`, use in
    handlers through `app.state.runtime`."""

    def __init__(self, settings: ServiceSettings, *, uses_mongo: bool = True) -> None:
        self.settings = settings
        self.uses_mongo = uses_mongo
        self.name = settings.service_name
        configure_logging(
            self.name, settings.log_level, settings.log_json, colour=settings.log_colour
        )
        if settings.tracing_enabled:
            configure_tracing(self.name, settings.otel_exporter_otlp_endpoint)
        configure_sentry(
            settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else None,
            self.name,
            settings.environment,
        )
        self.exchange = events_exchange(settings.events_exchange)
        self.broker = make_broker(
            settings.rabbitmq_url,
            self.name,
            settings.prefetch,
            connection_name=f"{settings.queue_prefix}{self.name}@{socket.gethostname()}:{os.getpid()}",
            reconnect_seconds=settings.rabbitmq_reconnect_seconds,
        )
        self.consumers = ConsumerHost(self.broker, self.exchange, settings.delivery_limit)
        # requests refused at once while the store keeps timing out (servicekit.breaker)
        self.store_breaker = StoreBreaker(
            self.name,
            threshold=settings.store_breaker_timeouts,
            open_seconds=settings.store_breaker_open_seconds,
            probe_seconds=settings.mongo_socket_timeout_ms / 1000 + 2,
            ping=self._ping_store,
        )
        self.startup_hooks: list[Hook] = []
        self.shutdown_hooks: list[Hook] = []
        # this replica's own parts (a background loop it needs): gate /readyz
        self.readiness_checks: dict[str, ReadinessCheck] = {}
        # shared dependencies it cannot serve without (Redis, object storage): reported in
        # /readyz and service_dependency_up, never gating (see the module docstring)
        self.dependency_checks: dict[str, ReadinessCheck] = {}
        self.informational_checks: dict[str, ReadinessCheck] = {}
        # what a service does without an informational dependency, said in /readyz
        self.degraded_notes: dict[str, Callable[[], str]] = {}
        # reported by /readyz without gating readiness: dependencies the service degrades without
        self._client: AsyncMongoClient[Document] | None = None
        self._db: AsyncDatabase[Document] | None = None
        self._store: EventStore | None = None
        self.relay: OutboxRelay | None = None
        self._bootstrap_task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Future[Any] | None = None
        self._bootstrap_error: str | None = "starting"
        self._dependency_task: asyncio.Task[None] | None = None
        self._ops_server: _OpsServer | None = None
        self._ops_task: asyncio.Task[None] | None = None
        self.relay_enabled = uses_mongo

    # -- resources (available once the lifespan has started) ---------------------------
    # Requests reach the store through these three: each asks the store breaker first, which
    # refuses (StoreUnavailable: a 503) while a hung store keeps timing out.
    @property
    def client(self) -> AsyncMongoClient[Document]:
        assert self._client is not None, "Mongo client exists only inside the app lifespan"
        self.store_breaker.check()
        return self._client

    @property
    def db(self) -> AsyncDatabase[Document]:
        assert self._db is not None, "Mongo database exists only inside the app lifespan"
        self.store_breaker.check()
        return self._db

    @property
    def store(self) -> EventStore:
        assert self._store is not None, "event store exists only inside the app lifespan"
        self.store_breaker.check()
        return self._store

    # -- wiring -------------------------------------------------------------------------
    def consumer(
        self, event_type: str, name: str = "main"
    ) -> Callable[[EventHandler], EventHandler]:
        """Decorator: handle `event_type` exactly once in effect (inbox in the same txn)."""

        def register(handler: EventHandler) -> EventHandler:
            self.consumers.add(
                EventConsumer(self.name, name, event_type, handler, self.settings.queue_prefix)
            )
            return handler

        return register

    def stateless_consumer(
        self, event_type: str, name: str = "main"
    ) -> Callable[[StatelessHandler], StatelessHandler]:
        """Decorator for a handler whose effect is idempotent by itself (a service without
        Mongo, or one conditional single-document write): no inbox row and no transaction,
        so a redelivered event must change nothing by its own logic."""
        return self._stateless(event_type, name, broadcast=False)

    def broadcast_consumer(
        self, event_type: str, name: str = "live"
    ) -> Callable[[StatelessHandler], StatelessHandler]:
        """Decorator: this replica sees every `event_type` (no inbox, no retries)."""
        return self._stateless(event_type, name, broadcast=True)

    def _stateless(
        self, event_type: str, name: str, broadcast: bool
    ) -> Callable[[StatelessHandler], StatelessHandler]:
        def register(handler: StatelessHandler) -> StatelessHandler:
            self.consumers.add(
                EventConsumer(
                    self.name,
                    name,
                    event_type,
                    None,
                    self.settings.queue_prefix,
                    stateless_handler=handler,
                    broadcast=broadcast,
                )
            )
            return handler

        return register

    def on_startup(self, hook: Hook) -> Hook:
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        self.shutdown_hooks.append(hook)
        return hook

    async def command(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run a command in a transaction (retried on append conflicts), then wake the relay."""
        result = await transactional_command(self.client, work)
        if self.relay:
            self.relay.notify()
        return result

    # -- lifecycle ------------------------------------------------------------------------
    async def _bootstrap(self) -> None:
        delay = 0.5
        stage = "mongo"
        while True:
            try:
                if stage == "mongo":
                    if self.uses_mongo:
                        await self.store.ensure_indexes()
                    for hook in self.startup_hooks:
                        await hook(self)
                    stage = "broker"
                if stage == "broker":
                    # shielded: cancelling aio-pika mid-connect leaves tasks that never end,
                    # so shutdown waits for this attempt to finish instead
                    self._connecting = asyncio.ensure_future(self.broker.connect())
                    await asyncio.shield(self._connecting)
                    await self.consumers.declare_topology()
                    await self.broker.start()
                    stage = "relay"
                if stage == "relay":
                    if self.relay_enabled:
                        self.relay = OutboxRelay(
                            self.db,
                            self.broker,
                            self.exchange,
                            self.name,
                            poll_seconds=self.settings.outbox_poll_seconds,
                            batch=self.settings.outbox_batch,
                            idle_poll_seconds=self.settings.outbox_idle_poll_seconds,
                        )
                        self.relay.start()
                        self.consumers.on_commit = self.relay.notify
                    self._bootstrap_error = None
                    log.info("service.started", service=self.name)
                    await self._watch_queues()
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: report it and retry
                self._bootstrap_error = f"{stage}: {exc!r}"
                log.warning("service.bootstrap_retry", stage=stage, error=repr(exc))
                if stage == "broker":
                    try:
                        await self.broker.stop()
                    except Exception:  # noqa: BLE001
                        pass
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _watch_queues(self) -> None:
        """Keep the queue-depth gauges fresh for /metrics (dashboards, the QueueBacklog alert)."""
        while True:
            try:
                await self.consumers.refresh_queue_depths(self.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a metric must never take a service down
                log.debug("queues.depth_unavailable", error=repr(exc))
            await asyncio.sleep(self.settings.queue_depth_interval_seconds)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        if self.uses_mongo:
            self._client = connect(
                self.settings.mongo_uri,
                self.name,
                self.settings.mongo_socket_timeout_ms,
                self.store_breaker,
            )
            self._db = self._client[self.settings.database]
            self._store = EventStore(self._db, self.name)
            self.consumers.attach_db(self._client, self._db)
        if self.settings.ops_port is not None:
            await self._start_ops_server(app)
        self._bootstrap_task = asyncio.create_task(self._bootstrap(), name="bootstrap")
        self._dependency_task = asyncio.create_task(
            self._watch_dependencies(), name="dependency-checks"
        )
        # Everything loaded so far (frameworks, clients, settings) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it, which
        # removed tens of milliseconds from the gateway's p99 under load
        if self.settings.gc_freeze:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await self._shutdown()
            log.info("service.stopped", service=self.name)

    async def _shutdown(self) -> None:
        """Stop in order, each step bounded: a dependency that stopped answering must not
        keep the process from exiting (Kubernetes would SIGKILL it mid-way instead)."""
        assert self._bootstrap_task is not None
        self._bootstrap_task.cancel()
        if self._dependency_task is not None:
            self._dependency_task.cancel()
        steps: list[tuple[str, Callable[[], Awaitable[Any]], float]] = [
            ("bootstrap", lambda: _quietly(self._bootstrap_task), 10),
            ("dependency-checks", lambda: _quietly(self._dependency_task), 5),
        ]
        if self._connecting is not None and not self._connecting.done():
            connecting = self._connecting
            steps.append(("broker-connect", lambda: asyncio.shield(connecting), 15))
        if self.relay:
            steps.append(("outbox-relay", self.relay.stop, 10))
        steps.append(("broker", self.broker.stop, 20))
        for n, hook in enumerate(self.shutdown_hooks):
            steps.append((f"hook-{n}", functools.partial(hook, self), 10))
        if self._client is not None:
            steps.append(("mongo", self._client.close, 10))
        # last: the kubelet keeps probing while the rest stops
        if self._ops_server is not None:
            steps.append(("ops-server", self._stop_ops_server, 5))
        for name, step, seconds in steps:
            try:
                await asyncio.wait_for(step(), timeout=seconds)
            except TimeoutError:
                log.error("service.shutdown_step_timed_out", step=name, seconds=seconds)
            except (asyncio.CancelledError, Exception) as exc:  # noqa: BLE001 - keep stopping
                log.debug("service.shutdown_step_failed", step=name, error=repr(exc))

    async def _check(self, check: ReadinessCheck) -> bool:
        try:
            return bool(
                await asyncio.wait_for(check(), timeout=self.settings.readiness_check_seconds)
            )
        except Exception:  # noqa: BLE001 - a failing or slow check is a "no"
            return False

    async def _ping_store(self) -> None:
        """The store breaker's probe: the client itself, not through the breaker."""
        assert self._client is not None, "Mongo client exists only inside the app lifespan"
        await self._client.admin.command("ping")

    async def _mongo_ping(self) -> bool:
        await self.client.admin.command("ping")
        return True

    async def _broker_connected(self) -> bool:
        connection = getattr(self.broker, "_connection", None)
        return bool(
            connection is not None and not connection.is_closed and connection.connected.is_set()
        )

    async def dependencies(self) -> dict[str, bool]:
        """Every shared dependency, checked concurrently (each bounded by
        READINESS_CHECK_SECONDS), and exported as service_dependency_up."""
        checks: dict[str, ReadinessCheck] = {}
        if self.uses_mongo:
            checks["mongo"] = self._mongo_ping
        checks["rabbitmq"] = self._broker_connected
        checks.update(self.dependency_checks)
        results = await asyncio.gather(*(self._check(c) for c in checks.values()))
        found = dict(zip(checks, results, strict=True))
        attached = self.consumers.attached()
        found["consumers"] = all(attached.values()) if self._bootstrap_error is None else False
        if self.relay_enabled:
            found["outbox_relay"] = bool(self.relay and self.relay.running)
        for name, up in found.items():
            DEPENDENCY_UP.labels(self.name, name).set(1 if up else 0)
        return found

    async def _watch_dependencies(self) -> None:
        """Keep service_dependency_up fresh whether or not anything calls /readyz."""
        while True:
            try:
                await self.dependencies()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a metric must never take a service down
                log.debug("dependencies.check_failed", error=repr(exc))
            await asyncio.sleep(self.settings.dependency_check_interval_seconds)

    async def readiness(self) -> dict[str, Any]:
        """Ready = started once and this replica's own parts run; `checks` also says which
        shared dependency answers (not gating). Every check runs concurrently, each bounded,
        so the answer comes well inside the probe's timeout however many checks hang."""
        own = dict(self.readiness_checks)
        informational = dict(self.informational_checks)
        deps, own_results, info_results = await asyncio.gather(
            self.dependencies(),
            asyncio.gather(*(self._check(c) for c in own.values())),
            asyncio.gather(*(self._check(c) for c in informational.values())),
        )
        gating: dict[str, bool] = {"started": self._bootstrap_error is None}
        gating.update(zip(own, own_results, strict=True))
        ready = all(gating.values())
        detail: dict[str, Any] = {
            "status": "ready" if ready else "not_ready",
            "checks": {**gating, **deps},
            "gating": sorted(gating),
        }
        if informational:
            degraded = dict(zip(informational, info_results, strict=True))
            detail["degraded_without"] = degraded
            skipped = {
                name: note()
                for name, note in self.degraded_notes.items()
                if not degraded.get(name, True)
            }
            if skipped:
                detail["skipped"] = skipped
        attached = self.consumers.attached()
        if attached:
            detail["queues"] = attached
        if self._bootstrap_error:
            detail["starting"] = self._bootstrap_error
        return detail

    def _add_ops_routes(self, app: FastAPI) -> None:
        @app.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": self.name}

        @app.get("/readyz", include_in_schema=False)
        async def readyz() -> JSONResponse:
            detail = await self.readiness()
            return JSONResponse(detail, status_code=200 if detail["status"] == "ready" else 503)

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def _start_ops_server(self, app: FastAPI) -> None:
        """Listen on OPS_PORT before the API serves: bound here, a taken port fails the
        start-up loudly instead of leaving a pod whose probes can never answer."""
        ops = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        install_problem_handlers(ops)
        self._add_ops_routes(ops)
        assert self.settings.ops_port is not None
        sock = socket.socket(socket.AF_INET6 if ":" in self.settings.ops_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.ops_host, self.settings.ops_port))
        sock.set_inheritable(True)
        config = uvicorn.Config(
            ops, lifespan="off", log_level="warning", access_log=False, server_header=False
        )
        self._ops_server = _OpsServer(config)
        self._ops_task = asyncio.create_task(
            self._ops_server.serve(sockets=[sock]), name="ops-server"
        )
        app.state.ops_port = sock.getsockname()[1]

    async def _stop_ops_server(self) -> None:
        if self._ops_server is not None:
            self._ops_server.should_exit = True
        await _quietly(self._ops_task)

    def create_app(
        self,
        routers: Sequence[APIRouter] = (),
        title: str | None = None,
        middleware: Sequence[tuple[Any, dict[str, Any]]] = (),
        outer_middleware: Sequence[tuple[Any, dict[str, Any]]] = (),
        refusal_gate: Any = None,
    ) -> FastAPI:
        """The service's app; `middleware` runs inside the request-context middleware, so
        whatever it answers still carries request ids, logs and metrics; `outer_middleware`
        wraps it (for headers every answer needs, the request context's own 413 included).
        `refusal_gate` is asked before the request context answers 413 itself."""
        docs = self.settings.api_docs_enabled
        app = FastAPI(
            title=title or f"{self.name} service",
            lifespan=self.lifespan,
            # the API's own description is for its developers, not the internet (API_DOCS)
            docs_url="/docs" if docs else None,
            redoc_url="/redoc" if docs else None,
            openapi_url="/openapi.json" if docs else None,
            # FastAPI's native OpenTelemetry hook would look up the global providers on every
            # request; tracing is the OpenTelemetry FastAPI instrumentation, installed below
            # when an exporter is configured
            telemetry={"tracing": False, "metrics": False, "logs": False},
        )
        app.state.runtime = self
        install_problem_handlers(app)
        for cls, options in middleware:
            app.add_middleware(cls, **options)
        app.add_middleware(
            RequestContextMiddleware,
            service=self.name,
            max_body_bytes=self.settings.max_body_bytes,
            refusal_gate=refusal_gate,
        )
        for cls, options in outer_middleware:
            app.add_middleware(cls, **options)

        if self.settings.ops_port is None:
            self._add_ops_routes(app)

        for router in routers:
            app.include_router(router)
        if self.settings.tracing_enabled:
            try:
                from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

                FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
            except Exception:  # noqa: BLE001 - tracing must never stop a service from starting
                log.warning("tracing.fastapi_instrumentation_failed")
        return app
