"""Running generation tasks, so that the stop routes can really halt them."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(eq=False)
class Task:
    """One running generation (chat, completion or workflow run)."""

    id: str
    app_id: str
    user: str
    stopped: bool = False
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        """Ask the generation to stop at its next step."""
        self.stopped = True
        self._event.set()

    async def pause(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (waking early on stop); ``True`` when stopped."""
        if self.stopped:
            return True
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), seconds)
        else:
            await asyncio.sleep(0)
        return self.stopped


class TaskRegistry:
    """Tasks by id; used only from the server's event loop."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def start(self, task_id: str, app_id: str, user: str) -> Task:
        """Register a new running task."""
        task = Task(task_id, app_id, user)
        self._tasks[task_id] = task
        return task

    def finish(self, task: Task) -> None:
        """Forget a finished task."""
        self._tasks.pop(task.id, None)

    def stop(self, task_id: str, app_id: str, user: str | None = None) -> bool:
        """Stop a running task of ``app_id`` (of ``user`` when given); ``True`` if one was."""
        task = self._tasks.get(task_id)
        if task is None or task.app_id != app_id or (user is not None and task.user != user):
            return False
        task.stop()
        return True

    def stop_all(self) -> None:
        """Stop every running task (server shutdown)."""
        for task in list(self._tasks.values()):
            task.stop()
