"""The façade covers every operator action: pages, UI components and the CLI call `SyncScheduler` methods and
never reach into the stores behind it (STYLE.md "A façade that covers every action")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.core.scheduler import SyncScheduler

ROOT = Path(__file__).resolve().parents[1]
BEHIND_THE_FACADE = {"store", "status_reader", "instances", "engine", "agenda", "alerter", "runner", "last_outcomes"}
CALLERS = sorted(
    [
        *(ROOT / "app" / "ui").rglob("*.py"),
        *(ROOT / "pages").glob("*.py"),
        ROOT / "streamlit_app.py",
        *(ROOT / "app" / "cli").glob("*.py"),
    ]
)


def reaches_behind(source: str) -> list[tuple[int, str]]:
    """(line, attribute) of every `x.store`, `x.engine` ... in a module's code."""
    return [
        (node.lineno, node.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in BEHIND_THE_FACADE
    ]


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_components_and_cli_call_only_the_scheduler_facade(path: Path) -> None:
    found = reaches_behind(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} reaches behind the façade: " + ", ".join(
        f"line {line}: .{attr}" for line, attr in found
    )


def test_the_check_sees_a_reach_into_the_store() -> None:
    assert reaches_behind("scheduler.store.list_jobs()\nx = s.status_reader.run(1)\n") == [
        (1, "store"),
        (2, "status_reader"),
    ]
    assert reaches_behind("scheduler.list_jobs()\nscheduler.get_run(1)\n") == []


def test_last_outcomes_is_gone() -> None:
    assert not hasattr(SyncScheduler, "last_outcomes")
    assert "last_outcomes" not in (ROOT / "app" / "core" / "scheduler.py").read_text(encoding="utf-8")


# -- the timer is the only module that knows APScheduler (issue 13, item 2) ----------------------------------

TIMER = ROOT / "app" / "core" / "timer.py"
APP_MODULES = sorted([*(ROOT / "app").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "streamlit_app.py"])


def imports_apscheduler(source: str) -> list[int]:
    """Lines of `import apscheduler...` / `from apscheduler... import ...` in a module's code."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(name == "apscheduler" or name.startswith("apscheduler.") for name in names):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", [p for p in APP_MODULES if p != TIMER], ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_timer_imports_apscheduler(path: Path) -> None:
    found = imports_apscheduler(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} imports APScheduler (lines {found}); only app/core/timer.py may"


def test_the_check_sees_an_apscheduler_import() -> None:
    assert imports_apscheduler(TIMER.read_text(encoding="utf-8")), "the timer itself imports APScheduler"
    source = "import apscheduler\nfrom apscheduler.triggers.interval import IntervalTrigger\nimport apschedulerx\n"
    assert imports_apscheduler(source) == [1, 2]


# -- nothing a page draws on every beat sleeps (issue 14 item 2) ---------------------------------------------
# `st.status()` sleeps 50 ms on every call (so that an update() right after reaches the browser). Drawn in the
# badge and the progress area on every beat of a run, it was most of what a page cost while a sync ran
# (bench/pages_during_sync.py: the badge went from 10 to 66 ms). `running_box` draws the same spinner box.
SLEEPING_ELEMENTS = {"status"}


def sleeping_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every `st.status(...)` (or `something.status(...)` on a container) in a module."""
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SLEEPING_ELEMENTS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"st", "box", "left", "right", "col", "container"}
    ]


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_draws_an_element_that_sleeps(path: Path) -> None:
    found = sleeping_calls(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} draws st.status (it sleeps 50 ms per call; use running_box): {found}"


def test_the_check_sees_st_status() -> None:
    assert sleeping_calls('st.status("Syncing", state="running")\nscheduler.status()\n') == [(1, "status")]


def test_running_box_draws_a_spinner_box() -> None:
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        from app.ui.components.scheduler_status import running_box

        running_box("Syncing · 5,000 rows").write("batch 1")

    at = AppTest.from_function(page).run()
    assert not at.exception
    [box] = at.expander
    assert (box.label, box.proto.icon, box.proto.expanded) == ("Syncing · 5,000 rows", "spinner", False)
