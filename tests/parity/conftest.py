"""One local Dify server for the tests that hold both frameworks to the same rule.

Everything goes over real HTTP on loopback to ``DifyTestServer``; nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dify_integrations.testing import DifyTestServer


@pytest.fixture(scope="module")
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer() as srv:
        yield srv
