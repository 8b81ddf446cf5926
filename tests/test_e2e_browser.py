"""A real `streamlit run` server driven by chromium (playwright): what AppTest cannot show.

Fragments' timers, pages that refresh themselves, several browser sessions at once, and hibernation when every
tab is closed. Each server gets its own SQLite file and demo source; the tests read that database directly.
Screenshots of every page land in artifacts/ (gitignored) for a human look.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select

from app.core.models import Instance, Run
from tests.browser_support import CHROMIUM_ARGS, VIEWPORT, clean_env, streamlit_process, tail
from tests.conftest import chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
BASE_ENV = {
    "SCHEDULER_POLL_SECONDS": "1",
    "MANUAL_SYNC_COOLDOWN_SECONDS": "0",
    "DEMO_ORDERS_PER_MINUTE": "600",  # every sync finds new rows
}
SECOND = 1000  # playwright timeouts are in milliseconds


# -- the server --------------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    engine: Engine
    process: subprocess.Popen[bytes]
    log: Path

    def runs(self, since: datetime | None = None) -> list[dict[str, Any]]:
        query = select(Run.id, Run.reason, Run.status, Run.started_at, Run.requested_by).order_by(Run.id)
        if since is not None:
            query = query.where(Run.started_at >= since)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def instance_state(self) -> str | None:
        query = select(Instance.state).order_by(Instance.heartbeat_at.desc()).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def log_tail(self) -> str:
        return tail(self.log)


@contextmanager
def streamlit_server(folder: Path, **settings: str) -> Iterator[Server]:
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'fd.db'}"
    env = clean_env({**BASE_ENV, "DATABASE_URL": database_url, "DEMO_SOURCE_PATH": str(folder / "demo.db"), **settings})
    log = folder / "server.log"
    with streamlit_process("streamlit_app.py", env, log) as (process, url):
        server = Server(url, create_engine(database_url), process, log)
        try:
            yield server
        finally:
            server.engine.dispose()


def wait_until(predicate: Callable[[], Any], what: str, timeout: float, server: Server | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    log = f"\nserver log:\n{server.log_tail()}" if server else ""
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}{log}")


# -- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()  # skips locally, fails in CI, when chromium or playwright is missing
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the dashboard, Sync now and navigation tests; no scheduled run gets in their way."""
    # many new orders per second: a manual sync takes long enough for two clicks to meet in it
    with streamlit_server(
        tmp_path_factory.mktemp("e2e"), SYNC_INTERVAL_MINUTES="60", DEMO_ORDERS_PER_MINUTE="60000"
    ) as running:
        yield running


LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/|^(data|blob|about):")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """Pages in fresh browser contexts (one context = one Streamlit session); all closed afterwards.

    Every request any page makes is watched: one that leaves the machine (a font server, an icon CDN) fails
    the test, since dashboards often run where there is no internet."""
    contexts: list[Any] = []
    outside: list[str] = []

    def make() -> Any:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(30 * SECOND)
        context.on("request", lambda request: None if LOOPBACK.match(request.url) else outside.append(request.url))
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert not outside, f"requests that left the machine: {sorted(set(outside))}"


# -- page helpers --------------------------------------------------------------------------------------------


def open_page(page: Any, server: Server, path: str = "") -> None:
    page.goto(f"{server.url}/{path}")
    page.locator("h1").first.wait_for()


def assert_no_exception(page: Any) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.first.inner_text()


def badge(page: Any) -> Any:
    return page.locator('[data-testid="stSidebar"] [data-testid="stAlert"]')


def metric(page: Any, label: str) -> Any:
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


WATCH_TOASTS = """() => {
    window.__toasts = [];
    const seen = () => document.querySelectorAll('[data-testid="stToast"]').forEach(t => {
        const text = t.innerText.trim();
        if (!window.__toasts.includes(text)) window.__toasts.push(text);
    });
    new MutationObserver(seen).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def watch_toasts(page: Any) -> None:
    """Record every toast: they vanish after a few seconds, too fast to catch in several tabs one by one."""
    page.evaluate(WATCH_TOASTS)


def seen_toasts(page: Any) -> str:
    return "\n".join(page.evaluate("() => window.__toasts || []"))


FINISHED = re.compile(r"Sync finished: [\d,]+ rows\.")


def screenshot(page: Any, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to its height first."""
    ARTIFACTS.mkdir(exist_ok=True)
    wait_idle(page)
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], '
        '[data-testid="stMainBlockContainer"]\')].map(e => e.scrollHeight), document.body.scrollHeight)'
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(int(height) + 80, 900), 6000)})
    page.wait_for_timeout(500)  # let charts re-layout at the new size
    wait_idle(page)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    return path


IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app && app.getAttribute('data-test-script-state');  // absent in other Streamlit versions
    return Boolean(app) && (state === null || state === 'notRunning')
        && !document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]');
}"""


def wait_idle(page: Any, timeout: float = 15.0) -> None:
    """Until the script run is over and every element is drawn (twice in a row: a rerun may follow at once)."""
    deadline = time.monotonic() + timeout
    calm = 0
    while calm < 2:
        assert time.monotonic() < deadline, "the page never settled"
        calm = calm + 1 if page.evaluate(IDLE) else 0
        page.wait_for_timeout(250)


def now() -> datetime:
    return datetime.now(timezone.utc)


# -- scenarios -------------------------------------------------------------------------------------------


def test_fresh_start_shows_orders_and_a_live_badge(server: Server, new_page: Callable[[], Any]) -> None:
    page = new_page()
    open_page(page, server)
    assert page.locator("h1").first.inner_text() == "Orders dashboard"
    # the first sync starts with the first page view; the page fills itself in without a reload
    metric(page, "Orders").first.wait_for(timeout=45 * SECOND)
    assert int(metric(page, "Orders").first.inner_text().replace(",", "")) >= 3000
    page.get_by_text(re.compile(r"^Data as of \w{3} \d{1,2} \d\d:\d\d \S+ \(")).wait_for()  # "Dec 1 10:42 UTC-03:00"
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    badge(page).filter(has_text="Auto-sync on · data").wait_for(timeout=15 * SECOND)
    assert_no_exception(page)
    assert [r["status"] for r in server.runs()][:1] == ["success"]
    screenshot(page, "dashboard")


def test_sync_now_shows_progress_and_the_new_run_without_a_reload(server: Server, new_page: Callable[[], Any]) -> None:
    page = new_page()
    open_page(page, server, "Scheduler")
    rate = metric(page, "Success (24 h)")
    wait_until(lambda: "of" in rate.inner_text(), "a first finished run", 45, server)
    runs_before = int(rate.inner_text().rsplit(" ", 1)[1])
    watch_toasts(page)
    clicked_at = now()
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Sync now").click()  # the panel's

    wait_until(lambda: re.search(r"Sync requested\.|following it", seen_toasts(page)), "the request notice", 15)
    wait_until(lambda: FINISHED.search(seen_toasts(page)), "the finished notice", 30, server)
    wait_until(lambda: rate.inner_text().endswith(f"of {runs_before + 1}"), "the new run in the panel", 10)
    assert re.search(r"\d\d:\d\d$", metric(page, "Last run").inner_text())  # the zone is in the label
    assert page.locator('[data-testid="stMain"]').get_by_text("success", exact=True).first.is_visible()
    manual = [r for r in server.runs(since=clicked_at) if r["reason"] == "manual"]
    assert [r["status"] for r in manual] == ["success"]
    assert_no_exception(page)
    screenshot(page, "scheduler_after_sync")


CLICK_SYNC_NOW_AT = """(at) => setTimeout(() => {
    // look the button up when clicking: a rerun in between may have replaced the element
    const main = document.querySelector('[data-testid="stMain"]');  // the panel's button, not the sidebar's
    const button = [...main.querySelectorAll('button')].find(b => b.innerText.includes('Sync now'));
    window.__clickedAt = Date.now();
    button.click();
}, Math.max(0, at - Date.now()))"""


def test_two_sessions_clicking_sync_now_together_get_one_run(server: Server, new_page: Callable[[], Any]) -> None:
    pages = [new_page(), new_page()]  # two browser contexts: two Streamlit sessions
    for page in pages:
        open_page(page, server, "Scheduler")
        wait_until(lambda page=page: "of" in metric(page, "Success (24 h)").inner_text(), "a finished run", 45)
        wait_idle(page)
        watch_toasts(page)
    clicked_at = now()
    fire_at = pages[0].evaluate("() => Date.now()") + 800  # the same wall-clock instant in both tabs
    for page in pages:
        page.evaluate(CLICK_SYNC_NOW_AT, fire_at)

    def report() -> str:
        clicks = [p.evaluate("() => window.__clickedAt") for p in pages]
        return f"fire_at={fire_at} clicked={clicks} toasts={[seen_toasts(p) for p in pages]} runs={server.runs()}"

    # both sessions follow the same run to its end
    deadline = time.monotonic() + 30
    while not all(FINISHED.search(seen_toasts(p)) for p in pages):
        assert time.monotonic() < deadline, f"no finished notice in both tabs: {report()}"
        time.sleep(0.25)
    for page in pages:
        assert_no_exception(page)
    wait_until(lambda: not [r for r in server.runs(since=clicked_at) if r["status"] == "running"], "run end", 10)
    manual = [r for r in server.runs(since=clicked_at) if r["reason"] == "manual"]
    assert len(manual) == 1, report()
    notices = "\n".join(seen_toasts(p) for p in pages)
    assert notices.count("Sync requested.") == 1 and notices.count("following it") == 1, report()


def test_navigation_reaches_every_page(server: Server, new_page: Callable[[], Any]) -> None:
    page = new_page()
    open_page(page, server)
    nav = page.locator('[data-testid="stSidebar"]')  # our own page links (app/ui/components/navigation.py)
    for label, title, shot in (("Scheduler", "Scheduler", "scheduler"), ("Settings", "Settings", "settings")):
        nav.get_by_role("link", name=label).click()
        page.locator("h1", has_text=title).wait_for()
        page.get_by_text(re.compile(r"^Data as of")).first.wait_for()
        badge(page).first.wait_for()
        assert_no_exception(page)
        if shot == "settings":
            assert page.get_by_text("Every setting is valid.").is_visible()
        screenshot(page, shot)
    for label, title, shot in (("Data", "Data", "data"),):
        nav.get_by_role("link", name=label).click()
        page.locator("h1", has_text=title).wait_for()
        page.get_by_text(re.compile(r"^orders: data as of")).first.wait_for()
        badge(page).first.wait_for()
        assert_no_exception(page)
        screenshot(page, shot)
    nav.get_by_role("link", name="Dashboard").click()  # the main page, labelled, not "streamlit app"
    page.locator("h1", has_text="Orders dashboard").wait_for()
    metric(page, "Orders").first.wait_for()
    assert_no_exception(page)


def test_closing_every_tab_lets_the_scheduler_hibernate_and_a_visit_wakes_it(
    browser: Any, tmp_path: Path, new_page: Callable[[], Any]
) -> None:
    interval = timedelta(minutes=0.25)
    with streamlit_server(
        tmp_path / "hibernate", SCHEDULER_IDLE_MINUTES="0.1", SYNC_INTERVAL_MINUTES=str(interval.total_seconds() / 60)
    ) as server:
        page = new_page()
        open_page(page, server)
        metric(page, "Orders").first.wait_for(timeout=45 * SECOND)
        assert server.instance_state() == "running"
        page.context.close()  # the only tab: no session left

        wait_until(lambda: server.instance_state() == "hibernating", "hibernation", 30, server)
        hibernated_at = now()
        last_success = max(r["started_at"] for r in server.runs() if r["status"] == "success")
        # a visit now should catch up: wait (bounded) until the data is older than the interval
        wait_until(lambda: now() - last_success > interval + timedelta(seconds=1), "stale data", 30)
        assert server.instance_state() == "hibernating"
        woke_at = now()
        assert not server.runs(since=hibernated_at), "a run happened while hibernating"

        page = new_page()
        open_page(page, server)
        wait_until(lambda: server.instance_state() == "running", "the scheduler to wake", 15, server)
        catch_up = wait_until(
            lambda: [r for r in server.runs(since=woke_at) if r["status"] == "success"], "a catch-up run", 20, server
        )
        assert len(catch_up) == 1 and catch_up[0]["reason"] != "manual", catch_up
        badge(page).filter(has_text="Auto-sync on").wait_for(timeout=15 * SECOND)
        assert_no_exception(page)


AS_OF_TEXT = """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(e => e.innerText.trim()).find(t => t.startsWith('Data as of')) || null"""


def full_reruns(page: Any) -> list[float]:
    """Times at which the page asked the server for a full rerun (a `rerun_script` BackMsg without a fragment id).

    The caption's age also changes on its own fragment's timer, so the text alone cannot tell a rerun of the whole
    page from a fragment's tick; the websocket frames can.
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg

    times: list[float] = []

    def sent(payload: Any) -> None:
        if not isinstance(payload, bytes | bytearray):
            return
        msg = BackMsg.FromString(bytes(payload))
        if msg.WhichOneof("type") == "rerun_script" and not msg.rerun_script.fragment_id:
            times.append(time.monotonic())

    page.on("websocket", lambda ws: ws.on("framesent", sent))
    return times


def test_without_a_scheduler_here_the_page_refreshes_itself_and_says_so(
    browser: Any, tmp_path: Path, new_page: Callable[[], Any]
) -> None:
    # No timer in this process and data that stays fresh for an hour: once the first view's catch-up is in,
    # only the fallback refresh (0.1 min, doubled on the high-traffic dashboard) can rerun the page.
    with streamlit_server(
        tmp_path / "fallback", SCHEDULER_ENABLED="false", AUTOREFRESH_INTERVAL_MINUTES="0.1", SYNC_INTERVAL_MINUTES="60"
    ) as server:
        page = new_page()
        reruns = full_reruns(page)
        open_page(page, server)
        metric(page, "Orders").first.wait_for(timeout=45 * SECOND)
        page.get_by_text("The scheduler is not running here: this page refreshes itself every 12 s.").wait_for()
        wait_until(lambda: [r["status"] for r in server.runs()] == ["success"], "the catch-up run's end", 30, server)
        wait_idle(page)
        runs = server.runs()
        assert [(r["reason"], r["requested_by"], r["status"]) for r in runs] == [
            ("manual", "auto-refresh dashboard", "success")
        ], runs
        page.evaluate("() => { window.__samePage = true; }")  # a browser reload would forget it

        before = len(reruns)
        seen = [page.evaluate(AS_OF_TEXT)]  # "Data as of 2026-… (14 s ago)": a full rerun redraws the age
        deadline = time.monotonic() + 45
        while len(reruns) < before + 2:
            assert time.monotonic() < deadline, f"the page did not rerun by itself twice: {seen}"
            text = page.evaluate(AS_OF_TEXT)
            if text and text != seen[-1]:
                seen.append(text)
            page.wait_for_timeout(200)
        gap = reruns[before + 1] - reruns[before]
        assert 6 <= gap <= 30, f"full reruns {gap:.1f} s apart (the period is 12 s): {seen}"
        assert len(seen) >= 2, f"the reruns did not redraw the page's age: {seen}"
        assert page.evaluate("() => window.__samePage === true"), "the page was reloaded, not rerun"
        assert server.runs() == runs, "a sync ran: the rerun may have come from new data, not from the fallback"
        metric(page, "Orders").first.wait_for()
        assert_no_exception(page)
        screenshot(page, "dashboard_fallback_refresh")


# -- the analyst's view: every page, both languages, two widths; Sync now from the dashboard's sidebar --------

RAW = re.compile(r"\b(None|NaN|NaT|nan|null|undefined)\b")
PAGES = (("", "dashboard"), ("Data", "data"), ("Scheduler", "scheduler"), ("Settings", "settings"))
WIDTHS = (1280, 390)

CUT = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricLabel"], [data-testid="stMetricDelta"], '
    + '[data-testid="stSidebar"] button, [data-testid="stMain"] button, [data-testid="stPageLink-NavLink"]')]
    .filter(e => e.offsetParent !== null && e.clientWidth > 0 && e.getBoundingClientRect().left >= 0)
    .flatMap(e => [e, ...e.querySelectorAll('*')])
    .filter(e => e.scrollWidth > e.clientWidth && getComputedStyle(e).overflow !== 'visible'
        && getComputedStyle(e).textOverflow === 'ellipsis' || (e.matches('[data-testid="stMetricValue"] *, '
        + '[data-testid="stMetricValue"]') && e.scrollWidth > e.clientWidth))
    .map(e => e.innerText.trim()).filter(Boolean)"""

LABELS = """() => [...document.querySelectorAll(
    'h1, h2, h3, button, label, [data-testid="stMetricLabel"], [data-testid="stCaptionContainer"], '
    + '[data-testid="stAlert"], [data-testid="stMarkdownContainer"] p, [data-testid="stExpander"] summary, '
    + '[data-testid="stPageLink-NavLink"], [data-testid="stToast"], [data-testid="stWidgetLabel"], '
    + 'div[data-baseweb="select"] *')]
    .map(e => e.innerText && e.innerText.trim()).filter(Boolean)"""

# words that read the same in both languages (and names that are not words of the UI)
SAME_IN_BOTH = {"Admin", "Job", "Jobs", "CSV", "Excel", "job", "min", "{minutes} min", "{name}: {trigger}"}


def english_only_labels() -> set[str]:
    """UI strings whose English text differs from the Portuguese one, without placeholders (a label as drawn)."""
    from app.ui.text import STRINGS

    return {
        text
        for key, text in STRINGS["en"].items()
        if "{" not in text and text != STRINGS["pt-BR"][key] and text not in SAME_IN_BOTH and len(text) > 3
    }


def check_page(page: Any, language: str) -> None:
    """No exception box, no raw None/NaN/NaT, nothing cut, and in pt-BR no English label of the table."""
    assert_no_exception(page)
    for area in ('[data-testid="stMain"]', '[data-testid="stSidebar"]'):
        text = page.locator(area).first.inner_text()
        found = RAW.search(text)
        assert not found, f"raw {found.group(0)!r} in {area}: …{text[max(0, found.start() - 80) : found.end() + 80]}…"
    cut = page.evaluate(CUT)
    assert not cut, f"truncated at {page.viewport_size['width']} px: {cut}"
    if language == "pt-BR":
        english = english_only_labels()
        shown = set(page.evaluate(LABELS))
        assert not shown & english, f"English labels in pt-BR: {sorted(shown & english)}"


@pytest.fixture(scope="module", params=["en", "pt-BR"])
def language_server(request: Any, browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    language = request.param
    with streamlit_server(
        tmp_path_factory.mktemp(f"e2e-{language}"),
        UI_LANGUAGE=language,
        SYNC_INTERVAL_MINUTES="60",
        ADMIN_PASSWORD="s3cret-admin",
    ) as running:
        running.language = language  # type: ignore[attr-defined]
        yield running


def shoot(page: Any, name: str, width: int) -> Path:
    """The whole page at `width` (the viewport grown to the content's height, as screenshot() does)."""
    ARTIFACTS.mkdir(exist_ok=True)
    wait_idle(page)
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], '
        '[data-testid="stMainBlockContainer"]\')].map(e => e.scrollHeight), document.body.scrollHeight)'
    )
    page.set_viewport_size({"width": width, "height": min(max(int(height) + 80, 900), 6000)})
    page.wait_for_timeout(300)
    wait_idle(page)
    path = ARTIFACTS / f"{name}_{width}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})
    return path


def test_every_page_in_both_languages_at_1280_and_390_px_is_complete_and_uncut(
    language_server: Server, new_page: Callable[[], Any]
) -> None:
    language = language_server.language  # type: ignore[attr-defined]
    page = new_page()
    open_page(page, language_server)
    metric(page, "Pedidos" if language == "pt-BR" else "Orders").first.wait_for(timeout=45 * SECOND)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path, name in PAGES:
            open_page(page, language_server, path)
            wait_idle(page)
            check_page(page, language)
            shoot(page, f"analyst_{name}_{language}", width)
    # the admin mark and Sign out, after the password
    page.set_viewport_size({"width": 1280, "height": 900})
    open_page(page, language_server, "Scheduler")
    page.get_by_label("Senha de administrador" if language == "pt-BR" else "Admin password").fill("s3cret-admin")
    page.keyboard.press("Enter")
    sidebar = page.locator('[data-testid="stSidebar"]')
    mark = sidebar.get_by_text(re.compile(r"Admin$"))
    mark.first.wait_for()
    sign_out = sidebar.get_by_role("button", name="Sair" if language == "pt-BR" else "Sign out")
    page.get_by_text("Alterar um job" if language == "pt-BR" else "Change a job").click()
    page.locator('[data-testid="stMain"]').get_by_role(
        "button", name="Salvar gatilho" if language == "pt-BR" else "Save trigger"
    ).wait_for()
    check_page(page, language)
    shoot(page, f"analyst_admin_{language}", 1280)
    sign_out.click()
    page.get_by_label("Senha de administrador" if language == "pt-BR" else "Admin password").wait_for()
    assert mark.count() == 0


SNAPSHOT = """() => {
    const text = sel => [...document.querySelectorAll(sel)].map(e => e.innerText.trim());
    const metric = [...document.querySelectorAll('[data-testid="stMetric"]')]
        .find(m => m.innerText.startsWith('Orders'));
    return {
        orders: metric ? metric.querySelector('[data-testid="stMetricValue"]').innerText : null,
        caption: text('[data-testid="stCaptionContainer"]').find(t => t.startsWith('Data as of')) || null,
        badge: text('[data-testid="stSidebar"] [data-testid="stAlert"]').join(' | '),
        progress: text('[data-testid="stSidebar"] [data-testid="stExpander"], [data-testid="stSidebar"] details')
            .join(' | '),
        same: window.__samePage === true,
    };
}"""
AGE = re.compile(r"\((\d+) s ago\)|data (\d+) s old")


def test_sync_now_in_the_dashboard_sidebar_moves_caption_badge_and_data_together(
    server: Server, new_page: Callable[[], Any]
) -> None:
    page = new_page()
    open_page(page, server)
    metric(page, "Orders").first.wait_for(timeout=45 * SECOND)
    wait_until(lambda: not [r for r in server.runs() if r["status"] == "running"], "no run in progress", 30, server)
    wait_idle(page)
    page.wait_for_timeout(3000)  # let the data age a little: the sync's effect on the ages must show
    page.evaluate("() => { window.__samePage = true; }")  # a browser reload would forget it
    before = page.evaluate(SNAPSHOT)
    clicked_at = now()
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sync now").click()
    seen: list[dict[str, Any]] = []

    def moved() -> dict[str, Any] | None:
        shot = page.evaluate(SNAPSHOT)
        seen.append(shot)
        return shot if shot["orders"] not in {None, before["orders"]} and "Syncing" not in shot["badge"] else None

    wait_until(moved, "new orders on the page", 45, server)
    wait_idle(page)
    after = page.evaluate(SNAPSHOT)
    assert after["same"], "the page was reloaded"
    manual = [r for r in server.runs(since=clicked_at) if r["reason"] == "manual"]
    assert [r["status"] for r in manual] == ["success"], manual
    # while the run went on, the spinner box alone said so (no badge repeating it), never a ✓ nor "0 rows"
    during = [s for s in seen if "Syncing" in s["progress"]]
    assert during and all("0 rows" not in s["progress"] and "✓" not in s["progress"] for s in during), seen
    assert not [s for s in during if "Syncing" in s["badge"]], during
    # after: the caption and the badge both show the new, young data, the same age within a beat
    assert int(after["orders"].replace(",", "")) > int(before["orders"].replace(",", ""))
    ages = [int(next(g for g in m.groups() if g)) for m in AGE.finditer(after["caption"] + " " + after["badge"])]
    assert len(ages) == 2 and max(ages) <= 15 and abs(ages[0] - ages[1]) <= 10, (before, after)
    assert after["caption"] != before["caption"], (before, after)
    assert_no_exception(page)
    shoot(page, "dashboard_after_sidebar_sync", 1280)
