"""Schemathesis over the app's own OpenAPI description, against a real server with its own data
folder (the run creates, edits and deletes things): no request it generates may get a 5xx.

The suite's budget is small (a few examples per operation, under three minutes on a shared
2-core machine); ``make fuzz`` runs the same test with a larger one through
MEDROOM_FUZZ_EXAMPLES and MEDROOM_FUZZ_SECONDS.

Nothing is excluded: the API has no operation whose side effects stop the run (logging out is
a page form outside the OpenAPI description, and the admin bearer token the run uses cannot be
revoked by any operation in it). A new operation that does must be excluded here with
``--exclude-path``, saying why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, Server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = int(os.environ.get("MEDROOM_FUZZ_EXAMPLES", "5"))
SECONDS = int(os.environ.get("MEDROOM_FUZZ_SECONDS", "60"))


def test_no_generated_request_gets_a_server_error(server: Server, tmp_path: Path) -> None:
    env = {**os.environ,
           # WHEP/WHIP offers are application/sdp: sent as text (tests/web/fuzz_hooks.py).
           "SCHEMATHESIS_HOOKS": "tests.web.fuzz_hooks", "NO_COLOR": "1"}
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{server.url}/openapi.json",
         "--header", f"Authorization: Bearer {server.token('admin')}",
         "--checks", "not_a_server_error", "--max-examples", str(EXAMPLES),
         "--max-time", str(SECONDS), "--workers", "2", "--continue-on-failure",
         "--generation-database", "none", "--no-color",
         # A loaded 2-core CI machine can take seconds for one request: a slow answer is not
         # a server error (a 5xx or a dropped connection still is).
         "--request-timeout", "60",
         "--report", "junit", "--report-dir", str(tmp_path)],
        check=False, cwd=REPO, env=env, capture_output=True, text=True,
        timeout=SECONDS + 240,
    )
    generated = re.search(r"(\d+) generated", run.stdout)
    print(f"schemathesis: {generated.group(0) if generated else 'no count'} "
          f"({EXAMPLES} examples per operation, {SECONDS} s budget)")
    # What went wrong, from the first section that says so (failures, or runtime errors).
    marks = [run.stdout.find(m) for m in ("FAILURES", "ERRORS") if m in run.stdout]
    failures = run.stdout[min(marks):] if marks else ""
    server_log = server.log.read_text(errors="replace")[-4000:] if failures else ""
    assert run.returncode == 0, (failures or run.stdout[-4000:] + run.stderr[-2000:]) + server_log
    assert generated and int(generated.group(1)) > 100  # it really ran
