from collections.abc import Iterator

import pytest

from workbench.loadtest import DelayTarget, create_contract_app
from workbench.testing import UvicornServer


@pytest.fixture(scope="module")
def contract_server() -> Iterator[UvicornServer]:
    """The contract app on real uvicorn (127.0.0.1): 10 ms to the first of 4 tokens, 1 ms apart."""
    with UvicornServer(create_contract_app(DelayTarget(delay_s=0.01, tokens=4, tpot_s=0.001))) as server:
        yield server


@pytest.fixture(scope="module")
def shedding_server() -> Iterator[UvicornServer]:
    """Sheds (429) beyond 2 requests in flight."""
    app = create_contract_app(DelayTarget(delay_s=0.03), max_in_flight=2, retry_after_s=3)
    with UvicornServer(app) as server:
        yield server
