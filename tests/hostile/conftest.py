"""The fixtures of the hostile-input modules: each module has its own app."""
from __future__ import annotations

from typing import Iterator

import pytest

from .harness import Harness


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


@pytest.fixture
def h(harness) -> Harness:
    harness.restore()
    harness.app.journal.clear()  # each test renders its own requests, not every earlier one
    return harness
