"""`python -m servicekit.devmongo [secantus options]`: the development Mongo-wire server
(secantusdb) as tests, `make run` and the benches start it, with a shorter transaction
lifetime than its fixed 60 s.

Why: a transaction left open (its client killed, or cancelled mid-transaction at shutdown)
pins every write made after it until the server reaps it. If those writes fill the WiredTiger
cache, the thread holding the server's storage lock waits in WiredTiger's eviction for room
that never comes and every other thread waits on that lock: the server hangs for good (seen in
a CI run; reproduced with a 64M cache, which hung after ~60 MB of inserts behind one idle open
transaction). Reaping after 15 s idle bounds what such a transaction can pin. No transaction of
ours sits idle between two statements for that long; MongoDB's own default is 60 s, and it
does not have this failure mode.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
from typing import Any

TRANSACTION_LIFETIME_SECONDS = 15.0
CACHE_SIZE = "2G"  # WiredTiger cache: room for what the test suite writes meanwhile


def run(argv: list[str] | None = None) -> int:
    from secantus import server
    from secantus.cli import main

    # `kill -USR1 <pid>` writes every thread's Python stack to the server's output (its log):
    # what the devstack watcher saves when the server stops answering. It works while those
    # threads are blocked on a lock, since faulthandler writes from the signal handler.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    original = server.SecantusDBServer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transaction_lifetime_seconds", TRANSACTION_LIFETIME_SECONDS)
        original(self, *args, **kwargs)

    server.SecantusDBServer.__init__ = init
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--cache-size" not in argv:
        argv += ["--cache-size", CACHE_SIZE]
    return int(main(argv) or 0)


if __name__ == "__main__":
    raise SystemExit(run())
