"""Benchmark of POST /interviews/{id}/run: a candidate's "Run examples" through the whole
platform, against the judge alone in the same run.

(a) through the gateway: the platform started as processes (scripts/devstack.py, automatic
    ports and a private namespace); one user, one ready coding interview; `--runs` example
    runs one after another with the question's Python reference solution (every example must
    be accepted). Timed around the HTTP call: edge checks, the hop, interviews' ownership
    and status checks, the sandbox, the answer.
(b) baseline: the same visible examples through `Judge(JudgeSettings())` in this process,
    alternating with (a) run by run, so both sample the same moments of the machine.

Reported: p50, p95, max of both, the platform's share over the bare judge, and the goal
(p95 <= 1.5 s for a Python example run on this machine).

    uv run python bench/run_examples.py            # 40 runs
    uv run python bench/run_examples.py --runs 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "bench")]

from _stats import percentile  # noqa: E402
from devstack import Stack  # noqa: E402

GOAL_P95_S = 1.5
PASSWORD = "Bench-runs-2026"


def _ready_session(client: httpx.Client) -> tuple[dict[str, str], str, dict[str, object]]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    client.post("/auth/register", json={"name": "Timer", "email": email, "password": PASSWORD})
    token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()[
        "access_token"
    ]
    auth = {"authorization": f"Bearer {token}"}
    started = client.post(
        "/interviews", json={"type": "coding", "question_count": 1}, headers=auth
    ).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        session = client.get(f"/interviews/{started['id']}", headers=auth).json()
        if session["status"] == "ready":
            qid = session["questions"][0]["question_id"]
            bank = REPO / "services/interviews/src/interviews/bank/coding" / f"{qid}.json"
            return auth, session["id"], json.loads(bank.read_text())
        time.sleep(0.2)
    raise SystemExit("the interview did not become ready in 60 s")


async def _judge_once(question: dict[str, object]) -> float:
    from codejudge import Judge, JudgeSettings
    from contracts.events import HiddenTest

    tests = [HiddenTest(**t) for t in question["tests"] if t.get("visible")]  # type: ignore[union-attr]
    judge = Judge(JudgeSettings())
    started = time.perf_counter()
    report = await judge.run(
        language="python",
        source=question["reference_solutions"]["python"],  # type: ignore[index]
        function_name=str(question["function_name"]),
        tests=tests,
        comparison=question.get("comparison", "exact"),  # type: ignore[arg-type]
        time_limit_ms=int(question.get("time_limit_ms", 2000)),  # type: ignore[arg-type]
        memory_limit_mb=int(question.get("memory_limit_mb", 256)),  # type: ignore[arg-type]
    )
    elapsed = time.perf_counter() - started
    if report.passed != report.total:
        raise SystemExit("the reference solution failed its examples in the bare judge")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        env = {
            "RATE_LIMIT_RUN": "100000/60",
            "RATE_LIMIT_USER": "100000/60",
            "LOG_LEVEL": "WARNING",
        }
        with Stack(Path(work) / "stack", ports="auto", env=env) as stack:
            with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
                auth, sid, question = _ready_session(client)
                body = {
                    "question_id": question["id"],
                    "language": "python",
                    "code": question["reference_solutions"]["python"],  # type: ignore[index]
                }
                platform_s: list[float] = []
                bare_s: list[float] = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    answer = client.post(f"/interviews/{sid}/run", json=body, headers=auth)
                    platform_s.append(time.perf_counter() - started)
                    result = answer.json()
                    if answer.status_code != 200 or result["passed"] != result["total"]:
                        raise SystemExit(f"run failed: {answer.status_code} {answer.text[:300]}")
                    bare_s.append(asyncio.run(_judge_once(question)))
    print(f"POST /interviews/{{id}}/run, question {question['id']}, {args.runs} runs each")
    for label, values in (("through the platform", platform_s), ("bare judge (baseline)", bare_s)):
        print(
            f"  {label:24s} p50 {percentile(values, 50) * 1000:7.1f} ms  "
            f"p95 {percentile(values, 95) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"
        )
    p95 = percentile(platform_s, 95)
    ratio = percentile(platform_s, 50) / percentile(bare_s, 50)
    print(f"  platform / bare judge at p50: {ratio:.2f}x")
    print(f"  goal p95 <= {GOAL_P95_S:.1f} s: {'met' if p95 <= GOAL_P95_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
