"""What the verify tests share: the in-process mock the runner compares with, and one drifted
upstream per module whose change each test sets (`switch.serving(change)`)."""
from __future__ import annotations

import pytest

from mockserver import create_app

from .upstream import Drifted, Switch, serve


@pytest.fixture(scope="module")
def mock():
    return create_app()


@pytest.fixture(scope="module")
def switch():
    return Switch()


@pytest.fixture(scope="module")
def drifted(switch):
    with serve(Drifted(create_app(), switch)) as url:
        yield url
