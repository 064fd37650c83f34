#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol, standard library only.

Used by tests/e2e_http.rs. Starts `chromium` (or $CHROMIUM) headless with a
throw-away profile, then reads one JSON command per line on stdin and answers
one JSON line on stdout:

  {"navigate": URL}              -> {"ok": true} once the page has loaded
  {"eval": JS, "until": secs?}   -> {"value": ...}; with "until", the JS is
                                    evaluated again every 100 ms until its
                                    value is truthy (or the time is up)
  {"screenshot": PATH}           -> {"ok": true}, a PNG written to PATH

Only 127.0.0.1 is contacted.
"""

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


def start_browser(profile):
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        raise SystemExit("chromium not found (apt-get install chromium)")
    args = [
        binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--mute-audio",
        "--autoplay-policy=no-user-gesture-required", "--window-size=1000,900",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        "--user-data-dir=" + profile, "about:blank",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 30
    while time.time() < deadline:
        if os.path.exists(port_file):
            lines = open(port_file).read().split()
            if lines:
                return proc, int(lines[0])
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("chromium did not open its DevTools port")


class WebSocket:
    """The client side of RFC 6455, text frames only."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit("websocket refused: " + head.decode(errors="replace"))

    def send(self, text):
        data = text.encode()
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise SystemExit("websocket closed")
            out += chunk
        return out

    def recv(self):
        message = b""
        while True:
            first, second = self._exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(length)
            message += payload
            if first & 0x80:
                return message.decode()


class Page:
    def __init__(self, port):
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        path = "/" + page["webSocketDebuggerUrl"].split("/", 3)[3]
        self.ws = WebSocket(port, path)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_event(self, name, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for i, event in enumerate(self.events):
                if event.get("method") == name:
                    del self.events[: i + 1]
                    return
            self.events.append(json.loads(self.ws.recv()))
        raise RuntimeError(f"no {name} within {seconds}s")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"]))
        return result["result"].get("value")


def main():
    profile = tempfile.mkdtemp(prefix="clipwatch-chromium-")
    proc, port = start_browser(profile)
    try:
        page = Page(port)
        for line in sys.stdin:
            command = json.loads(line)
            try:
                if "navigate" in command:
                    page.events.clear()
                    page.call("Page.navigate", url=command["navigate"])
                    page.wait_event("Page.loadEventFired")
                    answer = {"ok": True}
                elif "eval" in command:
                    deadline = time.time() + command.get("until", 0)
                    value = page.evaluate(command["eval"])
                    while not value and time.time() < deadline:
                        time.sleep(0.1)
                        value = page.evaluate(command["eval"])
                    answer = {"value": value}
                elif "screenshot" in command:
                    shot = page.call("Page.captureScreenshot", format="png",
                                     captureBeyondViewport=True)
                    with open(command["screenshot"], "wb") as out:
                        out.write(base64.b64decode(shot["data"]))
                    answer = {"ok": True}
                else:
                    answer = {"error": "unknown command"}
            except Exception as err:  # reported to the test, which fails
                answer = {"error": str(err)}
            print(json.dumps(answer), flush=True)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
