"""What a venue reads in its delivery log when its CRM cannot be reached: one class, no network map."""

from __future__ import annotations

import socket

from litestar import Litestar

from hub.db import Database
from tests.conftest import ADMIN, bearer
from tests.connectors.test_dispatch import flow, make_dispatcher
from tests.flow.conftest import World, world

__all__ = ["world"]


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


async def test_a_venue_reads_unreachable_not_why(world: World, db: Database, app: Litestar) -> None:
    """A refused connection is shown to the venue as "unreachable: the destination", retried, with no
    operating-system error naming how the port answered."""
    key = await world.client.post(
        "/v1/keys",
        json={"role": "venue", "name": "Менеджер", "scope": {"venue_id": world.venue["id"]}},
        headers=ADMIN,
    )
    venue_key = bearer(key.json()["api_key"])
    made = await world.client.post(
        "/v1/connectors",
        json={
            "name": "Бар Закрыт",
            "kind": "rest",
            "owner": {"venue_id": world.venue["id"]},
            "url": f"http://127.0.0.1:{_closed_port()}/events",
            "auth": {"type": "none"},
        },
        headers=venue_key,
    )
    assert made.status_code == 201, made.text
    await flow(world)
    await make_dispatcher(db, app).run_until_idle()
    log = await world.client.get(
        "/v1/deliveries", params={"connector_id": made.json()["id"]}, headers=venue_key
    )
    assert log.status_code == 200, log.text
    tried = [(d["status"], d["last_error"]) for d in log.json()["items"] if d["attempts"]]
    assert tried == [("retrying", "unreachable: the destination")]  # the next waits behind it (per guest)
