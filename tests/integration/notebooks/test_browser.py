"""A real browser runs the chat, load-test and evaluation notebooks in JupyterLab and uses each widget after Run All.

Headless Chromium (Debian's ``chromium`` package) driven by Playwright (``pip install playwright``; its
bundled browsers are not used) opens JupyterLab on 127.0.0.1, runs every cell of ``02_chat.ipynb``
(a copy, so autosave never touches the committed file; its Cleanup cell only shows a Close button, so
the target stays open after Run All), waits for the widget to show "RMB 600", then
types a second question into the widget's box, presses Enter and sees the widget answer it. 03 and 05 run
the same way at a laptop-sized viewport (1280 x 800): the load-test dashboard runs a second test from its
own *Start* button, the evaluation dashboard narrows its questions to those where the configurations
disagree; each widget must fit the notebook's width (nothing scrolls sideways). Screenshots go to the
test's ``tmp_path`` (pytest keeps the last runs' folders), never into the repository.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
#: Small, quick parameters appended to each copied notebook's parameters cell.
NOTEBOOK_PARAMS = {
    "02_chat": 'other = "fast"  # the side-by-side pair without loading a second model',
    "03_load_test": "rate = 10.0\nduration_s = 2.0",
    "05_evaluate": "limit = 6",
}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on 127.0.0.1 at a free port with a token, serving a copy of the chat notebook."""
    folder = tmp_path / "nb"
    folder.mkdir()
    for name, extra in NOTEBOOK_PARAMS.items():  # every cell: Run All's Cleanup only shows a Close button
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.source += "\n" + extra
        nbformat.write(nb, folder / f"{name}.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    cmd = [str(jupyter), "lab", "--notebook-dir", str(folder), "--ip", "127.0.0.1", f"--port={port}", "--no-browser",
           f"--IdentityProvider.token={token}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
           "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def test_chat_notebook_renders_an_answer_in_a_real_browser(lab: tuple[str, str], tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed (pip install playwright)")
    base, token = lab
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            _run_all(sync_api, page, base, token, "02_chat")
            answer = page.locator(".wb-chat .wb-answer")
            answer.first.wait_for(timeout=60_000)
            # the notebook asks two questions: the first answer ("RMB 600") is then in the widget's conversation
            page.wait_for_function(
                "() => [...document.querySelectorAll('.wb-chat')].some(e => e.textContent.includes('A: RMB 600'))",
                timeout=120_000)
            widget = page.locator(".wb-chat").first
            assert "RMB 600" in (widget.text_content() or "")
            assert (answer.first.inner_text() or "").strip(), "the widget shows the latest answer"
            assert "cache" in widget.inner_text() and "Sources" in widget.inner_text()
            page.locator(".wb-chat").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "chat-widget.png"), full_page=True)
            # a question typed into the widget's own box, answered by the kernel through the widget's callback
            box = page.locator(".wb-chat input[type='text']").first
            box.fill("what is the daily limit for cash at an atm")
            box.press("Enter")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.wb-chat')].some("
                "e => e.textContent.includes('Q: what is the daily limit for cash at an atm'))", timeout=60_000)
            page.screenshot(path=str(shots / "chat-widget-typed.png"), full_page=True)
        except Exception as exc:
            page.screenshot(path=str(shots / "chat-widget-failure.png"), full_page=True)
            exc.add_note(f"screenshot: {shots / 'chat-widget-failure.png'}")
            raise
        finally:
            browser.close()
    assert (shots / "chat-widget.png").stat().st_size > 10_000


def _run_all(sync_api, page, base: str, token: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """Open ``name`` in JupyterLab, pick its kernel if asked, and Run All Cells."""
    page.goto(f"{base}/lab/tree/{name}.ipynb?token={token}")
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:
        select.first.wait_for(timeout=10_000)
        select.first.click()
    except sync_api.TimeoutError:
        pass
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible, "
                 ".jp-Toolbar-kernelStatus:has-text('Idle'):visible").first.wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _fits(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    """True when no element matching ``selector`` is wider than its box (nothing scrolls sideways)."""
    return bool(page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].every(e => e.scrollWidth <= e.clientWidth + 2)", selector))


def test_loadtest_and_eval_dashboards_work_after_run_all(lab: tuple[str, str], tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed (pip install playwright)")
    base, token = lab
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            _run_all(sync_api, page, base, token, "03_load_test")
            status = page.locator(".wb-loadtest .widget-html", has_text="done").first
            status.wait_for(timeout=120_000)
            page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')].some("
                                   "e => e.textContent.includes('throughput_rps'))", timeout=120_000)
            page.locator(".wb-loadtest button", has_text="Start").first.click()   # a second run, from the widget
            page.locator(".wb-loadtest .widget-html", has_text="running").first.wait_for(timeout=30_000)
            page.locator(".wb-loadtest .widget-html", has_text="done").first.wait_for(timeout=60_000)
            page.locator(".wb-loadtest").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "loadtest-dashboard.png"))
            assert _fits(page, ".wb-loadtest")
            page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Shut Down Kernel").first.click()

            _run_all(sync_api, page, base, token, "05_evaluate")
            dash = page.locator(".wb-eval").first
            dash.wait_for(timeout=180_000)
            dash.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "eval-dashboard.png"))
            assert _fits(page, ".wb-eval")
            dash.locator(".lm-TabBar-tab", has_text="Per question").first.click()
            show = dash.locator(".widget-dropdown", has_text="Show").locator("select").first
            show.select_option(label="any config wrong")
            page.wait_for_function("() => [...document.querySelectorAll('.wb-eval')].some("
                                   "e => e.textContent.includes('any config wrong;'))", timeout=30_000)
            page.screenshot(path=str(shots / "eval-dashboard-wrong.png"))
            assert "✗" in (dash.inner_text() or "") or "no question matches" in (dash.inner_text() or "")
        except Exception as exc:
            page.screenshot(path=str(shots / "dashboards-failure.png"), full_page=True)
            exc.add_note(f"screenshot: {shots / 'dashboards-failure.png'}")
            raise
        finally:
            browser.close()
