"""The benchmarks' child processes: servers, sinks, workers, each in a session of its own (Ctrl-C reaches
only the bench, which stops them), logged to a file, stopped at the end, on errors and on Ctrl-C, and
killed as a last resort when the bench's own event loop died (kill_leftovers)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_GRACE_S = 15.0


class BenchError(RuntimeError):
    """Something the bench did not expect: a child failed, a server answered wrong, work went missing."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = field(default=None, kw_only=True)

    async def start(self) -> Child:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        STARTED.append(self)
        return self

    def check_alive(self) -> None:
        if self.process is None or self.process.returncode is not None:
            raise BenchError(f"{self.name} exited:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait(self, timeout_s: float) -> int:
        assert self.process is not None  # noqa: S101  # started before it is waited for
        return await asyncio.wait_for(self.process.wait(), timeout_s)

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class Server(Child):
    """A child answering HTTP on a loopback port, ready once its /healthz says 200."""

    port: int = field(kw_only=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def wait_ready(self, http: aiohttp.ClientSession, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise BenchError(f"{self.name} was not ready after {timeout_s:.0f} s:\n{self.log_tail()}")


STARTED: list[Child] = []


def kill_leftovers() -> None:
    """Last resort when the event loop itself died: no child outlives the bench."""
    for child in STARTED:
        process = child.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
