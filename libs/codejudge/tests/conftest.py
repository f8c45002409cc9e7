"""Shared fixtures: a real judge on the real bubblewrap, python and node of this machine.

When the tests run as root, the sandbox runs as a uid nothing else on the host uses, so
"no stray processes afterwards" can be checked by looking for that uid in /proc.
"""

from __future__ import annotations

import os

import pytest
from codejudge import Judge, JudgeSettings

SANDBOX_UID = 64_917 if os.geteuid() == 0 else os.geteuid()


@pytest.fixture(scope="session")
def sandbox_uid() -> int:
    return SANDBOX_UID


@pytest.fixture(scope="session")
def judge_settings() -> JudgeSettings:
    return JudgeSettings(max_concurrency=2, sandbox_uid=SANDBOX_UID, sandbox_gid=SANDBOX_UID)


@pytest.fixture(scope="session")
def judge(judge_settings: JudgeSettings) -> Judge:
    judge = Judge(judge_settings)
    assert judge.sandbox_available(), judge.sandbox_unavailable_reason
    return judge
