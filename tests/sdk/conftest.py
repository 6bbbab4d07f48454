"""Black-box SDK tests: a real gateway binary in front of the real mock-provider binary.

The gateway and mock are started by `tests/sdk/run.sh`, which exports their URLs; these tests
only talk HTTP through the official SDKs, exactly as an application would.
"""
import os

import pytest


@pytest.fixture(scope="session")
def gateway_url() -> str:
    url = os.environ.get("HEIMDALL_URL")
    if not url:
        pytest.fail("HEIMDALL_URL is not set: run the SDK tests through tests/sdk/run.sh")
    return url


@pytest.fixture(scope="session")
def mock_url() -> str:
    url = os.environ.get("MOCK_URL")
    if not url:
        pytest.fail("MOCK_URL is not set: run the SDK tests through tests/sdk/run.sh")
    return url
