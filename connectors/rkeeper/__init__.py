"""r_keeper 7 through FarCards' ExtDllHTTP: the hub as the card "processing server".

Public surface: the request parsers and answer builders of `wire` (GetCardInfoEx, TransactionsEx,
FindEmail), the one error they raise (FarCardsRequestError), and the pure mapping to the hub's money
and receipt lines (`mapping`). No routes and no database here: those live in hub/.
"""

from __future__ import annotations

from connectors.rkeeper import mapping, wire
from connectors.rkeeper.errors import FarCardsRequestError

__all__ = ["FarCardsRequestError", "mapping", "wire"]
