"""Benchmark of the web app in Debian's Chromium, against the platform as `make run` starts
it: time to interactive of the dashboard and of the interview room, and the bundle sizes.

(a) dashboard: a full page load of /dashboard (new tab, HTTP cache warm as a returning
    visitor's), until the quota line is on screen: the app's JS, the refresh through the
    cookie, /user/me and the first render.
(b) interview room: a full load of /room/<id> of a ready coding interview, until the code
    editor (its own lazy chunk) shows the function signature.
(c) baseline, alternating run by run with (a) and (b): one GET /user/me with a bearer token
    from this process, the API work a screen cannot do without. Reported as a ratio: what the app
    adds on top of its first API call.

Times are `performance.now()` in the page (from the start of navigation). Sizes are the
gzipped bytes of what the build wrote (initial: what index.html loads).

    uv run python bench/web.py            # 15 loads of each page
    uv run python bench/web.py --runs 40
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "bench"), str(REPO / "tests" / "e2e" / "web")]

from _stats import BenchFailure, percentile  # noqa: E402
from browserkit import DESKTOP, chromium  # noqa: E402
from devstack import Stack  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "e2e"))
from stackutil import delete_queues_with_prefix  # noqa: E402

PASSWORD = "Lantern-Harbour-73"
DEBUG = False


def bundle_sizes() -> tuple[float, list[tuple[str, float, bool]]]:
    dist = REPO / "web" / "dist"
    index = (dist / "index.html").read_text()
    initial = set(re.findall(r'(?:src|href)="/(assets/[^"]+\.(?:js|css))"', index))
    rows = [
        (
            f"assets/{p.name}",
            len(gzip.compress(p.read_bytes())) / 1024,
            f"assets/{p.name}" in initial,
        )
        for p in (dist / "assets").iterdir()
    ]
    rows.sort(key=lambda r: -r[1])
    return sum(kb for name, kb, first in rows if first and name.endswith(".js")), rows


def ready_coding_session(base: str, email: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        auth = {"authorization": f"Bearer {token['access_token']}"}
        sid = client.post(
            "/interviews", json={"type": "coding", "question_count": 1}, headers=auth
        ).json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/interviews/{sid}", headers=auth).json()["status"] != "ready":
            if time.monotonic() > deadline:
                raise BenchFailure("the interview did not become ready in 60 s")
            time.sleep(0.2)
        return sid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if not (REPO / "web" / "dist" / "index.html").is_file():
        raise SystemExit("build the web app first: make web")
    total, rows = bundle_sizes()
    with tempfile.TemporaryDirectory() as data, Stack(Path(data), ports="auto") as stack:
        try:
            dashboard, room, baseline = measure(stack, args.runs)
        finally:
            # a throwaway stack's quorum queues would pile up in the shared broker
            delete_queues_with_prefix(stack.namespace.get("QUEUE_PREFIX", "\0"))
    report(args.runs, total, rows, dashboard, room, baseline)


def measure(stack: Stack, runs: int) -> tuple[list[float], list[float], list[float]]:
    base = stack.gateway_url
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        page.goto(base + "/signup")
        page.get_by_label("Name").fill("Timer")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.get_by_text("interviews left").wait_for()
        sid = ready_coding_session(base, email)
        page.close()

        def load(path: str, ready: str) -> float:
            tab = context.new_page()  # a fresh document: the token is in memory only
            if DEBUG:
                tab.on(
                    "response",
                    lambda r: (
                        print(
                            "  ",
                            path[:8],
                            r.request.method,
                            r.url.split("/", 3)[3][:30],
                            r.status,
                        )
                        if "/assets/" not in r.url
                        else None
                    ),
                )
            tab.goto(base + path, wait_until="commit")
            # polled from here: a predicate run inside the page is eval()ed, which the
            # app's CSP refuses; the page's own clock stamps the moment it first held
            deadline = time.monotonic() + 30
            while not (elapsed := tab.evaluate(ready)):
                if time.monotonic() > deadline:
                    tab.screenshot(path="/tmp/bench-web-failure.png")
                    raise BenchFailure(f"{path} did not become interactive in 30 s")
                time.sleep(0.005)
            tab.close()
            return float(elapsed)

        # a tab is closed only once its page is interactive: closed while the app's
        # refresh is in flight, the rotated cookie would be lost with it
        token = httpx.post(
            f"{base}/auth/login", json={"email": email, "password": PASSWORD}
        ).json()["access_token"]
        api = httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"})

        def api_call() -> float:
            started = time.perf_counter()
            api.get("/user/me").raise_for_status()
            return (time.perf_counter() - started) * 1000

        quota_shown = (
            "() => document.body.innerText.includes('interviews left') && performance.now()"
        )
        editor_shown = (
            "() => (document.querySelector('.cm-content')?.textContent ?? '')"
            ".includes('def ') && performance.now()"
        )
        load("/dashboard", quota_shown)  # warm-up: caches, JIT
        dashboard, room, baseline = [], [], []
        for _ in range(runs):
            dashboard.append(load("/dashboard", quota_shown))
            room.append(load(f"/room/{sid}", editor_shown))
            baseline.append(api_call())
    return dashboard, room, baseline


def report(
    runs: int,
    total: float,
    rows: list[tuple[str, float, bool]],
    dashboard: list[float],
    room: list[float],
    baseline: list[float],
) -> None:
    print(f"web app on this machine ({runs} loads each, warm HTTP cache)")
    print(f"{'':24}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in (
        ("(a) dashboard TTI", dashboard),
        ("(b) room TTI", room),
        ("(c) one API call", baseline),
    ):
        print(
            f"{name:24}{percentile(values, 50):10.0f}{percentile(values, 95):10.0f}{max(values):10.0f}"
        )
    base_p50 = max(percentile(baseline, 50), 0.1)
    print(
        f"dashboard / API call: {percentile(dashboard, 50) / base_p50:.1f}x; room / API call: {percentile(room, 50) / base_p50:.1f}x (p50)"
    )
    print(f"initial JS {total:.1f} KB gzipped (budget 250 KB); largest files:")
    for name, kb, first in rows[:6]:
        print(f"  {kb:7.1f} KB  {'initial' if first else 'lazy   '}  {name}")


if __name__ == "__main__":
    main()
