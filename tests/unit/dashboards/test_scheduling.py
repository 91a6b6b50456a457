"""TaskList: what a widget schedules is awaited by ``wait()``, also what is scheduled while waiting."""

from __future__ import annotations

import asyncio

from workbench.dashboards.scheduling import TaskList


def test_tasklist_waits_for_everything_scheduled_on_a_running_loop() -> None:
    done: list[str] = []
    tasks = TaskList()

    async def answer(name: str, then: str | None = None) -> None:
        await asyncio.sleep(0.01)
        done.append(name)
        if then:
            tasks.start(answer(then))

    async def main() -> None:
        tasks.start(answer("a", then="c"))
        tasks.start(answer("b"))
        assert len(tasks) == 2 and not done
        await tasks.wait()

    asyncio.run(main())
    assert sorted(done) == ["a", "b", "c"] and len(tasks) == 0


def test_tasklist_without_a_loop_runs_at_once() -> None:
    done: list[int] = []

    async def answer() -> None:
        done.append(1)

    tasks = TaskList()
    tasks.start(answer())
    assert done == [1] and len(tasks) == 0
    asyncio.run(tasks.wait())
