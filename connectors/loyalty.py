"""Venue programs delegated to the venue's own POS/CRM: its answer about a guest's loyalty.

A venue marks its iiko connector as the source of one of its venue programs with the connector
setting `loyalty_program_id`; a scan of that program's card then shows what iiko knows (the guest's
category as tier, the bonus balance) instead of the hub's own ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from connectors.base import Runtime
from connectors.iiko import customer_info
from connectors.models import Connector
from connectors.secrets import config_of
from hub.crypto import Keyring
from hub.db import Database


@dataclass(frozen=True)
class DelegatedLoyalty:
    source: str  # the connector kind that answered, e.g. "iiko"
    tier_name: str | None
    bonus_balance_minor: int
    tier_code: str | None = None  # iiko names its categories but has no tier codes: none is made up


class DelegatedLoyaltySource:
    def __init__(self, database: Database, keyring: Keyring, runtime: Runtime) -> None:
        self.database = database
        self.keyring = keyring
        self.runtime = runtime

    async def lookup(
        self, *, program_id: uuid.UUID, venue_id: uuid.UUID, phone: str, card_number: str
    ) -> DelegatedLoyalty | None:
        """None when no connector answers for this program here (the hub's own ledger applies)."""
        async with self.database.reader() as session:
            candidates = await session.scalars(
                select(Connector).where(
                    Connector.owner_venue_id == venue_id,
                    Connector.kind == "iiko",
                    Connector.status == "active",
                )
            )
            connector = next(
                (c for c in candidates if c.settings.get("loyalty_program_id") == str(program_id)), None
            )
        if connector is None:
            return None
        config = config_of(self.keyring, connector, self.runtime.clock.now())
        info = await customer_info(self.runtime, config, phone=phone)
        if info is None:
            info = await customer_info(self.runtime, config, card_number=card_number)
        if info is None:
            return DelegatedLoyalty(source="iiko", tier_name=None, bonus_balance_minor=0)
        balance = int((info.bonus_balance * 100).to_integral_value())
        return DelegatedLoyalty(source="iiko", tier_name=info.tier, bonus_balance_minor=max(0, balance))
