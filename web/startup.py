"""Starting the server's parts so that a failure says which part failed and stops the rest.

Used under one ``AsyncExitStack`` by the app's lifespan (as Starlette's lifespan knows whether
start-up finished): each part that started is stopped in reverse order, whether the server
shuts down or a later part fails to start.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A part of the server could not start; the parts started before it were stopped."""

    def __init__(self, part: str, cause: BaseException) -> None:
        super().__init__(f"MedRoom could not start: {part} failed to start: {cause}")
        self.part = part


@asynccontextmanager
async def running(
    part: str, start: Callable[[], Awaitable[None] | None], stop: Callable[[], Awaitable[None]]
) -> AsyncIterator[None]:
    """Run ``part`` from ``start`` to ``stop``. A ``start`` that fails half-way is followed by
    ``stop`` too (each owner's ``stop`` releases whatever its ``start`` got to)."""
    try:
        started = start()
        if inspect.isawaitable(started):
            await started
    except Exception as exc:
        logger.error("%s failed to start: %s", part, exc)
        try:
            await stop()
        except Exception:
            logger.exception("%s did not stop cleanly after its failed start", part)
        raise StartupError(part, exc) from exc
    logger.info("%s started", part)
    try:
        yield
    finally:
        await stop()
