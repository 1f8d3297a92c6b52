"""The line at the end of every run that says what each test tier cost (issue 21)."""

from __future__ import annotations

import re

INNER_TESTS = """
import time

import pytest


@pytest.fixture(scope="session")
def shared():
    time.sleep(0.3)  # counted once, for the first test that uses it


def test_plain(shared):
    time.sleep(0.2)


def test_plain_too(shared):
    pass


@pytest.mark.ci
def test_bounded():
    time.sleep(0.4)


@pytest.mark.slow
@pytest.mark.ci
def test_slow_but_in_ci():
    pass


@pytest.mark.slow
def test_long():
    time.sleep(0.5)


@pytest.mark.parametrize("tier", [pytest.param("ci", marks=pytest.mark.ci), "other"])
def test_param(tier):
    pass
"""


def _summary(pytester, *args: str) -> dict[str, tuple[int, float]]:
    pytester.makeini("[pytest]\nmarkers =\n    slow: s\n    ci: c\n")
    pytester.makeconftest("from tests.conftest import pytest_collection_modifyitems, pytest_terminal_summary\n")
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest(*args)
    found = {}
    for line in result.outlines:
        m = re.fullmatch(r"(.+): (\d+) tests?, (\d+\.\d) s", line)
        if m:
            found[m[1]] = (int(m[2]), float(m[3]))
    return found


def test_the_readme_command_prints_the_fast_tier_and_the_ci_slice(pytester):
    found = _summary(pytester, "-m", "not slow or ci")
    assert set(found) == {"fast tier (not slow, not ci)", "ci slice (ci)"}
    count, seconds = found["fast tier (not slow, not ci)"]
    assert count == 3 and 0.5 <= seconds < 3  # the session fixture's 0.3 s and the 0.2 s test
    count, seconds = found["ci slice (ci)"]
    assert count == 3 and 0.4 <= seconds < 3  # marked ci, slow and ci, and the ci parameter


def test_a_full_run_also_prints_the_slow_tier(pytester):
    found = _summary(pytester, "-m", "slow and not ci")
    assert set(found) == {"slow tier (slow, not ci)"}
    count, seconds = found["slow tier (slow, not ci)"]
    assert count == 1 and 0.5 <= seconds < 3
