"""``medroom bench fanout``, ``latency``, ``churn``, ``idle`` and ``player``: figures and
ratios, one JSON line.

The modules: ``protocol`` (limits and signalling lines shared by every process), ``server`` (the
process that sends), ``probe`` (lean viewers that count frames), ``processes`` (one measurement:
spawn, read CPU, stop), ``fanout`` and ``latency`` (the two benchmarks and their reports),
``links`` (a viewer across a shaped link between network namespaces, ``netns``), ``churn``
(join/leave leak check against a real ``medroom serve``), ``idle`` (that server's CPU idle,
live, and live with one viewer), ``chat`` (a live classroom's chat to a websocket swarm),
``player`` (first frame of a published lesson in headless Chromium), ``checkin`` (a hall of
phones checking in within one 30 s window).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from web.bench.churn import run_churn, run_churn_bench
from web.bench.fanout import format_table, run_fanout
from web.bench.idle import run_idle, run_idle_bench
from web.bench.latency import run_latency, run_latency_bench
from web.bench.processes import run_and_print
from web.bench.protocol import BenchError, viewer_split

__all__ = [
    "BenchError", "run_bench", "run_churn", "run_fanout", "run_idle", "run_latency",
    "viewer_split",
]


def run_bench(args: argparse.Namespace) -> int:
    if args.bench == "latency":
        return run_latency_bench(args)
    if args.bench == "links":
        from web.bench.links import run_links_bench

        return run_links_bench(args)
    if args.bench == "churn":
        return run_churn_bench(args)
    if args.bench == "checkin":
        from web.bench.checkin import run_checkin_bench

        return run_checkin_bench(args)
    if args.bench == "idle":
        return run_idle_bench(args)
    if args.bench == "chat":
        from web.bench.chat import run_chat_bench

        return run_chat_bench(args)
    if args.bench == "player":
        from web.bench.player import run_from_args  # needs Playwright (test extras)

        return run_from_args(args)
    if args.bench != "fanout":
        print(f"medroom bench: unknown benchmark {args.bench!r}", file=sys.stderr)
        return 2
    viewers = [int(n) for n in args.viewers]
    seconds = float(args.seconds)
    if any(n < 0 for n in viewers) or not any(n > 0 for n in viewers):
        print("medroom bench fanout: --viewers needs positive counts", file=sys.stderr)
        return 2
    if not 1 <= seconds <= 600:
        print("medroom bench fanout: --seconds must be between 1 and 600", file=sys.stderr)
        return 2
    return run_and_print(
        "fanout", partial(run_fanout, viewers, seconds, bool(args.baseline)), format_table
    )
