"""Entry point of `python -m app` (see app/cli/)."""

import logging

from app.cli import main

# ISO 8601 with the offset: `status` shows SCHEDULER_TIMEZONE's times, a log line this host's clock
logging.basicConfig(
    level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
)
main(prog_name="python -m app")
