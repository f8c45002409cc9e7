"""Schemathesis against the gateway's own OpenAPI for the account routes: whatever a client
sends, valid or not, the answer is never a 5xx."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

pytestmark = pytest.mark.e2e


def test_account_routes_never_answer_5xx(stack: Any) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        spec = client.get("/openapi.json").json()
        email = f"fuzz-{random.randrange(10**9)}@example.com"
        client.post(
            "/auth/register", json={"name": "Tester", "email": email, "password": "Fuzzing-rules-9"}
        )
        token = client.post(
            "/auth/login", json={"email": email, "password": "Fuzzing-rules-9"}
        ).json()["access_token"]
    schema = schemathesis.openapi.from_dict(spec).include(path_regex=r"^/(auth|user)/")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {f"{o.method.upper()} {o.path}" for o in operations} >= {
        "POST /auth/register",
        "POST /auth/login",
        "POST /auth/refresh",
        "GET /user/me",
    }
    failures: list[str] = []
    seen: dict[int, int] = {}
    strategy = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE)
    )

    @settings(
        max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy, forwarded=st.ip_addresses(v=4), authed=st.booleans())
    def run(case: Any, forwarded: Any, authed: bool) -> None:
        # each case from its own address (the test stack trusts X-Forwarded-For from
        # 127.0.0.1), so the brute-force limits do not hide the handlers from the fuzzer
        headers = {"x-forwarded-for": str(forwarded)}
        if authed and case.operation.path in ("/user/me", "/auth/logout"):
            headers["authorization"] = f"Bearer {token}"
        if case.method.upper() == "DELETE":
            return  # deleting the fuzzing account would only make every later case a 401
        response = case.call(base_url=stack.gateway_url, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:300]} (body={case.body!r})"
            )

    run()
    assert not failures, "\n".join(failures[:10])
    # the cases reached the handlers, not only the limiter or the validator
    assert seen.get(429, 0) < sum(seen.values()) / 2, seen
    assert any(200 <= s < 300 for s in seen) and 422 in seen and 401 in seen, seen
