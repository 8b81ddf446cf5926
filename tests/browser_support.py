"""What the browser tests and the UI benchmarks share: Chromium's flags here, the viewport, a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine refuses outside connections: don't try them
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any Freshdash key of the developer's shell, plus `settings`."""
    from app.config import PARSERS

    env = {key: value for key, value in os.environ.items() if key not in PARSERS}
    env.update(settings)
    return env


@contextmanager
def streamlit_process(
    script: str, env: dict[str, str], log: Path, timeout: float = 30.0, extra_args: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`streamlit run script` on 127.0.0.1 from the repository root, healthy, then stopped at exit.

    No hot reload: other people edit the tree while it runs. Raises RuntimeError (with the server log)
    when the server exits or never answers its health check.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *extra_args,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(process, url, log, timeout)
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        threading.Event().wait(0.2)
    raise RuntimeError(f"streamlit not healthy after {timeout:g} s:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]
