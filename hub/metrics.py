"""Prometheus metrics of this process (the official client, its default registry).

Every process keeps its own counters: each API process and each `coalition-hub dispatch` process is
scraped on its own (an embedded dispatcher's counters are on its API process's /metrics). The queue
gauges are read from the database at scrape time, so any one process reports the whole queue.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "hub_http_requests_total",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "hub_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SCANS = Counter("hub_scans_total", "Card scans by outcome", ["outcome"])
VERIFICATIONS = Counter("hub_pin_verifications_total", "PIN checks by outcome", ["outcome"])
SMS = Counter(
    "hub_sms_total", "PIN messages handed to the SMS gateway, by gateway and result", ["gateway", "result"]
)
SMS_BUDGET_REFUSALS = Counter(
    "hub_sms_budget_refusals_total",
    "PIN messages refused because a venue's, a program's or the hub's SMS budget was spent",
    ["budget"],
)
DELIVERIES = Counter(
    "hub_delivery_attempts_total", "Delivery attempts by connector kind and outcome", ["kind", "outcome"]
)
DELIVERY_SECONDS = Histogram(
    "hub_delivery_attempt_duration_seconds",
    "Delivery attempt latency by connector kind",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
QUEUE_DEPTH = Gauge("hub_outbox_open_deliveries", "Deliveries pending or retrying (read at scrape time)")
QUEUE_OLDEST_SECONDS = Gauge(
    "hub_outbox_oldest_open_delivery_age_seconds",
    "Age of the oldest pending or retrying delivery, 0 when none (read at scrape time)",
)
TOKEN_REFRESHES = Counter(
    "hub_token_refreshes_total", "Connector access-token refreshes by result", ["result"]
)


def gateway_label(gateway: object) -> str:
    """ConsoleGateway → console, SmppGateway → smpp, HttpSmsGateway → http."""
    return type(gateway).__name__.removesuffix("Gateway").removesuffix("Sms").lower() or "unknown"
