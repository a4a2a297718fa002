"""Headless Chromium (Debian's package) driven over the Chrome DevTools Protocol, for tests
that use a page as a person would: type, press buttons with the mouse, take a screenshot.

`make test` installs chromium when it is missing. The protocol is spoken over a websocket
(websocket-client); nothing else is needed, and nothing is downloaded.
"""
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import requests
import websocket

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1280,900"]
TIMEOUT_S = 30


class BrowserError(AssertionError):
    """Raised when the page does not do what the test expects."""


class Browser:
    """One headless Chromium with one tab, in a fresh profile, stopped by close()."""

    def __init__(self, log_path: str) -> None:
        if not os.path.exists(CHROMIUM):
            raise BrowserError(f"{CHROMIUM} is missing: `make test` installs it, or run "
                               "apt-get install chromium")
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                                      "about:blank"], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        try:
            self.ws = websocket.create_connection(self._page_socket(), timeout=TIMEOUT_S,
                                                  suppress_origin=True)
            self.call("Page.enable")
        except Exception:
            self.close()
            raise

    def _page_socket(self) -> str:
        """The tab's DevTools websocket, once Chromium has written its port."""
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}")
            if os.path.exists(port_file) and open(port_file).read().strip():
                port = open(port_file).read().split()[0]
                pages = [t for t in requests.get(f"http://127.0.0.1:{port}/json/list",
                                                 timeout=5).json() if t["type"] == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise BrowserError("chromium did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        """Send one DevTools command and return its result (events seen meanwhile are kept)."""
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == ident:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, event: str) -> dict:
        """The next `event` (one already received counts), waiting up to TIMEOUT_S."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            for i, seen in enumerate(self.events):
                if seen["method"] == event:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise BrowserError(f"no {event} within {TIMEOUT_S} s")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def status(self) -> int:
        """The HTTP status of the page now shown."""
        return self.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")

    def load_time_ms(self) -> float:
        """From the start of this page's navigation to the end of its load event."""
        return self.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")

    def click(self, selector: str, *, navigates: bool = True) -> None:
        """Press the element's middle with the mouse, as a person would."""
        found = f"document.querySelector({json.dumps(selector)})"
        box = self.evaluate(f"""(() => {{ const el = {found};
            if (!el) return null; el.scrollIntoView({{block: 'center'}});
            const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];
            }})()""")
        if box is None:
            raise BrowserError(f"no element matches {selector!r}")
        self.events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)
        if navigates:
            self.wait_for("Page.loadEventFired")

    def type_into(self, selector: str, text: str) -> None:
        self.click(selector, navigates=False)
        self.call("Input.insertText", text=text)

    def cookies(self) -> list[dict]:
        return self.call("Network.getCookies")["cookies"]

    def screenshot(self, path: str, *, width: int = 1280) -> None:
        """The whole page, however long, as a PNG."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
