"""The iiko connector: a coalition guest's visits written into the venue's iikoCloud.

Public surface: IikoDestination (Destination for kind "iiko"), IikoTokenFetcher (TokenFetcher for
auth types "iiko_api_login" and "iiko_api_key"), IikoClient, customer_info() and its
IikoCustomerInfo for venue programs delegated to iiko.
"""

from __future__ import annotations

from connectors.iiko.auth import IikoTokenFetcher
from connectors.iiko.client import IikoClient
from connectors.iiko.destination import IikoDestination, customer_info
from connectors.iiko.mapping import IikoCustomerInfo

__all__ = ["IikoClient", "IikoCustomerInfo", "IikoDestination", "IikoTokenFetcher", "customer_info"]
