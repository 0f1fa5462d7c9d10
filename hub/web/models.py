"""A signed-in browser: a random session token (only its hash is stored) mapped to the API key's hash."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utcnow
from hub.db import Base
from hub.db.base import IdMixin


class WebSession(IdMixin, Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the SHA-256 of the API key signed in with (as api_keys.key_hash): revoking the key ends the session
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
