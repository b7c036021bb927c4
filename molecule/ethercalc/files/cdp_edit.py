#!/usr/bin/python3
"""Open an EtherCalc sheet in headless Chromium and type a value into a cell.

usage: chaton-test-cdp-edit <sheet url> <cell, e.g. B2> <value>
Drives the real SocialCalc grid over the Chrome DevTools Protocol: a mouse
click on the cell, then key presses and Enter, as a person would.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

PORT = 9222


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, suppress_origin=True, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            return None
        return result["result"].get("value")

    def wait(self, expression, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(expression):
                return
            time.sleep(0.3)
        raise TimeoutError(f"never true: {expression}")

    def key(self, key, code, vk, text=""):
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
        if text:
            down["text"] = text
            down["unmodifiedText"] = text
        self.call("Input.dispatchKeyEvent", **down)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)


def main():
    url, cell, value = sys.argv[1], sys.argv[2], sys.argv[3]
    profile = tempfile.mkdtemp(prefix="chaton-chromium-", dir="/var/tmp")
    browser = subprocess.Popen(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            # The TLS chain is checked by the curl tests; the browser tests the app.
            "--ignore-certificate-errors",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={PORT}",
            "--remote-allow-origins=*",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ws_url = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    ws_url = pages[0]["webSocketDebuggerUrl"]
                    break
            except OSError:
                pass
            time.sleep(0.3)
        if not ws_url:
            raise RuntimeError("Chromium did not open its DevTools endpoint")
        page = Page(ws_url)
        page.call("Page.enable")
        page.call("Page.navigate", url=url)
        # The grid exists once the sheet's log arrived over socket.io.
        page.wait(
            "typeof SocialCalc !== 'undefined' && !!SocialCalc.GetSpreadsheetControlObject()"
            " && !!SocialCalc.GetSpreadsheetControlObject().editor.fullgrid"
        )
        time.sleep(1)
        col = ord(cell[0].upper()) - ord("A") + 1
        row = int(cell[1:])
        box = page.js(
            "(function(){var e=SocialCalc.GetSpreadsheetControlObject().editor;"
            f"var c=SocialCalc.GetEditorCellElement(e,{row},{col});"
            "var r=c.element.getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2];})()"
        )
        if not box:
            raise RuntimeError(f"cell {cell} not found in the grid")
        for kind in ("mousePressed", "mouseReleased"):
            page.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        page.wait(f"SocialCalc.GetSpreadsheetControlObject().editor.ecell.coord === '{cell.upper()}'", 10)
        # An empty value only opens the sheet and selects the cell: no edit.
        if value:
            for ch in value:
                code = f"Digit{ch}" if ch.isdigit() else f"Key{ch.upper()}"
                page.key(ch, code, ord(ch.upper()) if not ch.isdigit() else ord(ch), text=ch)
            page.key("Enter", "Enter", 13, text="\r")
        time.sleep(2)
        shown = page.js(
            f"SocialCalc.GetSpreadsheetControlObject().sheet.GetAssuredCell('{cell.upper()}').datavalue + ''"
        )
        print(json.dumps({"cell": cell.upper(), "shown": shown}))
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
