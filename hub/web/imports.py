"""Member import started from the operator board: runs in the background, one committed chunk at a time,
and reports its progress to the page that polls it. Jobs live in this process's memory for an hour."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import msgspec

from hub.clock import Clock
from hub.crypto import Keyring
from hub.db import Database
from hub.errors import HubError
from hub.scope import Scope
from partners import members as member_service

KEEP_FOR = dt.timedelta(hours=1)


class ImportJob(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    owner_key: str  # whose job: only the session that started it reads it
    started_at: dt.datetime
    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[dict[str, object]] = msgspec.field(default_factory=list)
    finished: bool = False
    error: str | None = None


class ImportJobs:
    """The running and recent imports of this process, with their tasks kept alive until they end."""

    def __init__(self, database: Database, keyring: Keyring, clock: Clock) -> None:
        self.database, self.keyring, self.clock = database, keyring, clock
        self.jobs: dict[uuid.UUID, ImportJob] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, scope: Scope, owner_key: str, program_id: uuid.UUID, text: str) -> ImportJob:
        now = self.clock.now()
        for job_id in [j.id for j in self.jobs.values() if j.finished and now - j.started_at > KEEP_FOR]:
            del self.jobs[job_id]
        job = ImportJob(id=uuid.uuid4(), owner_key=owner_key, started_at=now)
        self.jobs[job.id] = job
        task = asyncio.create_task(self._run(job, scope, program_id, text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return job

    def get(self, job_id: uuid.UUID, owner_key: str) -> ImportJob | None:
        job = self.jobs.get(job_id)
        return job if job is not None and job.owner_key == owner_key else None

    async def _run(self, job: ImportJob, scope: Scope, program_id: uuid.UUID, text: str) -> None:
        tally = member_service.ImportTally()
        try:
            rows = member_service.parse_csv(text, tally)
            job.total = len(rows)
            for chunk in member_service.chunked(rows):
                async with self.database.transaction() as session:
                    program = await member_service.load_writable_program(session, scope, program_id)
                    await member_service.import_chunk(session, self.keyring, program, chunk, tally)
                job.done += len(chunk)
                job.created, job.updated, job.unchanged = tally.created, tally.updated, tally.unchanged
                job.rejected = len(tally.rejected)
                await asyncio.sleep(0)  # let the progress polls in between chunks
        except HubError as exc:
            job.error = exc.message
        except Exception as exc:  # the page must learn that the import stopped, whatever stopped it
            job.error = f"The import stopped: {type(exc).__name__}."
        report = tally.report()
        job.created, job.updated, job.unchanged = report.created, report.updated, report.unchanged
        job.rejected = len(report.rejected)
        job.rejections = [
            {"line": r.line, "code": r.code, "message": r.message} for r in report.rejected[:50]
        ]
        job.finished = True

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
