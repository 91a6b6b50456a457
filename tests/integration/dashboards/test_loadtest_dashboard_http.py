"""The load-test dashboard over real HTTP: the HttpSender's pool is made on the runner's own loop, not the caller's."""

from __future__ import annotations

import asyncio

from workbench.dashboards import LoadTestDashboard
from workbench.loadtest import DelayTarget, Workload, WorkloadSpec
from workbench.loadtest.contract_app import create_contract_app
from workbench.loadtest.http import HttpSender
from workbench.testing import UvicornServer


class LoopNotingSender(HttpSender):
    """The real sender, noting the loops its connection pools were opened on."""

    loops: set[int]

    def _get_client(self):  # type: ignore[no-untyped-def]
        self.loops = getattr(self, "loops", set()) | {id(asyncio.get_running_loop())}
        return super()._get_client()


async def test_dashboard_drives_a_real_server_from_its_own_loop() -> None:
    with UvicornServer(create_contract_app(DelayTarget(delay_s=0.005))) as server:
        sender = LoopNotingSender(server.url)
        dash = LoadTestDashboard(sender, Workload(WorkloadSpec(seed=2)), rate=30, duration_s=1.0, refresh_s=0.2,
                                 chart=False, warm_requests=4)
        result = await dash.run()
    s = result.summary()
    assert s["errors"] == 0 and s["ok"] == len(result) == result.meta["scheduled_requests"] > 10
    assert result.meta["warm_up"]["requests"] == 4 and result.meta["warm_up"]["errors"] == 0
    assert len(sender.loops) == 1 and id(asyncio.get_running_loop()) not in sender.loops  # one loop: the runner's
    assert sender._client is None            # the runner closed the pool it opened there
