"""Settlement statements over HTTP (admin; a concierge for its programs; a partner or venue its own)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from hub import exports
from hub.api.params import IdFilter, Principal, Session
from hub.auth import allow
from hub.settlement import SettlementStatement, statement
from hub.settlement.schemas import LINE_COLUMNS

PeriodParam = Annotated[
    str, QueryParameter(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the month, YYYY-MM")
]
DESCRIPTION = """\
Per partner, venue and program: visits with a receipt, check sums (before discount), what was paid, the
discount granted and who funds it (the coalition's share from the offer's funding as it stood when the
visit was verified, half up; the venue's share is the rest, so the two sum to the discount), and the
program's fees (per visit and percent of the paid check, as in force when the receipt was written).

A sale counts in the month its receipt was closed, in the venue's local time. A refund counts in the month
it was made, as a separate "refunds" line with negative amounts, whatever month the sale was in: a March
refund of a February check lowers March, and February's statement never changes. Refunds reverse every
figure in proportion to the amount refunded, cumulatively, so a full refund reverses the sale exactly
(the per-visit fee included). Built only from receipts, refunds and visits: the same period gives the
same numbers after any replay of deliveries. Only coalition programs are settled.

Exports (`Accept: text/csv`, `?format=xlsx`) carry `lines`, one row per line."""


class SettlementController(Controller):
    path = "/v1/settlements"
    tags = ["statistics"]

    @get(
        "/",
        guards=[allow("admin", "concierge", "partner", "venue")],
        summary="The settlement statement of a month",
        description=DESCRIPTION,
        response_class=exports.table(LINE_COLUMNS, rows="lines", name="settlement"),
    )
    async def get_statement(
        self,
        db_session: Session,
        principal: Principal,
        period: PeriodParam,
        partner_id: IdFilter = None,
        export_format: exports.FormatParam = None,
    ) -> SettlementStatement:
        return await statement(db_session, principal, period, partner_id)


CONTROLLERS = [SettlementController]
