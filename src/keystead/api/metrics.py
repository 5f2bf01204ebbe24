"""Prometheus metrics: requests and latency by route and status, in a registry per app."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(slots=True)
class Metrics:
    """The HTTP metrics of one app."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)
    _children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.requests = Counter(
            "keystead_http_requests",
            "HTTP requests by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "keystead_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ("route", "method"),
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        children = self._children.get((route, method, status))
        if children is None:
            # labels() takes a lock and builds a key per call: keep each series' children.
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[route, method, status] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)
