"""Process-local caches of rows that change rarely (API keys, programs, venues…), kept honest by commits.

A WatchedCache holds values derived from some mapped classes. Every entry lives at most `seconds`.
Any change to a watched class that goes through an ORM session of this process — a flushed insert,
update or delete, or a bulk DML statement — empties the cache when it is flushed and again when it
commits, and a load that ran while such a change was in flight is not stored (the generation moved
on). So this process never serves a value older than its own last commit, and another process's
change is seen within `seconds`. Values must be treated as read-only by their users.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")
_NOTED = "hub.watched_caches"
_CACHES: list[WatchedCache] = []


class WatchedCache:
    def __init__(self, name: str, *watched: type, seconds: float = 2.0, max_entries: int = 10_000) -> None:
        self.name = name
        self.watched = watched
        self.seconds = seconds
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[Hashable, tuple[Any, float]] = {}
        _CACHES.append(self)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) for a fresh entry, (False, None) otherwise."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if time.monotonic() >= entry[1]:
            self._entries.pop(key, None)
            return False, None
        return True, entry[0]

    def store(self, key: Hashable, value: Any, generation: int) -> None:
        """Keep value unless a watched change happened since `generation` was read."""
        if generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic() + self.seconds)

    async def load(self, key: Hashable, loader: Callable[[], Awaitable[T]]) -> T:
        """The cached value of key, or loader()'s (stored when nothing changed meanwhile)."""
        found, value = self.lookup(key)
        if found:
            return value  # type: ignore[no-any-return]  # stored by this same load() under this key
        generation = self.generation
        loaded = await loader()
        self.store(key, loaded, generation)
        return loaded

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()

    def watches(self, cls: type) -> bool:
        return issubclass(cls, self.watched)


def _note(session: Session, classes: set[type]) -> None:
    for cache in _CACHES:
        if any(cache.watches(cls) for cls in classes):
            cache.invalidate()  # now, so no load from here on is stored from a state about to change
            session.info.setdefault(_NOTED, set()).add(cache.name)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    classes = {type(row) for row in (*session.new, *session.dirty, *session.deleted)}
    if classes:
        _note(session, classes)


@event.listens_for(Session, "do_orm_execute")
def _on_dml(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is not None:
        _note(state.session, {state.bind_mapper.class_})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    names = session.info.pop(_NOTED, None)
    if names:
        for cache in _CACHES:
            if cache.name in names:
                cache.invalidate()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_NOTED, None)
