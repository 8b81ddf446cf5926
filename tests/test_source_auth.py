"""A wrong source password is reported with the driver's own cause, in the run's error, the UI and the CLI.

The local PostgreSQL trusts every connection from 127.0.0.1, so PostgreSQL authentication is tested against a
scratch cluster (initdb, scram-sha-256 on TCP) started for this module; MariaDB gets a user with a password.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from app.config import PARSERS
from tests.browser_support import free_port
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[1]
RIGHT, WRONG = "Right-pw-4711", "Wr0ng-pw-0815"
CAUSES = {
    "mariadb": "Access denied for user",
    "postgresql": "password authentication failed for user",
}


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found or shutil.which("runuser") is None or os.geteuid() != 0:
        missing("a scratch PostgreSQL cluster needs initdb and root (to run it as the postgres user)")
    return found[-1].parent


@pytest.fixture(scope="module")
def pg_password_url() -> Iterator[str]:
    """Superuser URL (with its password) of a scratch cluster that asks every TCP client for a password."""
    bin_dir = _pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="fd_pg_", dir="/tmp"))
    folder.chmod(0o755)
    admin_pw = uuid.uuid4().hex
    (folder / "pw").write_text(admin_pw)
    shutil.chown(folder, "postgres")
    shutil.chown(folder / "pw", "postgres")
    port = free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=60)

    try:
        as_postgres(str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-E", "UTF8",
                    "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={folder / 'pw'}")  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-t", "30",
                    "-o", options, "start")  # fmt: skip
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        missing(f"scratch PostgreSQL cluster did not start: {exc.stderr!r}")
    try:
        yield f"postgresql+psycopg://postgres:{admin_pw}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D", str(folder / "data"),
                        "-m", "immediate", "stop"], capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def _source_with_user(admin_url: str, kind: str) -> tuple[str, str]:
    """A table `orders` and a user who may read it with RIGHT; returns (URL with WRONG, cleanup SQL)."""
    user = f"fd_u_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    database = make_url(admin_url).database
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS orders (id INT PRIMARY KEY, updated_at TIMESTAMP)"))
        if kind == "mariadb":
            conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{RIGHT}'"))
            conn.execute(text(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'"))
            cleanup = f"DROP USER '{user}'@'%'"
        else:
            conn.execute(text(f"CREATE ROLE {user} LOGIN PASSWORD '{RIGHT}'"))
            conn.execute(text(f"GRANT SELECT ON orders TO {user}"))
            cleanup = f"DROP OWNED BY {user}; DROP ROLE {user}"
    engine.dispose()
    url = make_url(admin_url).set(username=user, password=WRONG).render_as_string(hide_password=False)
    right = make_url(url).set(password=RIGHT)
    probe = create_engine(right)  # the right password works: only the password is wrong
    with probe.connect() as conn:
        conn.execute(text("SELECT COUNT(*) FROM orders"))
    probe.dispose()
    return url, cleanup


@pytest.fixture(params=["mariadb", "postgresql"])
def wrong_password_source(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    kind = str(request.param)
    admin_url = str(request.getfixturevalue("mariadb_url" if kind == "mariadb" else "pg_password_url"))
    url, cleanup = _source_with_user(admin_url, kind)
    yield kind, url
    from app.core.database import dispose_engines

    dispose_engines()
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in cleanup.split("; "):
            conn.execute(text(statement))
    engine.dispose()


def test_a_wrong_source_password_names_the_drivers_cause_in_run_ui_and_cli(
    wrong_password_source: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, url = wrong_password_source
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fd.db'}",
        "SYNC_SOURCE": "sql",
        "SOURCE_URL": url,
        "SOURCE_TABLE": "orders",
        "SCHEDULER_ENABLED": "false",
        "RUN_MAX_RETRIES": "0",
    }
    env = {k: v for k, v in os.environ.items() if k not in PARSERS} | settings
    ran = subprocess.run([sys.executable, "-m", "app", "run", "--wait"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "error: SourceError: cannot reach the source" in ran.stdout and CAUSES[kind] in ran.stdout
    assert "(authentication); check the user and password in SOURCE_URL" in ran.stdout
    assert "check DATABASE_URL" not in ran.stdout + ran.stderr  # the store is fine: do not point at it
    assert WRONG not in ran.stdout + ran.stderr

    history = subprocess.run([sys.executable, "-m", "app", "history", "--json"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    [failed] = json.loads(history.stdout)
    assert failed["status"] == "failed" and CAUSES[kind] in failed["error"]  # the run's own record
    assert "check the user and password in SOURCE_URL" in failed["error"] and WRONG not in history.stdout

    for key in PARSERS:
        monkeypatch.delenv(key, raising=False)
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(ROOT / "pages" / "1_Scheduler.py"), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [str(e.value) for e in at.main.error]
    assert any(CAUSES[kind] in e and "check the user and password in SOURCE_URL" in e for e in errors), errors
    assert all(WRONG not in e for e in errors)
