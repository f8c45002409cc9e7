"""The shipped question bank and its API: every reference solution passes its hidden tests in
the real sandbox, every deliberately wrong one fails; non-admins never see the answers."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any

import pytest
from codejudge import Judge, JudgeSettings
from interviews.adapters.bank import load_seed
from interviews.domain.questions import CodingQuestion
from servicekit.testing import assert_no_hidden_tests

BANK = load_seed()
BEHAVIOURAL_ID = next(q.id for q in BANK if q.type == "behavioral")
CODING = [q for q in BANK if isinstance(q, CodingQuestion)]


def test_the_bank_is_big_and_varied_enough() -> None:
    behavioural = [q for q in BANK if not isinstance(q, CodingQuestion)]
    assert len(CODING) >= 40 and len(behavioural) >= 40
    assert {q.difficulty for q in CODING} == {"easy", "medium", "hard"}
    tags = {t for q in CODING for t in q.tags}
    for tag in (
        "arrays",
        "strings",
        "hashing",
        "two-pointers",
        "graphs",
        "dynamic-programming",
        "trees",
        "intervals",
        "heaps",
    ):
        assert tag in tags, tag
    for question in CODING:
        assert sum(not t.visible for t in question.tests) >= 8, question.id
        assert set(question.wrong_solutions) == {"python", "javascript"}, question.id


async def test_every_reference_passes_and_every_wrong_solution_fails_in_the_sandbox() -> None:
    judge = Judge(JudgeSettings(max_concurrency=2))
    assert judge.sandbox_available(), judge.sandbox_unavailable_reason

    async def check(question: CodingQuestion, language: str) -> list[str]:
        problems = []
        kwargs: dict[str, Any] = dict(
            language=language,
            function_name=question.function_name,
            tests=question.tests,
            comparison=question.comparison,
            time_limit_ms=question.time_limit_ms,
            memory_limit_mb=question.memory_limit_mb,
        )
        good = await judge.run(source=question.reference_solutions[language], **kwargs)
        if good.passed != good.total or not good.sandboxed:
            bad = [(r.test_id, r.verdict) for r in good.results if r.verdict != "accepted"]
            problems.append(f"{question.id}/{language} reference fails {bad}")
        wrong = await judge.run(source=question.wrong_solutions[language], **kwargs)
        if wrong.passed == wrong.total:
            problems.append(f"{question.id}/{language} wrong solution passes everything")
        return problems

    results = await asyncio.gather(
        *(check(q, lang) for q in CODING for lang in ("python", "javascript"))
    )
    problems = [p for r in results for p in r]
    assert not problems, "\n".join(problems)


async def test_listing_filters_paginates_and_hides_answers(harness: Any) -> None:
    user = harness.auth(str(uuid.uuid4()))
    page = (await harness.client.get("/questions?type=coding&limit=5", headers=user)).json()
    assert page["total"] == len(CODING) and len(page["items"]) == 5 and page["offset"] == 0
    text = str(page)
    assert "reference_solutions" not in text and "wrong_solutions" not in text
    assert all("tests" not in q and q["examples"] for q in page["items"])
    behavioural = (
        await harness.client.get("/questions?type=behavioral&limit=1", headers=user)
    ).json()
    assert "sample_answer" not in behavioural["items"][0]

    hard = (
        await harness.client.get("/questions?type=coding&difficulty=hard&limit=100", headers=user)
    ).json()
    assert hard["total"] == sum(q.difficulty == "hard" for q in CODING)
    both = (
        await harness.client.get("/questions?tags=trees,dfs&tags_mode=all&limit=100", headers=user)
    ).json()
    assert both["total"] == sum({"trees", "dfs"} <= set(q.tags) for q in BANK)
    either = (
        await harness.client.get("/questions?tags=trees,intervals&limit=100", headers=user)
    ).json()
    assert either["total"] == sum(bool({"trees", "intervals"} & set(q.tags)) for q in BANK)
    found = (await harness.client.get("/questions?q=PALINDROME", headers=user)).json()
    assert any(q["id"] == "valid-palindrome" for q in found["items"])
    for bad in (
        "difficulty=impossible",
        "limit=0",
        "limit=1000",
        "type=essay",
        "tags=%3Cscript%3E",
    ):
        response = await harness.client.get(f"/questions?{bad}", headers=user)
        assert response.status_code == 422, bad
        assert response.json()["code"] == "validation_error"

    admin = harness.auth(str(uuid.uuid4()), "admin")
    full = (await harness.client.get("/questions/two-sum", headers=admin)).json()
    assert full["reference_solutions"] and full["tests"]

    # one question, as a candidate reads it: no hidden test, rubric, complexity or answers
    one = await harness.client.get("/questions/two-sum", headers=user)
    assert one.status_code == 200, one.text
    assert not {"tests", "rubric", "optimal_complexity", "reference_solutions"} & set(one.json())
    assert one.json()["examples"] and one.json()["signatures"]
    assert_no_hidden_tests(one.content, [full], "GET /questions/two-sum")
    listing = await harness.client.get("/questions?type=coding&limit=100", headers=user)
    by_id = {q.id: q.model_dump(mode="json") for q in CODING}
    for item in listing.json()["items"]:  # each item against its own question's tests
        assert_no_hidden_tests(
            json.dumps(item), [by_id[item["id"]]], f"GET /questions {item['id']}"
        )
    story = (await harness.client.get(f"/questions/{BEHAVIOURAL_ID}", headers=user)).json()
    assert "sample_answer" not in story
    assert all(set(r) == {"dimension", "description"} for r in story["rubric"])


async def test_admins_manage_questions_and_coding_questions_must_pass_their_tests(
    harness: Any,
) -> None:
    admin = harness.auth(str(uuid.uuid4()), "admin")
    user = harness.auth(str(uuid.uuid4()))
    base = next(q for q in CODING if q.id == "two-sum").model_dump(mode="json")
    new = copy.deepcopy(base) | {"id": "two-sum-again", "title": "Two Sum, again"}

    assert (await harness.client.post("/questions", json=new, headers=user)).status_code == 403
    broken = copy.deepcopy(new)
    broken["reference_solutions"]["python"] = "def two_sum(nums, target):\n    return [0, 0]\n"
    refused = await harness.client.post("/questions", json=broken, headers=admin)
    assert refused.status_code == 422 and refused.json()["code"] == "reference_solution_fails"
    too_few = copy.deepcopy(new)
    too_few["tests"] = too_few["tests"][:3]
    assert (await harness.client.post("/questions", json=too_few, headers=admin)).status_code == 422

    created = await harness.client.post("/questions", json=new, headers=admin)
    assert created.status_code == 201 and created.json()["version"] == 1
    new["title"] = "Two Sum, third time"
    updated = await harness.client.put("/questions/two-sum-again", json=new, headers=admin)
    assert updated.status_code == 200 and updated.json()["version"] == 2
    versions = await harness.rt.db["question_versions"].count_documents(
        {"_id": {"$regex": "^two-sum-again@"}}
    )
    assert versions == 2
    assert (
        await harness.client.delete("/questions/two-sum-again", headers=user)
    ).status_code == 403
    assert (
        await harness.client.delete("/questions/two-sum-again", headers=admin)
    ).status_code == 204
    gone = await harness.client.get("/questions/two-sum-again", headers=admin)
    assert gone.status_code == 404


@pytest.mark.parametrize("field", ["id", "tests", "operator-id"])
async def test_question_validation_errors_are_problems(harness: Any, field: str) -> None:
    admin = harness.auth(str(uuid.uuid4()), "admin")
    body = next(q for q in CODING).model_dump(mode="json") | {"id": f"q-{uuid.uuid4().hex[:6]}"}
    if field == "operator-id":  # validated before any query: never a 409 found by {"$ne"}
        body["id"] = {"$ne": None}
    else:
        body[field] = "NOT VALID!" if field == "id" else "nope"
    response = await harness.client.post("/questions", json=body, headers=admin)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


async def test_an_edit_through_one_replica_is_picked_at_once_by_another(
    harness: Any, isolation: dict[str, Any], mint: Any, clock: Any
) -> None:
    """Each replica keeps the bank in memory for picking; an admin's edit through any of them
    is seen by every replica at its next pick (the bank's version lives in the database)."""
    from interviews.main import create_app
    from interviews.settings import Settings
    from servicekit.testing import running

    other = create_app(Settings(**isolation), clock=clock)
    other.state.verifier = mint.verifier()
    admin = harness.auth(str(uuid.uuid4()), "admin")
    candidate = str(uuid.uuid4())
    tag = f"only-{uuid.uuid4().hex[:8]}"
    wanted = {"type": "coding", "tags": [tag], "question_count": 1}
    question = next(q for q in CODING if q.id == "two-sum").model_dump(mode="json")
    question |= {"id": f"two-sum-{tag}", "tags": [tag]}
    async with running(other, ready_timeout=60) as replica:
        headers = harness.auth(candidate)
        # the replica has its catalog loaded, and nothing matches yet
        none = await replica.post("/interviews", json=wanted, headers=headers)
        assert none.status_code == 422 and none.json()["code"] == "not_enough_questions"

        created = await harness.client.post("/questions", json=question, headers=admin)
        assert created.status_code == 201
        started = await replica.post("/interviews", json=wanted, headers=headers)
        assert started.status_code == 202, started.text
        assert [q["question_id"] for q in started.json()["questions"]] == [question["id"]]

        deleted = await harness.client.delete(f"/questions/{question['id']}", headers=admin)
        assert deleted.status_code == 204
        gone = await replica.post("/interviews", json=wanted, headers=headers)
        assert gone.status_code == 422 and gone.json()["code"] == "not_enough_questions"
