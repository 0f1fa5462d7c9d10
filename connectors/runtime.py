"""The destinations of every connector kind, built over one process-wide runtime."""

from __future__ import annotations

from connectors.base import Destination, Runtime
from connectors.rest import RestDestination


def build_destinations(runtime: Runtime) -> dict[str, Destination]:
    return {"rest": RestDestination(runtime)}
