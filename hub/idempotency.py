"""Idempotency-Key on POST: the same key with the same body replays the first answer; another body is 409.

A pending record is inserted before the request runs (unique per key owner and key), so two
concurrent retries cannot both run: the second is told the first is still in progress. Answers
of 5xx are not kept, so a retry after a server error runs again.

Every kept answer's body is encrypted with the keyring, bound to its record (`response_aad`):
answers that show a key or a secret once (API keys, terminal keys, `whsec_` signing secrets) must
not sit readable in the table for the retention period. `secrets rotate` re-encrypts them too;
records kept before this (body in the clear in `response`) still replay.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPDisconnectEvent, HTTPRequestEvent, Message, Receive, Scope, Send
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.crypto import Keyring
from hub.db import Database
from hub.errors import ConflictError, IdempotencyConflictError, InvalidInputError
from hub.flow.models import IdempotencyRecord
from hub.scope import Scope as Principal

HEADER = b"idempotency-key"
KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
PENDING = 0


class IdempotencyInProgressError(ConflictError):
    code = "idempotency_in_progress"
    default_message = "A request with this Idempotency-Key is still running; retry in a moment."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


def _owner(scope: Scope) -> str:
    principal = scope.get("user")
    if isinstance(principal, Principal) and principal.key_id is not None:
        return str(principal.key_id)
    return "bootstrap-admin"


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class IdempotencyMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        key = dict(scope["headers"]).get(HEADER)
        if scope.get("method") != "POST" or key is None:
            await next_app(scope, receive, send)
            return
        text = key.decode("latin-1")
        if not KEY_RE.match(text):
            raise InvalidInputError(
                "Idempotency-Key must be 1-200 printable ASCII characters.", field="Idempotency-Key"
            )
        body = await _read_body(receive)
        digest = hashlib.sha256(b"POST " + scope["path"].encode() + b"\0" + body).hexdigest()
        state = scope["litestar_app"].state
        database: Database = state.database
        owner = _owner(scope)
        record_id = await self._claim(database, state.keyring, owner, text, digest, send)
        if record_id is None:
            return
        await self._run(database, state.keyring, record_id, scope, body, send, next_app)

    async def _claim(
        self, database: Database, keyring: Keyring, owner: str, key: str, digest: str, send: Send
    ) -> uuid.UUID | None:
        """Insert the pending record, or answer from the one that exists (then return None)."""
        try:
            async with database.transaction() as session:
                record = IdempotencyRecord(
                    principal=owner, key=key, request_hash=digest, status_code=PENDING, response={}
                )
                session.add(record)
                await session.flush()
                return record.id
        except IntegrityError:
            pass
        async with database.reader() as session:
            existing = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.principal == owner, IdempotencyRecord.key == key
                )
            )
        if existing is None:
            raise IdempotencyInProgressError()
        if existing.request_hash != digest:
            raise IdempotencyConflictError()
        if existing.status_code == PENDING:
            raise IdempotencyInProgressError()
        await _replay(existing, keyring, send)
        return None

    async def _run(
        self,
        database: Database,
        keyring: Keyring,
        record_id: uuid.UUID,
        scope: Scope,
        body: bytes,
        send: Send,
        next_app: ASGIApp,
    ) -> None:
        sent = False

        async def replay_receive() -> HTTPRequestEvent | HTTPDisconnectEvent:
            nonlocal sent
            if not sent:
                sent = True
                return HTTPRequestEvent(type="http.request", body=body, more_body=False)
            return HTTPDisconnectEvent(type="http.disconnect")

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await next_app(scope, replay_receive, capture)
        finally:
            async with database.transaction() as session:
                if status >= 500:
                    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
                else:
                    content_type = dict(headers).get(b"content-type", b"application/json").decode("latin-1")
                    sealed = keyring.encrypt_str(
                        b"".join(chunks).decode("utf-8", "replace"), response_aad(record_id)
                    )
                    await session.execute(
                        update(IdempotencyRecord)
                        .where(IdempotencyRecord.id == record_id)
                        .values(
                            status_code=status,
                            response={"content_type": content_type},
                            response_ciphertext=sealed,
                        )
                    )


def response_aad(record_id: uuid.UUID) -> str:
    return f"idempotency.response:{record_id}"


def _body_of(record: IdempotencyRecord, keyring: Keyring) -> bytes:
    """The answer's body as first sent (a record kept before encryption holds it in the clear)."""
    if record.response_ciphertext is None:
        return str(record.response.get("body", "")).encode()
    return keyring.decrypt_str(record.response_ciphertext, response_aad(record.id)).encode()


async def _replay(record: IdempotencyRecord, keyring: Keyring, send: Send) -> None:
    response: dict[str, Any] = record.response
    body = _body_of(record, keyring)
    await send(
        {
            "type": "http.response.start",
            "status": record.status_code,
            "headers": [
                (b"content-type", str(response.get("content_type", "application/json")).encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
                (b"cache-control", b"no-store"),  # the first answer may have shown a key or a secret
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
