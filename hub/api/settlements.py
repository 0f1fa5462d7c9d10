"""Settlement statements over HTTP (admin; a concierge for its programs; a partner or venue its own)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, QueryParameter

from hub import exports
from hub.api.params import ClockDep, IdFilter, Principal, Session
from hub.auth import allow
from hub.settlement import SettlementStatement, close, statement
from hub.settlement.schemas import LINE_COLUMNS

PeriodParam = Annotated[
    str, QueryParameter(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the month, YYYY-MM")
]
DESCRIPTION = """\
Per partner, venue and program: verified visits (not cancelled, by the venue-local day of verification,
whether or not their check has come), receipts, check sums (before discount), what was paid, the discount
granted and who funds it (the coalition's share from the offer's funding as it stood when the visit was
verified, half up; the venue's share is the rest, so the two sum to the discount), and the program's fees
(per visit with a receipt and percent of the paid check, as in force on the day the visit was verified).

`status` is `open` for a month not closed yet: computed from the facts whenever asked. Once an admin
closes it (`POST /v1/settlements/{period}/close`) it is `closed` and answers what closing froze, forever.
A sale counts in the month its receipt was closed, in the venue's local time, unless that month was
already closed when the receipt came: then in the month it was recorded. A refund counts in the month it
was made, as a separate "refunds" line with negative amounts, whatever month the sale was in: a March
refund of a February check lowers March, and February's statement never changes. Refunds reverse every
figure in proportion to the amount refunded, cumulatively, so a full refund reverses the sale exactly
(the per-visit fee included). Built only from visits, receipts and refunds: the same open period gives the
same numbers after any replay of deliveries. Only coalition programs are settled.

Exports (`Accept: text/csv`, `?format=xlsx`) carry `lines`, one row per line."""
CLOSE_DESCRIPTION = """\
Freezes the month's statement: from then on `GET /v1/settlements?period=` answers these lines (filtered by
the reader's scope) with `status: closed`, and later facts land in the month they are recorded. A month
can be closed once it has ended in every venue's time zone: before that (the current or a future month)
the answer is 409 `period_not_ended` with `details.closable_from`. Closing a closed month again is
idempotent: 200 with the statement as it was closed, nothing changes and nothing more is audited. The
close is in the audit log (`settlement.close`)."""


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

    @post(
        "/{period:str}/close",
        guards=[allow("admin")],
        status_code=200,
        summary="Close a month: its statement is frozen and never changes",
        description=CLOSE_DESCRIPTION,
    )
    async def close_period(
        self, db_session: Session, principal: Principal, clock: ClockDep, period: FromPath[str]
    ) -> SettlementStatement:
        return await close(db_session, principal, period, clock.now())


CONTROLLERS = [SettlementController]
