"""The iiko connector: a coalition guest's visits written into the venue's iikoCloud, and the venue's
closed orders read back from it (webhook arrays, order/by_id, order/by_table).

Public surface: IikoDestination (Destination for kind "iiko"), IikoTokenFetcher (TokenFetcher for
auth types "iiko_api_login" and "iiko_api_key"), IikoClient, customer_info() and its
IikoCustomerInfo for venue programs delegated to iiko; for orders coming in, `wire` (split_webhook,
decode_event and the Structs), `mapping` (pos_order → PosOrder, the registration and order-read
requests) and the errors IikoPayloadError and IikoRefusedError. No routes and no tables here: those
live in hub/.
"""

from __future__ import annotations

from connectors.iiko import mapping, wire
from connectors.iiko.auth import IikoTokenFetcher
from connectors.iiko.client import IikoClient
from connectors.iiko.destination import IikoDestination, customer_info
from connectors.iiko.errors import IikoPayloadError, IikoRefusedError
from connectors.iiko.mapping import IikoCustomerInfo, PosOrder

__all__ = [
    "IikoClient",
    "IikoCustomerInfo",
    "IikoDestination",
    "IikoPayloadError",
    "IikoRefusedError",
    "IikoTokenFetcher",
    "PosOrder",
    "customer_info",
    "mapping",
    "wire",
]
