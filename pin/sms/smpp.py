"""SMPP 3.4 gateway: one transceiver session to the SMS centre, over aiosmpplib's ESME.

The ESME runs only while there is something to do: it starts with the first send, keeps the bind alive with
enquire_link while bound, rebinds after a drop, and stops after a refused bind or a failed reconnect with
nothing waiting (the next send starts it again), so bad credentials never hammer the SMS centre.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    BindMode,
    GSM7BitCodec,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SmppMessage,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.correlator import SimpleCorrelator
from aiosmpplib.protocol import PDU_HEADER_LENGTH
from aiosmpplib.retrytimer import SimpleExponentialBackoff

from pin.sms.base import SmsSendError

_log = logging.getLogger("hub.sms.smpp")

DEFAULT_PORT = 2775
UDH_INDICATOR = 0b0100_0000  # esm_class bit: short_message starts with a user data header
_CONNECT_ERRORS = (OSError, TimeoutError, asyncio.IncompleteReadError)
_BIND_RESPONSES = frozenset(
    {SmppCommand.BIND_TRANSCEIVER_RESP, SmppCommand.BIND_TRANSMITTER_RESP, SmppCommand.BIND_RECEIVER_RESP}
)
# aiosmpplib logs whole SubmitSm objects on errors: their texts carry PINs and must never reach a log
_TEXT_FIELDS = re.compile(r'"(short_message|message_payload)":\s*"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    source_addr: str = ""
    system_type: str = ""
    enquire_link_seconds: float = 30.0
    timeout_seconds: float = 10.0


def parse_smpp_url(url: str) -> SmppConfig:
    """`smpp://SYSTEM_ID:PASSWORD@HOST:PORT?source_addr=NAME&system_type=&enquire_link_seconds=&timeout_seconds=`."""
    parts = urlsplit(url)
    if parts.scheme != "smpp" or not parts.hostname or not parts.username:
        raise ValueError("an SMPP URL looks like smpp://SYSTEM_ID:PASSWORD@HOST:PORT?source_addr=NAME")
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    config = SmppConfig(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORT,
        system_id=unquote(parts.username),
        password=unquote(parts.password or ""),
        source_addr=query.get("source_addr", ""),
        system_type=query.get("system_type", ""),
        enquire_link_seconds=_positive(query, "enquire_link_seconds", 30.0),
        timeout_seconds=_positive(query, "timeout_seconds", 10.0),
    )
    _check_lengths(config)
    return config


def _positive(query: dict[str, str], name: str, default: float) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"SMPP URL: {name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"SMPP URL: {name} must be positive, got {raw!r}")
    return value


def _check_lengths(config: SmppConfig) -> None:
    """SMPP 3.4 field limits (C-octet strings without the terminating NUL)."""
    limits = {"system_id": 15, "password": 8, "system_type": 12, "source_addr": 20}
    for name, limit in limits.items():
        if len(getattr(config, name)) > limit:
            raise ValueError(f"SMPP URL: {name} is longer than SMPP 3.4 allows ({limit} characters)")


def data_coding_for(text: str) -> str:
    """The SMPP alphabet for a text: GSM 03.38 (data_coding 0) if it fits, else UCS-2 (8)."""
    return "gsm0338" if GSM7BitCodec.is_gsm_text(text) else "ucs2"


def smpp_address(number: str) -> PhoneNumber:
    """E.164 (`+7999…`) → international/ISDN; bare digits → unknown/ISDN; a sender name → alphanumeric."""
    if number.startswith("+") and number[1:].isdigit():
        return PhoneNumber(number[1:], TON.INTERNATIONAL, NPI.ISDN)
    if number.isdigit():
        return PhoneNumber(number, TON.UNKNOWN, NPI.ISDN)
    return PhoneNumber(number, TON.ALPHANUMERIC if number else TON.UNKNOWN, NPI.UNKNOWN)


@dataclass
class _Pending:
    to: str
    text: str
    future: asyncio.Future[str]
    session: int | None = None  # the bind it was handed to the socket under; None while queued
    parts: int = 1
    parts_accepted: int = 0


class SmppGateway:
    """SmsGateway over one SMPP 3.4 transceiver bind; a send waits at most `timeout_seconds`."""

    def __init__(self, config: SmppConfig) -> None:
        self.config = config
        self._pending: dict[str, _Pending] = {}
        self._outbox = _Outbox(self._claim)
        self._replies = _Replies(
            self._on_submitted, self._on_answered, self._on_bind_refused, self._on_unbuildable
        )
        self._in_flight: dict[int, str] = {}  # sequence_num of a submit_sm on this bind → its log_id
        self._esme: _Esme | None = None
        self._runner: asyncio.Task[None] | None = None
        self._halted: set[asyncio.Task[None]] = set()  # runners stopped from inside, still winding down
        self._session = 0
        self._is_closed = False

    @classmethod
    def from_url(cls, url: str) -> SmppGateway:
        return cls(parse_smpp_url(url))

    def __repr__(self) -> str:
        return f"SmppGateway({self.config.system_id}@{self.config.host}:{self.config.port})"

    async def send(self, to: str, text: str) -> str:
        if self._is_closed:
            raise SmsSendError("the SMPP gateway is closed")
        log_id = uuid.uuid4().hex
        message = self._submit_sm(log_id, to, text)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[log_id] = _Pending(to, text, future)
        try:
            self._ensure_running()
            await self._outbox.enqueue(message)
            return await asyncio.wait_for(future, self.config.timeout_seconds)
        except TimeoutError:
            raise SmsSendError(
                f"the SMS centre did not accept the message within {self.config.timeout_seconds:g} s"
            ) from None
        finally:
            self._pending.pop(log_id, None)

    async def close(self) -> None:
        self._is_closed = True
        for pending in self._pending.values():
            _fail(pending.future, "the SMPP gateway was closed")
        await self._stop_esme()
        await asyncio.gather(*self._halted, return_exceptions=True)

    def _submit_sm(self, log_id: str, to: str, text: str) -> SubmitSm:
        try:
            return SubmitSm(
                short_message=text,
                source=smpp_address(self.config.source_addr),
                destination=smpp_address(to),
                encoding=data_coding_for(text),
                # concatenated SMS: aiosmpplib splits long texts into parts with a UDH
                esm_class=UDH_INDICATOR,
                auto_message_payload=False,
                registered_delivery=0,  # a PIN needs no delivery receipt
                log_id=log_id,
            )
        except ValueError as exc:
            raise SmsSendError(f"the message cannot be sent over SMPP: {exc}") from None

    def _ensure_running(self) -> None:
        if self._runner is not None and not self._runner.done():
            return
        self._esme = _Esme(self.config, self._outbox, self._replies, self._on_bound, self._on_connect_failed)
        self._runner = asyncio.create_task(self._esme.start(), name=f"smpp-esme-{self.config.system_id}")
        self._runner.add_done_callback(_report_crash)

    async def _stop_esme(self) -> None:
        """Unbind politely (bounded), then make sure the session task is gone."""
        esme, runner = self._esme, self._runner
        self._esme, self._runner = None, None
        if esme is not None:
            try:
                await asyncio.wait_for(esme.stop(), min(self.config.timeout_seconds, 2.0))
            except _CONNECT_ERRORS:
                _log.warning("SMPP unbind did not finish cleanly; dropping the connection")
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    def _halt_runner(self) -> None:
        """Stop the ESME from inside its own connect step; the next send starts a fresh one."""
        runner = self._runner
        self._esme, self._runner = None, None
        if runner is not None:
            runner.cancel()
            self._halted.add(runner)
            runner.add_done_callback(self._halted.discard)

    def _on_bound(self) -> None:
        """Messages handed to a previous bind and never answered are sent again on this one."""
        self._session += 1
        self._in_flight.clear()
        for log_id, pending in self._pending.items():
            if pending.session is not None and pending.session < self._session:
                pending.session, pending.parts_accepted = None, 0
                self._outbox.put_nowait(self._submit_sm(log_id, pending.to, pending.text))

    def _on_connect_failed(self, error: Exception) -> None:
        """Keep reconnecting only while a send waits for the SMS centre to come back."""
        if not self._pending:
            self._halt_runner()

    def _on_bind_refused(self, status: SmppCommandStatus) -> None:
        """A refused bind will be refused again: fail what waits, and bind again only for the next send."""
        for pending in self._pending.values():
            _fail(pending.future, f"the SMS centre refused the bind: {status.name}")
        self._halt_runner()

    def _claim(self, log_id: str) -> bool:
        """The ESME takes a queued message: only if its sender still waits for it."""
        pending = self._pending.get(log_id)
        if pending is None or pending.future.done():
            return False
        pending.session = self._session
        return True

    def _on_submitted(self, sequence_num: int, log_id: str, parts: int) -> None:
        self._in_flight[sequence_num] = log_id
        pending = self._pending.get(log_id)
        if pending is not None:
            pending.parts = parts

    def _on_answered(self, sequence_num: int, status: SmppCommandStatus, message_id: str) -> None:
        """A submit_sm_resp (or generic_nack): the send succeeds once every part of its text is accepted."""
        pending = self._pending.get(self._in_flight.pop(sequence_num, ""))
        if pending is None or pending.future.done():
            return
        if status != SmppCommandStatus.ESME_ROK:
            _fail(pending.future, f"the SMS centre refused the message: {status.name}")
            return
        pending.parts_accepted += 1
        if pending.parts_accepted >= pending.parts:
            pending.future.set_result(message_id)

    def _on_unbuildable(self, log_id: str, error: ValueError) -> None:
        pending = self._pending.get(log_id)
        if pending is not None:
            _fail(pending.future, f"the message cannot be sent over SMPP: {error}")


def _fail(future: asyncio.Future[str], reason: str) -> None:
    if not future.done():
        future.set_exception(SmsSendError(reason))


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        _log.error("the SMPP session task crashed", exc_info=error)


class _Outbox(AbstractBroker):  # type: ignore[misc]  # aiosmpplib ships no type hints
    """The queue the ESME sends from; messages whose sender gave up (timed out) are skipped."""

    def __init__(self, claim: Callable[[str], bool]) -> None:
        self._queue: asyncio.Queue[SubmitSm] = asyncio.Queue()
        self._claim = claim

    async def enqueue(self, message: SmppMessage) -> None:
        self.put_nowait(message)

    def put_nowait(self, message: SubmitSm) -> None:
        self._queue.put_nowait(message)

    async def dequeue(self) -> SubmitSm:
        while True:
            message = await self._queue.get()
            if self._claim(message.log_id):
                return message


class _Replies(AbstractHook):  # type: ignore[misc]  # aiosmpplib ships no type hints
    """Tells the gateway of every submit_sm written and every answer read, part by part.

    Answers are taken from the raw PDU because aiosmpplib hands a concatenated text's per-part answers
    to hooks as placeholders (and may report the whole text done when only its first part is answered).
    """

    def __init__(
        self,
        on_submitted: Callable[[int, str, int], None],
        on_answered: Callable[[int, SmppCommandStatus, str], None],
        on_bind_refused: Callable[[SmppCommandStatus], None],
        on_unbuildable: Callable[[str, ValueError], None],
    ) -> None:
        self._on_submitted = on_submitted
        self._on_answered = on_answered
        self._on_bind_refused = on_bind_refused
        self._on_unbuildable = on_unbuildable

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSm):
            total_parts = smpp_message.get_segmentation_data()[2]
            self._on_submitted(smpp_message.sequence_num, smpp_message.log_id, max(total_parts, 1))

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        header = SmppMessage.parse_header(pdu[:PDU_HEADER_LENGTH])
        if header.smpp_command == SmppCommand.SUBMIT_SM_RESP:
            message_id = SubmitSmResp.from_pdu(pdu, header).message_id if len(pdu) > PDU_HEADER_LENGTH else ""
            self._on_answered(header.sequence_num, header.command_status, message_id)
        elif header.smpp_command == SmppCommand.GENERIC_NACK:
            self._on_answered(header.sequence_num, header.command_status, "")
        elif header.smpp_command in _BIND_RESPONSES and header.command_status != SmppCommandStatus.ESME_ROK:
            # seen here, not as aiosmpplib's SmppError: it fails to parse a bind_resp without a body
            self._on_bind_refused(header.command_status)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        # a transport error is retried on the next bind; a ValueError means the PDU cannot be built
        if isinstance(error, ValueError) and isinstance(smpp_message, SubmitSm):
            self._on_unbuildable(smpp_message.log_id, error)


class _Esme(ESME):  # type: ignore[misc]  # aiosmpplib ships no type hints
    """aiosmpplib's ESME, telling the gateway how each bind attempt went."""

    def __init__(
        self,
        config: SmppConfig,
        outbox: _Outbox,
        replies: _Replies,
        on_bound: Callable[[], None],
        on_connect_failed: Callable[[Exception], None],
    ) -> None:
        super().__init__(
            smsc_host=config.host,
            smsc_port=config.port,
            system_id=config.system_id,
            password=config.password,
            system_type=config.system_type,
            bind_mode=BindMode.TRANSCEIVER,
            client_id=f"hub-{uuid.uuid4().hex[:8]}",
            enquire_link_interval=float(config.enquire_link_seconds),
            socket_timeout=float(config.timeout_seconds),
            log_level=logging.WARNING,
            log_metadata={"smsc": f"{config.host}:{config.port}", "system_id": config.system_id},
            log_handler=_ForwardToHubLog(),
            log_include_timestamp=False,
            hook=replies,
            broker=outbox,
            correlator=SimpleCorrelator(config.system_id, max_ttl_delivery=60.0),
            # reconnect quickly (0.1 s, doubling to 1.6 s) so a send survives a short SMSC restart
            retry_timer=SimpleExponentialBackoff(min_delay=100, max_increases=4),
        )
        self._on_bound = on_bound
        self._on_connect_failed = on_connect_failed

    async def connect(self) -> None:
        if self.session_state == self.bind_mode.session_state:
            return
        self._drop_socket()
        try:
            await super().connect()
        except Exception as exc:  # aiosmpplib retries whatever it was; this attempt's socket is closed
            self._drop_socket()
            self._on_connect_failed(exc)
            raise
        self._on_bound()

    def _drop_socket(self) -> None:
        """aiosmpplib opens a new socket on reconnect without closing the one it lost."""
        writer: asyncio.StreamWriter | None = getattr(self, "_writer", None)
        if writer is not None:
            self._writer = None
            writer.close()


class _ForwardToHubLog(logging.Handler):
    """aiosmpplib logs to a private logger; this forwards its records to hub.sms.smpp, texts redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        message = _TEXT_FIELDS.sub(r'"\1": "<redacted>"', record.getMessage())
        _log.log(record.levelno, "%s", message, exc_info=record.exc_info)
