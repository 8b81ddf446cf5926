"""A job for crash tests, registered through JOB_MODULES=tests.crash_jobs.

`hang_once` hangs in its first execution ever (the process running it is then killed) and succeeds after;
FRESHDASH_CRASH_MARKER names the file that records the first execution.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from app.core.catalogue import job
from app.core.runner import RunContext


@job("hang_once", trigger="daily 03:00", description="hangs once, for crash tests")
def hang_once(ctx: RunContext) -> dict[str, Any]:
    marker = Path(os.environ["FRESHDASH_CRASH_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        print("HANGING", flush=True)  # noqa: T201 - the test waits for this line before it kills the process
        threading.Event().wait(120)
    return {"rows": 1}
