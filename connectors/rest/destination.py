"""POST the envelope to the connector's URL with its bearer token and Standard Webhooks headers."""

from __future__ import annotations

import aiohttp
import msgspec

from connectors.base import Attempt, ConnectorConfig, DeliveryJob, Runtime
from connectors.errors import PermanentError
from connectors.rest.signing import webhook_headers
from connectors.transport import error_for_exception, error_for_status, retry_after_seconds
from hub.clock import SystemClock

UNAUTHENTICATED = ("none",)


class RestDestination:
    """Receivers deduplicate on webhook-id (the event id), so a retry after an unknown outcome is safe."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # signatures carry the real time: receivers reject timestamps more than 5 minutes off
        self._wall_clock = SystemClock()

    async def deliver(self, connector: ConnectorConfig, job: DeliveryJob, attempt: Attempt) -> None:
        payload = msgspec.json.encode(job.envelope)  # compact UTF-8, as json.dumps(separators=(",", ":"))
        body = payload.decode()  # what is signed: exactly the bytes sent
        status, reason, retry_after = await self._post(connector, job, body, payload, force_refresh=False)
        if status == 401 and connector.auth.get("type") not in UNAUTHENTICATED:
            attempt.calls.append("401: token refreshed once")
            status, reason, retry_after = await self._post(connector, job, body, payload, force_refresh=True)
            if status == 401:
                raise PermanentError(
                    "HTTP 401 again after a token refresh: the credentials are refused", status_code=401
                )
        attempt.status_code = status
        error = error_for_status(status, reason, retry_after)
        if error is not None:
            raise error

    async def reconcile(self, connector: ConnectorConfig, job: DeliveryJob) -> bool:
        return False  # the receiver deduplicates on webhook-id: sending again is the reconciliation

    async def _post(
        self,
        connector: ConnectorConfig,
        job: DeliveryJob,
        body: str,
        payload: bytes,
        *,
        force_refresh: bool,
    ) -> tuple[int, str, float | None]:
        headers = {
            "Content-Type": "application/json",
            "X-Request-Id": job.request_id or str(job.event_id),
            **webhook_headers(str(job.event_id), body, connector.signing_secrets, self._wall_clock.now()),
        }
        if connector.auth.get("type") not in UNAUTHENTICATED:
            token = await self.runtime.tokens.token(connector, force_refresh=force_refresh)
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self.runtime.http.post(
                connector.url, data=payload, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                retry_after = retry_after_seconds(
                    response.headers.get("Retry-After"), self.runtime.clock.now()
                )
                return response.status, response.reason or "", retry_after
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise error_for_exception(exc) from exc
