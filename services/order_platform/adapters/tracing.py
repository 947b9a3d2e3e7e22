"""Traces (OpenTelemetry): one trace per order, from the API request to its final status.

A trace starts at the request (or continues the caller's ``traceparent``). The context then
rides the event: ``outbox.add_event`` writes the current W3C ``traceparent`` into the
event's detail (``topology.TRACE_FIELD``), in the outbox row, in the same transaction. The
relay's publish span and the worker's handling span continue it from there, across
EventBridge and SQS, and whatever the worker emits carries the worker's span on.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (or a test passes an exporter): a process
then has no ``Tracing`` at all, every edge checks for ``None``, and the request path pays
for one comparison. Each process gets its own provider, named after its role, so processes
started in one interpreter (the tests) still report as themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from order_platform import logs
from order_platform.service_layer.ports import OutgoingEvent
from order_platform.topology import ENVELOPE_FIELDS, TRACE_FIELD

SERVICE_NAMESPACE = "order-platform"
EXPORT_TIMEOUT_SECONDS = 5
"""An unreachable collector delays a batch (in the background) and a shutdown this long."""

_propagator = TraceContextTextMapPropagator()
_active = False
"""True once any process of this interpreter traces: only then is a context worth looking up
when an event is written or a line logged."""


@dataclass(frozen=True)
class Tracing:
    """A process's tracer, and the provider that exports its spans."""

    tracer: trace.Tracer
    provider: TracerProvider

    def shutdown(self) -> None:
        """Export what is buffered (bounded by the exporter's timeout) and stop."""
        self.provider.shutdown()


def start(role: str, endpoint: str | None, *,
          exporter: SpanExporter | None = None) -> Tracing | None:
    """Tracing for process ``role``: OTLP over HTTP to ``endpoint``, or to ``exporter``
    (tests, synchronously); None when neither is given."""
    global _active  # noqa: PLW0603 - one switch for the whole interpreter
    processor: SpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    elif endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(
            endpoint=f"{endpoint.rstrip('/')}/v1/traces", timeout=EXPORT_TIMEOUT_SECONDS))
    else:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{SERVICE_NAMESPACE}-{role}",
                                  "service.namespace": SERVICE_NAMESPACE}),
        # Time-prefixed ids: valid W3C ids that X-Ray also accepts (the collector's X-Ray
        # exporter has dropped spans whose ids are wholly random).
        id_generator=AwsXRayIdGenerator())
    provider.add_span_processor(processor)
    _active = True
    logs.trace_ids = current_ids
    return Tracing(provider.get_tracer("order_platform"), provider)


def current_traceparent() -> str | None:
    """The current span's context as a W3C ``traceparent``, to store with an event."""
    if not _active:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def parent(traceparent: Any) -> Context | None:
    """The context a ``traceparent`` (from a header or an event) names; None if it names none."""
    if not isinstance(traceparent, str) or not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids as hex, for log lines; None outside a span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


@contextlib.contextmanager
def consuming(tracing: Tracing | None, queue: str, detail: Mapping[str, Any],
              detail_type: str) -> Iterator[Span | None]:
    """The span of handling one event from ``queue``, continuing the event's trace."""
    if tracing is None:
        yield None
        return
    with tracing.tracer.start_as_current_span(
            f"{queue} process", context=parent(detail.get(TRACE_FIELD)), kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "aws_sqs", "messaging.operation.type": "process",
                        "messaging.destination.name": queue,
                        "order_platform.event_type": detail_type,
                        "order_platform.event_id": str(detail.get("event_id")),
                        "order_platform.order_id": str(detail.get("order_id"))}) as span:
        yield span


@contextlib.contextmanager
def publishing(tracing: Tracing | None, events: Sequence[OutgoingEvent]) -> Iterator[None]:
    """One producer span per event around their PutEvents calls, each continuing the trace
    its event carries."""
    if tracing is None:
        yield
        return
    spans = [tracing.tracer.start_span(
        f"{event.detail_type} publish", context=parent(event.detail.get(TRACE_FIELD)),
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "aws_eventbridge", "messaging.operation.type": "send",
                    "order_platform.event_type": event.detail_type,
                    "order_platform.event_id": str(event.detail.get(ENVELOPE_FIELDS[0])),
                    "order_platform.order_id": str(event.detail.get("order_id"))})
        for event in events]
    try:
        yield
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        raise
    finally:
        for span in spans:
            span.end()
