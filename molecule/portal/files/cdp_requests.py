#!/usr/bin/python3
"""Load pages in headless Chromium, record every network request, save a screenshot of each.

usage: chaton-test-cdp-requests <screenshot dir> <url>...
Prints one JSON object: {url: {"requests": [...], "lang": ..., "title": ..., "skip_link_focused": ...,
"screenshot": path}}. Drives the real browser over the Chrome DevTools Protocol.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

PORT = 9223


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, suppress_origin=True, timeout=30)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def drain(self, seconds):
        """Collect events for a while (late requests: fonts, images, prefetches)."""
        self.ws.settimeout(0.2)
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if "method" in msg:
                self.events.append(msg)
        self.ws.settimeout(30)

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


def start_browser(profile):
    return subprocess.Popen(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            # The TLS chain is checked by the curl tests and chaton audit; the browser checks what pages load.
            "--ignore-certificate-errors",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={PORT}",
            "--remote-allow-origins=*",
            "--window-size=1280,1000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def page_socket():
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json/list", timeout=2) as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("Chromium did not open its DevTools endpoint")


def visit(page, url, shots):
    page.events.clear()
    page.call("Page.navigate", url=url)
    deadline = time.time() + 30
    while time.time() < deadline and not any(e["method"] == "Page.loadEventFired" for e in page.events):
        page.drain(0.3)
    page.drain(1.5)
    requests = [e["params"]["request"]["url"] for e in page.events if e["method"] == "Network.requestWillBeSent"]
    failed = [e["params"].get("errorText", "") for e in page.events if e["method"] == "Network.loadingFailed"]
    statuses = [e["params"]["response"]["status"] for e in page.events if e["method"] == "Network.responseReceived"]
    # Keyboard: the first Tab lands on the skip link (or the first link of the page).
    for kind in ("keyDown", "keyUp"):
        page.call("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)
    focused = page.js("document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : ''")
    name = url.split("://", 1)[1].replace("/", "_").strip("_") or "root"
    shot = os.path.join(shots, f"{name}.png")
    data = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    with open(shot, "wb") as f:
        f.write(base64.b64decode(data))
    return {
        "requests": requests,
        "failed": failed,
        "statuses": statuses,
        "lang": page.js("document.documentElement.lang"),
        "title": page.js("document.title"),
        "h1": page.js("(document.querySelector('h1') || {}).textContent || ''"),
        "links": page.js("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"),
        "focused_after_tab": focused,
        "screenshot": shot,
    }


def main():
    shots, urls = sys.argv[1], sys.argv[2:]
    os.makedirs(shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="chaton-chromium-", dir="/var/tmp")
    browser = start_browser(profile)
    try:
        page = Page(page_socket())
        page.call("Page.enable")
        page.call("Network.enable")
        page.call("Network.setCacheDisabled", cacheDisabled=True)
        print(json.dumps({url: visit(page, url, shots) for url in urls}))
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
