"""``GET /api/diagnostics``: what the server process holds now (tasks, threads, memory, peers).

For operators and for ``medroom bench churn``, which checks that a thousand viewers joining and
leaving leave nothing behind. Admins only: it describes the machine, not a room.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from library.users import Role
from web.auth import Principal, require_roles
from web.deps import LiveDep

router = APIRouter(prefix="/api", tags=["diagnostics"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


class DiagnosticsOut(BaseModel):
    asyncio_tasks: int = Field(description="Tasks alive on the server's event loop")
    threads: int
    rss_bytes: int | None = Field(description="Resident memory (Linux /proc); None elsewhere")
    open_files: int | None
    task_kinds: dict[str, int] = Field(description="Alive tasks by coroutine name")
    viewers: int
    encoders: list[str] = Field(description="Outputs being encoded now")


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _open_files() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


@router.get("/diagnostics", response_model=DiagnosticsOut, summary="Server process figures")
async def diagnostics(live: LiveDep, principal: Admin) -> DiagnosticsOut:
    tasks = asyncio.all_tasks()
    kinds = Counter(getattr(t.get_coro(), "__qualname__", "?") for t in tasks)
    return DiagnosticsOut(
        asyncio_tasks=len(tasks), task_kinds=dict(kinds.most_common()), threads=threading.active_count(),
        rss_bytes=_rss_bytes(), open_files=_open_files(),
        viewers=len(live.streaming.viewers.all()),
        encoders=sorted(str(key) for key in live.streaming.running_outputs()),
    )
