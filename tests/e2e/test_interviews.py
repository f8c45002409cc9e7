"""An interview from start to report through the gateway: quota, SSE, scoring by the AI
runner with the real sandbox and the offline grader, transcripts, isolation between users."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from servicekit.testing import assert_no_hidden_tests, hidden_test_secrets
from stackutil import mailed, mails, metric, signup, text_of, wait_for

pytestmark = pytest.mark.e2e


def read_events(
    client: httpx.Client, path: str, headers: dict[str, str], until: set[str], on_status: Any = None
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with client.stream(
        "GET", path, headers=headers, timeout=httpx.Timeout(90, read=60)
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in response.iter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "data" in current:
                events.append(current)
                if on_status:
                    on_status(current["data"]["status"])
                current = {}
                if events[-1]["data"]["status"] in until:
                    break
    return events


GOOD_STORY = (
    "Last spring our checkout service missed its latency target two weeks before a launch. "
    "As the on-call lead, my task was to find the cause and get p99 under 300 ms. I profiled the "
    "hot path, found an N+1 query in the pricing module, and I rewrote it as one batched query. "
    "I also added a cache with a five-minute TTL and wrote a load test to prove it. The p99 "
    "dropped from 900 ms to 210 ms and we launched on time with 12% more conversions. I learned "
    "to add performance budgets to code review, and next time I would load test earlier."
)


def test_interview_from_start_to_report_with_live_status(stack: Any) -> None:
    _, auth = signup(stack, "127.0.2.1")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        started = client.post(
            "/interviews", json={"type": "mixed", "question_count": 2}, headers=auth
        )
        assert started.status_code == 202, started.text
        session = started.json()
        sid = session["id"]
        assert started.headers["location"] == f"/interviews/{sid}"

        seen: list[str] = []
        first = read_events(
            client, f"/interviews/{sid}/events", auth, until={"ready"}, on_status=seen.append
        )
        assert [e["data"]["status"] for e in first][:2] == ["queued", "ready"]

        answers = []
        for question in session["questions"]:
            if question["kind"] == "coding":
                answers.append(
                    {
                        "question_id": question["question_id"],
                        "language": "python",
                        "response": f"def {question['function_name']}(*args):\n    return None\n",
                    }
                )
            else:
                answers.append({"question_id": question["question_id"], "response": GOOD_STORY})
        submitted = client.post(
            f"/interviews/{sid}/submit", json={"answers": answers}, headers=auth
        )
        assert submitted.status_code == 202 and submitted.json()["status"] == "scoring"

        # resume after the last event seen: nothing is missed, nothing repeated
        resumed = read_events(
            client,
            f"/interviews/{sid}/events",
            auth | {"last-event-id": str(first[-1]["id"])},
            until={"completed", "failed"},
        )
        statuses = [e["data"]["status"] for e in first + resumed]
        assert statuses == ["queued", "ready", "scoring", "completed"], statuses
        ids = [e["id"] for e in first + resumed]
        assert ids == sorted(set(ids))

        report = client.get(f"/interviews/{sid}", headers=auth).json()
        assert report["status"] == "completed" and 0 <= report["overall_score"] <= 100
        code_id = next(q["question_id"] for q in session["questions"] if q["kind"] == "coding")
        coding = next(r for r in report["results"] if r["question_id"] == code_id)
        assert {t["verdict"] for t in coding["tests"]} - {"accepted"}, "a stub cannot pass"
        talk_id = next(q["question_id"] for q in session["questions"] if q["kind"] == "behavioral")
        behavioural = next(r for r in report["results"] if r["question_id"] == talk_id)
        assert all(q in GOOD_STORY for d in behavioural["dimensions"] for q in d["evidence"])

        transcript = client.get(f"/interviews/{sid}/transcript", headers=auth)
        assert (
            transcript.status_code == 200
            and transcript.json()["overall_score"] == report["overall_score"]
        )
        markdown = client.get(f"/interviews/{sid}/transcript?format=markdown", headers=auth)
        assert markdown.status_code == 200 and markdown.text.startswith("# Interview transcript")

        # another user sees none of it; the event stream ends at the final status
        _, other = signup(stack, "127.0.2.2", "Mallory")
        for path in (
            f"/interviews/{sid}",
            f"/interviews/{sid}/transcript",
            f"/interviews/{sid}/events",
        ):
            response = client.get(path, headers=other)
            assert response.status_code == 404 and response.json()["code"] == "not_found", path
        sneaky = client.post(f"/interviews/{sid}/submit", json={"answers": answers}, headers=other)
        assert sneaky.status_code == 404


def test_fifty_simultaneous_starts_through_the_gateway_make_exactly_two(stack: Any) -> None:
    _, auth = signup(stack, "127.0.2.3")
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        # read (and so cache at the edge) /user/me first: the starts must drop that answer
        assert client.get("/user/me", headers=auth).json()["quota"]["used"] == 0

    def start(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
            return client.post("/interviews", json={"type": "behavioral"}, headers=auth)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(start, range(50)))
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 2 and codes.count(429) == 48, codes
    denied = next(r for r in responses if r.status_code == 429)
    assert denied.json()["code"] == "quota_exceeded" and int(denied.headers["retry-after"]) > 0
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        me = client.get("/user/me", headers=auth).json()
        assert me["quota"]["used"] == 2 and me["quota"]["remaining"] == 0


BANK = Path(__file__).resolve().parents[2] / "services/interviews/src/interviews/bank/coding"


def test_no_candidate_payload_carries_a_hidden_test(stack: Any) -> None:
    """Every answer a candidate can get (session, list, live status, transcript in both
    formats, the question bank) is searched for each hidden test's input and expected value,
    after code that tries to print and raise its arguments was judged."""
    _, auth = signup(stack, "127.0.2.4", "Eve")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        payloads: dict[str, bytes] = {}
        started = client.post(
            "/interviews", json={"type": "coding", "question_count": 2}, headers=auth
        )
        assert started.status_code == 202, started.text
        payloads["POST /interviews"] = started.content
        session = started.json()
        sid = session["id"]
        questions = [
            json.loads((BANK / f"{q['question_id']}.json").read_text())
            for q in session["questions"]
        ]
        assert all(hidden_test_secrets(q) for q in questions), "nothing to look for"
        read_events(client, f"/interviews/{sid}/events", auth, until={"ready"})
        exfiltrate = (
            "import sys\n"
            "def {name}(*args):\n"
            "    print(repr(args)); print(repr(args), file=sys.stderr)\n"
            "    raise ValueError('input was ' + repr(args))\n"
        )
        answers = [
            {
                "question_id": q["question_id"],
                "language": "python",
                "response": exfiltrate.format(name=q["function_name"]),
            }
            for q in session["questions"]
        ]
        for answer in answers:  # the same code through "Run examples"
            run = client.post(
                f"/interviews/{sid}/run",
                json={
                    "question_id": answer["question_id"],
                    "language": "python",
                    "code": answer["response"],
                },
                headers=auth,
            )
            assert run.status_code == 200, run.text
            payloads[f"run {answer['question_id']}"] = run.content
        submitted = client.post(
            f"/interviews/{sid}/submit", json={"answers": answers}, headers=auth
        )
        assert submitted.status_code == 202, submitted.text
        frames = read_events(
            client, f"/interviews/{sid}/events", auth, until={"completed", "failed"}
        )
        payloads["SSE frames"] = json.dumps([f["data"] for f in frames]).encode()
        report = client.get(f"/interviews/{sid}", headers=auth)
        assert report.json()["status"] == "completed", report.text
        verdicts = {t["verdict"] for r in report.json()["results"] for t in r["tests"]}
        # raising (or printing past the output cap on large inputs) is all the code does
        assert verdicts <= {"runtime_error", "output_limit_exceeded"}, verdicts
        payloads["GET /interviews/{id}"] = report.content
        payloads["GET /interviews"] = client.get("/interviews", headers=auth).content
        for fmt in ("json", "markdown"):
            transcript = client.get(f"/interviews/{sid}/transcript?format={fmt}", headers=auth)
            assert transcript.status_code == 200, transcript.text
            payloads[f"transcript ({fmt})"] = transcript.content
        listing = client.get("/questions?type=coding&limit=100", headers=auth).json()
        assert listing["items"]
        for item in listing["items"]:  # each against its own question (values recur across)
            own = json.loads((BANK / f"{item['id']}.json").read_text())
            assert_no_hidden_tests(json.dumps(item), [own], f"GET /questions: {item['id']}")
        for q in questions:
            one = client.get(f"/questions/{q['id']}", headers=auth)
            assert one.status_code == 200 and one.json()["examples"], one.text
            assert not {"tests", "rubric", "optimal_complexity", "reference_solutions"} & set(
                one.json()
            )
            payloads[f"GET /questions/{q['id']}"] = one.content
        for where, payload in payloads.items():
            assert_no_hidden_tests(payload, questions, where)


def test_drafts_example_runs_and_progress_through_the_gateway(stack: Any) -> None:
    _, auth = signup(stack, "127.0.2.5", "Margaret")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        started = client.post(
            "/interviews",
            json={"type": "coding", "question_count": 1, "time_limit_minutes": 30},
            headers=auth,
        )
        assert started.status_code == 202, started.text
        sid = started.json()["id"]
        read_events(client, f"/interviews/{sid}/events", auth, until={"ready"})
        session = client.get(f"/interviews/{sid}", headers=auth).json()
        assert session["deadline_at"] and session["time_limit_minutes"] == 30
        question = session["questions"][0]
        qid, name = question["question_id"], question["function_name"]
        bank = json.loads((BANK / f"{qid}.json").read_text())

        # a draft, then a newer one with If-Match (the header travels through the gateway)
        draft = {"question_id": qid, "language": "python", "response": f"def {name}(*a):\n"}
        first = client.put(f"/interviews/{sid}/draft", json={"answers": [draft]}, headers=auth)
        assert first.status_code == 200 and first.headers["etag"] == '"1"', first.text
        newer = client.put(
            f"/interviews/{sid}/draft",
            json={"answers": [draft | {"response": bank["reference_solutions"]["python"]}]},
            headers=auth | {"if-match": first.headers["etag"]},
        )
        assert newer.status_code == 200 and newer.json()["version"] == 2, newer.text
        stale = client.put(
            f"/interviews/{sid}/draft",
            json={"answers": [draft]},
            headers=auth | {"if-match": '"1"'},
        )
        assert stale.status_code == 412 and stale.json()["code"] == "stale_draft"
        reloaded = client.get(f"/interviews/{sid}", headers=auth).json()
        assert reloaded["draft"]["version"] == 2

        # run the examples: failing, then passing; then the per-user limit
        run = {"question_id": qid, "language": "python"}
        failing = client.post(
            f"/interviews/{sid}/run",
            json=run | {"code": f"def {name}(*a):\n    return 'not-the-answer'\n"},
            headers=auth,
        )
        assert failing.status_code == 200, failing.text
        assert failing.json()["passed"] < failing.json()["total"]
        passing = client.post(
            f"/interviews/{sid}/run",
            json=run | {"code": bank["reference_solutions"]["python"]},
            headers=auth,
        )
        assert passing.json()["passed"] == passing.json()["total"] > 0
        codes = [
            client.post(
                f"/interviews/{sid}/run", json=run | {"code": "def f(): pass"}, headers=auth
            ).status_code
            for _ in range(4)
        ]
        assert 429 in codes, codes

        submitted = client.post(
            f"/interviews/{sid}/submit",
            json={"answers": [draft | {"response": bank["reference_solutions"]["python"]}]},
            headers=auth,
        )
        assert submitted.status_code == 202
        read_events(client, f"/interviews/{sid}/events", auth, until={"completed", "failed"})
        progress = client.get("/user/me/progress", headers=auth)
        assert progress.status_code == 200, progress.text
        assert progress.json()["sessions_completed"] == 1
        assert progress.json()["questions"][0]["question_id"] == qid

        # the profile: a new name shows at once in /user/me (read model dropped)
        assert client.get("/user/me", headers=auth).json()["name"] == "Margaret"
        renamed = client.patch("/user/me", json={"name": "Margaret H."}, headers=auth)
        assert renamed.status_code == 200 and renamed.json()["name"] == "Margaret H."
        assert client.get("/user/me", headers=auth).json()["name"] == "Margaret H."


def test_mail_follows_the_interviews_and_a_one_click_link_stops_one_kind(stack: Any) -> None:
    """The report mail arrives with a link to the report; its one-click unsubscribe (what a
    mail client POSTs, signed out) stops report mail and nothing else: the week's last
    interview still mails, and its report does not."""
    _, auth = signup(stack, "127.0.2.9", "Hedy")
    notifications = stack.service_url("notifications")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        address = client.get("/user/me", headers=auth).json()["email"]

        def interview() -> str:
            started = client.post(
                "/interviews", json={"type": "behavioral", "question_count": 1}, headers=auth
            )
            assert started.status_code == 202, started.text
            sid = started.json()["id"]
            read_events(client, f"/interviews/{sid}/events", auth, until={"ready"})
            question = client.get(f"/interviews/{sid}", headers=auth).json()["questions"][0]
            answers = [{"question_id": question["question_id"], "response": GOOD_STORY}]
            submitted = client.post(
                f"/interviews/{sid}/submit", json={"answers": answers}, headers=auth
            )
            assert submitted.status_code == 202, submitted.text
            read_events(client, f"/interviews/{sid}/events", auth, until={"completed", "failed"})
            return str(sid)

        first = interview()
        report = mailed(stack.mail_dir, address, "report_ready")
        assert f"{stack.gateway_url}/report/{first}" in text_of(report)
        assert report["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = str(report["List-Unsubscribe"]).strip("<>")
        assert link.startswith(f"{stack.gateway_url}/notifications/unsubscribe?token=")
        # the same URL opened in a browser goes to the page that asks first
        page = client.get(link, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/unsubscribe?" + link.split("?", 1)[1]

        with httpx.Client(timeout=30) as mail_client:  # no cookie, no token
            one_click = mail_client.post(
                link,
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert one_click.status_code == 200, one_click.text
        assert one_click.json()["kinds"] == ["report_ready"]
        preferences = client.get("/user/me/notifications", headers=auth).json()
        assert preferences == {
            "report_ready": False,
            "session_failed": True,
            "quota_reached": True,
            "billing": True,
        }

        suppressed_before = metric(
            notifications,
            "notifications_mail_suppressed_total",
            kind="report_ready",
            reason="unsubscribed",
        )
        interview()  # the second of two: the week's last
        quota = mailed(stack.mail_dir, address, "quota_reached")
        assert "last of the 2 interviews your free plan allows" in text_of(quota)

        def report_not_sent() -> bool:
            now = metric(
                notifications,
                "notifications_mail_suppressed_total",
                kind="report_ready",
                reason="unsubscribed",
            )
            return now > suppressed_before

        wait_for(report_not_sent, timeout=60, message="the second report mail suppressed")
        assert len(mails(stack.mail_dir, address, "report_ready")) == 1
