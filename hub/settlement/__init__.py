"""Settlement statements: what each partner's venues granted, who funds it, and the program fees owed."""

from hub.settlement.schemas import SettlementStatement
from hub.settlement.service import close, statement

__all__ = ["SettlementStatement", "close", "statement"]
