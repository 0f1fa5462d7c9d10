"""Settlement statements: what each partner's venues granted, who funds it, and the program fees owed."""

from hub.settlement.schemas import SettlementStatement
from hub.settlement.service import statement

__all__ = ["SettlementStatement", "statement"]
