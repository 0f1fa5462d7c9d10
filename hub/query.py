"""Unknown query parameters are refused on /v1: a typo (`?card_numbr=`) must not answer the whole list.

What a route takes is what Litestar parsed from its handler's signature and dependencies (pagination,
`format`, filters): read once from the routes when the app is built, so nothing is listed twice.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.routes import HTTPRoute

from hub.errors import InvalidInputError

API_PREFIX = "/v1/"


def declare(app: Litestar) -> None:
    """Note on the app the query parameters each route handler declares."""
    names: dict[int, frozenset[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, kwargs_model in route.route_handler_map.values():
                names[id(handler)] = frozenset(p.field_alias for p in kwargs_model.expected_query_params)
    app.state.query_names = names


async def refuse_unknown(request: Request[Any, Any, Any]) -> None:
    """before_request: 422 validation_failed naming the first parameter the route does not take."""
    if not request.url.path.startswith(API_PREFIX):
        return
    known = request.app.state.query_names.get(id(request.route_handler))
    if known is None:
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise InvalidInputError(
            f"Unknown query parameter {unknown[0]!r}; this endpoint takes: {takes}.",
            field=unknown[0],
            unknown=unknown,
            allowed=sorted(known),
        )
