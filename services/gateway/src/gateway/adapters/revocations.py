"""This replica's own copy of the revocations that access tokens must respect: deleted
accounts, and admins who lost the role. Every replica hears every `UserDeleted` and
`UserRoleChanged` (broadcast), and its own `DELETE /user/me` before answering, so the copy
still holds when Redis (the shared copy) is down. It is complete once the replica has been
listening for a whole token lifetime: every token it could still be shown was issued while
it listened. Until then, with Redis down, the edge cannot tell and refuses (fail closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RevocationMemory:
    def __init__(self, keep_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_seconds = keep_seconds
        self.clock = clock
        self.listening_since = clock()
        self._deleted: dict[str, float] = {}  # user id -> until
        self._demoted: dict[str, tuple[float, float]] = {}  # user id -> (demoted at, until)

    @property
    def complete(self) -> bool:
        return self.clock() - self.listening_since >= self.keep_seconds

    def _prune(self) -> None:
        now = self.clock()
        if len(self._deleted) > 10_000:
            self._deleted = {u: t for u, t in self._deleted.items() if t > now}
        if len(self._demoted) > 10_000:
            self._demoted = {u: v for u, v in self._demoted.items() if v[1] > now}

    def deleted(self, user_id: str) -> None:
        self._prune()
        self._deleted[user_id] = self.clock() + self.keep_seconds

    def demoted(self, user_id: str, at: float) -> None:
        self._prune()
        self._demoted[user_id] = (at, self.clock() + self.keep_seconds)

    def promoted(self, user_id: str) -> None:
        self._demoted.pop(user_id, None)

    def is_deleted(self, user_id: str) -> bool:
        until = self._deleted.get(user_id)
        return until is not None and until > self.clock()

    def demoted_at(self, user_id: str) -> float | None:
        entry = self._demoted.get(user_id)
        return entry[0] if entry is not None and entry[1] > self.clock() else None
