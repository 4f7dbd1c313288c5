"""No leak: viewers joining and leaving through WHEP leave no task, thread, file or memory behind.

The same code as ``medroom bench churn`` (a real ``medroom serve``, aiortc viewers, one in three
leaving without DELETE, one in ten never connecting), with 150 cycles instead of 1000.
"""

from __future__ import annotations

from web.bench.churn import (
    GHOST_CONNECT_TIMEOUT,
    GHOST_EVERY,
    RSS_TOLERANCE_BYTES,
    TASK_TOLERANCE,
    WARMUP_CYCLES,
    format_churn,
    run_churn,
)


def test_150_join_leave_cycles_return_tasks_and_memory_to_baseline() -> None:
    report = run_churn(150)
    print(format_churn(report))
    tasks_before, _, tasks_after = report["tasks"]
    assert tasks_after <= tasks_before + TASK_TOLERANCE, report["task_kinds"]
    for kind in ("threads", "open_files"):  # nothing more in the second half of the cycles
        _, middle, final = report[kind]
        assert final <= middle + TASK_TOLERANCE, report
    rss_before, _, rss_after = report["rss_mb"]
    assert (rss_after - rss_before) * 2**20 <= RSS_TOLERANCE_BYTES, report
    # The clients that offered and never connected: each let go by the server itself, not at
    # once, and never long after the connect timeout (their leftovers would show above). ICE
    # may give up on a silent client a little before the timer does: also a release.
    assert report["ghosts"] == (WARMUP_CYCLES + 150) // GHOST_EVERY, report
    first = report["ghost_release_s"][0]
    assert GHOST_CONNECT_TIMEOUT / 2 <= first and report["ghosts_released_in_time"], report
    assert report["leak_free"]
