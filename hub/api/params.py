"""Parameter markers shared by the controllers: injected dependencies, path ids, pagination."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import Clock
from hub.crypto import Keyring
from hub.schema import DEFAULT_LIMIT
from hub.scope import Scope

Session = NamedDependency[AsyncSession]
Principal = NamedDependency[Scope]
KeyringDep = NamedDependency[Keyring]
ClockDep = NamedDependency[Clock]
PathId = FromPath[uuid.UUID]

LimitParam = Annotated[int, QueryParameter(ge=1, le=500, description="page size (1-500)")]
CursorParam = Annotated[
    str | None, QueryParameter(max_length=64, description="next_cursor of the previous page")
]
IdFilter = Annotated[uuid.UUID | None, QueryParameter()]
DEFAULT_PAGE = DEFAULT_LIMIT
