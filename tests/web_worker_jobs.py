"""A job for the web/worker tests (JOB_MODULES=tests.web_worker_jobs): registered paused, so it runs only when
asked; it takes SLOW_JOB_SECONDS (default 4) so a worker can be stopped while it runs."""

from __future__ import annotations

import os
import threading
from typing import Any

from app.core.catalogue import job
from app.core.runner import RunContext


@job("slow_job", trigger="every 60m", paused=True, description="waits, for the web/worker tests")
def slow_job(ctx: RunContext) -> dict[str, Any]:
    ctx.progress(0, "waiting")
    threading.Event().wait(float(os.environ.get("SLOW_JOB_SECONDS", "4")))
    return {"rows": 1}
