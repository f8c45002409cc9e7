"""Every service's `domain/` is pure: its modules load without the store's driver, the web
framework or the broker client (issue 11). They build on `servicekit.domain` (Aggregate,
DomainError), which imports none of them either. Checked in a fresh interpreter, so what
other tests imported does not hide a dependency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRIVERS = ("pymongo", "fastapi", "starlette", "aio_pika", "faststream", "redis", "aiohttp")

PROBE = """
import importlib, json, pkgutil, sys
loaded = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    loaded[name] = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print(json.dumps(loaded))
"""


def domain_modules() -> list[str]:
    names = ["servicekit.domain"]
    for package in sorted(REPO.glob("services/*/src/*/domain")):
        top = package.parent.name
        names += [
            f"{top}.domain.{p.stem}" for p in sorted(package.glob("*.py")) if p.stem != "__init__"
        ]
    return names


def test_domain_layers_import_no_driver() -> None:
    names = domain_modules()
    assert len(names) >= 10, names  # every service's domain modules were found
    impure = {}
    for name in names:  # one interpreter per module: each is judged by its own imports
        out = subprocess.run(
            [sys.executable, "-c", PROBE % (DRIVERS,), name],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        drivers = json.loads(out.stdout)[name]
        if drivers:
            impure[name] = drivers
    assert not impure, f"domain modules that load a driver: {impure}"
