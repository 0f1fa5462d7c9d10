"""The web pages people use, under /app: the waiter's scan page, dashboards, the concierge's page, the
operator's board."""

from litestar import Router
from litestar.static_files import create_static_files_router

from hub.web import concierge, dashboards, operator, pages
from hub.web.imports import ImportJobs
from hub.web.render import STATIC
from hub.web.sessions import KeyOrSessionMiddleware

# the pages check their session themselves (a missing one redirects to sign-in, not a JSON 401)
PUBLIC_PATHS = ["^/app(/|$)"]


def router() -> Router:
    return Router(
        path="/app",
        route_handlers=[
            *pages.HANDLERS,
            *operator.HANDLERS,
            *dashboards.HANDLERS,
            *concierge.HANDLERS,
            create_static_files_router(
                path="/static", directories=[STATIC], include_in_schema=False, cache_control=None
            ),
        ],
        exception_handlers=pages.EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


__all__ = ["PUBLIC_PATHS", "ImportJobs", "KeyOrSessionMiddleware", "router"]
