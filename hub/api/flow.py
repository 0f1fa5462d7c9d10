"""The guest flow over HTTP (terminal key): scan, PIN, resend, quote, receipt, refund; cancelling an open
visit (its venue's terminal or venue key, its partner, admin)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from hub.api.params import ClockDep, PathId, Principal, Session
from hub.auth import allow
from hub.flow import cancellation
from hub.flow import schemas as s
from hub.flow.service import FlowService

TERMINAL = allow("terminal")
VISIT_KEEPERS = allow("terminal", "venue", "partner", "admin")
REFUND_DESCRIPTION = """\
`amount_minor` is money given back: a part of the receipt's `total_minor`, which is what the guest paid in
money after the discount and after any bonus paid (`bonus_spent_minor`); omitted, all that is left. With
it go, in the same proportion of the money paid, the discount (`discount_reversed_minor`), the bonus the
check earned (`bonus_reversed_minor`, taken back from the guest's balance) and the bonus paid with it
(`bonus_returned_minor`, given back to the balance). Each figure is reversed cumulatively, so partial
refunds add up to exactly the full refund: a full refund leaves the balance as it was before the check.
A check paid wholly by bonus (`total_minor` 0) is refunded once, without an amount.

Who: a terminal of the receipt's venue, the venue's key, its partner's key or an admin; each refund is in
the audit log with the key's role and id. Another venue's receipt is 404."""
Flow = NamedDependency[FlowService]


class ScanController(Controller):
    path = "/v1/scans"
    tags = ["guest flow"]
    guards = [TERMINAL]

    @post("/", summary="Recognise a scanned or typed code; a coalition card gets a PIN by SMS")
    async def scan(self, flow: Flow, principal: Principal, data: JSONBody[s.ScanCreate]) -> s.ScanAnswer:
        return await flow.scan(principal, data)

    @post("/{scan_id:uuid}/pin", status_code=200, summary="Check the PIN the guest read out")
    async def verify(
        self, flow: Flow, principal: Principal, scan_id: PathId, data: JSONBody[s.PinSubmit]
    ) -> s.Verified:
        return await flow.verify(principal, scan_id, data)

    @post(
        "/{scan_id:uuid}/pin/resend",
        status_code=202,
        summary="Send a new PIN (the previous one stops working)",
    )
    async def resend(self, flow: Flow, principal: Principal, scan_id: PathId) -> s.Resent:
        return await flow.resend(principal, scan_id)


class VisitController(Controller):
    path = "/v1/visits"
    tags = ["guest flow"]
    guards = [TERMINAL]

    @post("/{visit_id:uuid}/receipt", summary="Post the receipt (idempotent on the venue's check_id)")
    async def receipt(
        self, flow: Flow, principal: Principal, visit_id: PathId, data: JSONBody[s.ReceiptCreate]
    ) -> Response[Any]:
        answer, created = await flow.close(principal, visit_id, data)
        return Response(answer, status_code=201 if created else 200)

    @post("/{visit_id:uuid}/quote", status_code=200, summary="What the receipt would get; changes nothing")
    async def quote(
        self, flow: Flow, principal: Principal, visit_id: PathId, data: JSONBody[s.QuoteCreate]
    ) -> s.QuoteAnswer:
        return await flow.quote(principal, visit_id, data)


class VisitCancelController(Controller):
    path = "/v1/visits"
    tags = ["guest flow"]
    guards = [VISIT_KEEPERS]

    @post(
        "/{visit_id:uuid}/cancel",
        status_code=200,
        summary="Cancel an open visit (no receipt): it stops counting; visit.cancelled goes to its CRMs",
    )
    async def cancel(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        visit_id: PathId,
        data: JSONBody[s.VisitCancel],
    ) -> s.VisitCancelled:
        return await cancellation.cancel_visit(db_session, principal, visit_id, data, clock.now())


class ReceiptController(Controller):
    path = "/v1/receipts"
    tags = ["guest flow"]
    guards = [allow("terminal", "venue", "partner", "admin")]  # the till, its venue, its partner, an admin

    @post(
        "/{receipt_id:uuid}/refund",
        summary="Refund all or part of a receipt",
        description=REFUND_DESCRIPTION,
    )
    async def refund(
        self, flow: Flow, principal: Principal, receipt_id: PathId, data: JSONBody[s.RefundCreate]
    ) -> s.RefundAnswer:
        return await flow.refund(principal, receipt_id, data)


CONTROLLERS = [ScanController, VisitController, VisitCancelController, ReceiptController]
