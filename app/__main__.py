"""Entry point of `python -m app` (see app/cli/)."""

import logging

from app.cli import main

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
main(prog_name="python -m app")
