#!/usr/bin/env python3
"""A standalone fake of the WayinVideo API, its file CDN and a YouTube-format
feed host, for clipwatch's benchmarks. Listens on 127.0.0.1 only.

    fake_server.py --port-file F --log F.jsonl --export-file BIG [--key K]

Routes
  POST {prefix}/clips                -> {"code":"0","data":{"id","name","status":"CREATED"}}
  GET  {prefix}/clips/results/{id}   -> SUCCEEDED with one clip whose export_link is /files/export
  GET  /files/export                 -> the --export-file, Content-Length, Range (206)
  GET  /files/thumb.jpg              -> a tiny jpeg-like body
  GET  /oembed?url=U                 -> {"title", "duration"} (duration from --duration-json, if any)
  GET  /feeds/videos.xml?playlist_id=PLbench<N>  -> YouTube Atom, 15 entries, ETag / 304
  GET  /rss/<N>.xml?entries=E        -> RSS 2.0 with E entries (ids rss<N>-<i>), ETag / 304
  GET  /_stats                       -> request counters (JSON)
  POST /_throttle?bps=B              -> limit export sends to B bytes/s (0 = unlimited)

Limits (for the throughput benchmark, in real seconds; scale them yourself):
  --rate N --rate-window S   at most N accepted API calls in any S-second sliding
                             window; more -> 429 (refused calls do not count)
  --max-running C            a submit while C tasks are still processing -> 429
  --process-json F           {"<substring of video_url>": seconds, ...}: per-video
                             processing time (default --process-s)
  --duration-json F          {"<substring of url>": seconds, ...}: the video length
                             /oembed reports (as Vimeo's oEmbed does)

API calls need `Authorization: Bearer <key>`. Every API and file request is
appended to --log as one JSON line (method, path, range, status, bytes sent,
start and end times), which is what bench/run.sh asserts on.
"""

import argparse
import collections
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATS = {"feed_200": 0, "feed_304": 0, "api": 0, "api_429": 0, "files": 0, "other": 0}
ACCEPTED = collections.deque()  # when each recent accepted API call came in
PROCESS = {}  # substring of video_url -> processing seconds
DURATION = {}  # substring of a video URL -> its length in seconds (oEmbed)
TASKS = {}
CACHE = {}
OPTS = None
LOG = None
THROTTLE = {"bps": 0}


def log(rec):
    with LOCK:
        LOG.write(json.dumps(rec) + "\n")
        LOG.flush()


def youtube_feed(n):
    pid = "PLbench%08d" % n
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">\n'
        ' <link rel="self" href="http://www.youtube.com/feeds/videos.xml?playlist_id=%s"/>\n'
        " <id>yt:playlist:%s</id>\n <yt:playlistId>%s</yt:playlistId>\n"
        " <yt:channelId>UCbenchchannel%010d</yt:channelId>\n"
        " <title>Bench playlist %d</title>\n"
        ' <link rel="alternate" href="https://www.youtube.com/playlist?list=%s"/>\n'
        " <author><name>Bench %d</name><uri>https://www.youtube.com/channel/UCbenchchannel%010d</uri></author>\n"
        " <published>2020-01-01T00:00:00+00:00</published>\n"
        % (pid, pid, pid, n, n, pid, n, n)
    ]
    for i in range(15):
        vid = "b%07d%03d" % (n, i)  # 11 chars, like a YouTube id
        day = 28 - i
        parts.append(
            " <entry>\n  <id>yt:video:%s</id>\n  <yt:videoId>%s</yt:videoId>\n"
            "  <yt:channelId>UCbenchchannel%010d</yt:channelId>\n"
            "  <title>Bench %d episode %d: a long conversation</title>\n"
            '  <link rel="alternate" href="https://www.youtube.com/watch?v=%s"/>\n'
            "  <author><name>Bench %d</name><uri>https://www.youtube.com/channel/UCbenchchannel%010d</uri></author>\n"
            "  <published>2024-05-%02dT16:00:06+00:00</published>\n"
            "  <updated>2024-05-%02dT16:00:06+00:00</updated>\n"
            "  <media:group>\n   <media:title>Bench %d episode %d</media:title>\n"
            '   <media:content url="https://www.youtube.com/v/%s?version=3" type="application/x-shockwave-flash" width="640" height="390"/>\n'
            '   <media:thumbnail url="https://i1.ytimg.com/vi/%s/hqdefault.jpg" width="480" height="360"/>\n'
            "   <media:description>A long description of episode %d of bench playlist %d.</media:description>\n"
            '   <media:community>\n    <media:starRating count="120" average="5.00" min="1" max="5"/>\n'
            '    <media:statistics views="12345"/>\n   </media:community>\n  </media:group>\n </entry>\n'
            % (vid, vid, n, n, i, vid, n, n, day, day, n, i, vid, vid, i, n)
        )
    parts.append("</feed>\n")
    return "".join(parts).encode()


def rss_feed(n, entries):
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Bench RSS %d</title><link>http://127.0.0.1/rss/%d</link>"
        "<description>bench</description>\n" % (n, n)
    ]
    for i in range(entries):
        parts.append(
            "<item><title>RSS %d item %d</title>"
            "<link>https://videos.example/rss%d/%d.mp4</link>"
            "<guid>rss%d-%d</guid><pubDate>Mon, 20 May 2024 16:00:00 GMT</pubDate></item>\n"
            % (n, i, n, i, n, i)
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode()


def take_rate_token(now):
    """Spend one token of the sliding-window budget, or say no (under LOCK)."""
    if not OPTS.rate:
        return True
    while ACCEPTED and ACCEPTED[0] <= now - OPTS.rate_window:
        ACCEPTED.popleft()
    if len(ACCEPTED) >= OPTS.rate:
        return False
    ACCEPTED.append(now)
    return True


def running_tasks(now):
    return sum(1 for t in TASKS.values() if t["ready_at"] > now)


def process_seconds(video_url):
    for part, seconds in PROCESS.items():
        if part in (video_url or ""):
            return seconds
    return OPTS.process_s


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body go out in two writes, and with
    # Nagle on, the body of every answer on a kept-alive connection waited
    # for the client's delayed ACK (~40 ms; a client opening a connection
    # per request, like the naive one, never paid it).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_body(self, status, body, ctype, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def api_json(self, data, status=200):
        self.send_body(status, json.dumps(data).encode(), "application/json")

    # -- feeds -------------------------------------------------------------
    def feed(self, key, make, ctype):
        with LOCK:
            cached = CACHE.get(key)
        if cached is None:
            body = make()
            etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
            cached = (body, etag)
            with LOCK:
                CACHE[key] = cached
        body, etag = cached
        if self.headers.get("If-None-Match") == etag:
            with LOCK:
                STATS["feed_304"] += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with LOCK:
            STATS["feed_200"] += 1
        self.send_body(200, body, ctype, {"ETag": etag})

    # -- files -------------------------------------------------------------
    def export(self):
        path = OPTS.export_file
        size = os.path.getsize(path)
        rng = self.headers.get("Range")
        start = 0
        status = 200
        if rng and rng.startswith("bytes="):
            first = rng[6:].split("-")[0]
            start = int(first) if first else 0
            if start >= size:
                self.send_body(416, b"", "text/plain", {"Content-Range": "bytes */%d" % size})
                return
            status = 206
        count = size - start
        t0 = time.time()
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(count))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        self.wfile.flush()
        sent = 0
        err = None
        with open(path, "rb") as f:
            try:
                while sent < count:
                    bps = THROTTLE["bps"]
                    chunk = count - sent if bps == 0 else min(count - sent, max(bps // 50, 65536))
                    n = os.sendfile(self.connection.fileno(), f.fileno(), start + sent, chunk)
                    if n == 0:
                        break
                    sent += n
                    if bps:
                        time.sleep(n / bps)
            except OSError as e:
                err = str(e)
        log({"kind": "export", "method": self.command, "range": rng, "status": status,
             "start": start, "want": count, "sent": sent, "error": err,
             "t0": t0, "t1": time.time(), "ua": self.headers.get("User-Agent")})
        if err:
            self.close_connection = True

    # -- API -----------------------------------------------------------------
    def authed(self):
        if self.headers.get("Authorization") != "Bearer " + OPTS.key:
            self.api_json({"code": "403", "message": "invalid api key"}, 403)
            return False
        return True

    def too_many(self, why):
        with LOCK:
            STATS["api_429"] += 1
        log({"kind": "429", "why": why, "path": self.path, "t": time.time()})
        self.send_body(429, json.dumps({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "status": 429,
                                        "error": "Too Many Requests", "path": self.path}).encode(),
                       "application/json")

    def admitted(self):
        """Auth, then the request budget; answers the refusal itself."""
        if not self.authed():
            return False
        with LOCK:
            ok = take_rate_token(time.time())
        if not ok:
            self.too_many("rate")
        return ok

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        if u.path == "/feeds/videos.xml" and "playlist_id" in q:
            pid = q["playlist_id"][0]
            n = int(pid[len("PLbench"):])
            return self.feed(("yt", n), lambda: youtube_feed(n), "application/atom+xml; charset=utf-8")
        if u.path.startswith("/rss/"):
            n = int(u.path[5:].split(".")[0])
            e = int(q.get("entries", ["15"])[0])
            return self.feed(("rss", n, e), lambda: rss_feed(n, e), "application/rss+xml")
        if u.path == "/files/export":
            with LOCK:
                STATS["files"] += 1
            return self.export()
        if u.path == "/files/thumb.jpg":
            return self.send_body(200, b"\xff\xd8\xff\xe0JFIF" + b"\0" * 1024, "image/jpeg")
        if u.path == "/oembed":
            url = q.get("url", [""])[0]
            with LOCK:
                STATS["other"] += 1
            data = {"type": "video", "version": "1.0", "title": "Bench video " + url.rsplit("=", 1)[-1]}
            for part, seconds in DURATION.items():
                if part in url:
                    data["duration"] = seconds
            return self.api_json(data)
        if u.path == "/_stats":
            with LOCK:
                s = dict(STATS)
            return self.send_body(200, json.dumps(s).encode(), "application/json")
        if u.path.startswith(OPTS.prefix + "/clips/results/"):
            with LOCK:
                STATS["api"] += 1
            if not self.admitted():
                return
            tid = u.path.rsplit("/", 1)[1]
            origin = "http://127.0.0.1:%d" % self.server.server_address[1]
            task = TASKS.get(tid)
            if task is None:
                return self.api_json({"code": "404", "message": "no such task"}, 404)
            status = "SUCCEEDED" if time.time() >= task["ready_at"] else "ONGOING"
            data = {"id": tid, "name": task["name"], "status": status,
                    "expire_at": int((time.time() + 3 * 86400) * 1000), "api_units_usage": 10,
                    "clips": []}
            if status == "SUCCEEDED":
                data["clips"] = [{"idx": 0, "title": "t", "begin_ms": 1000, "end_ms": 5000,
                                  "score": 80, "tags": ["a"], "desc": "d",
                                  "thumbnail": origin + "/files/thumb.jpg",
                                  "export_link": origin + "/files/export"}]
            log({"kind": "results", "id": tid, "status": status, "t": time.time()})
            return self.api_json({"code": "0", "data": data, "message": "success"})
        with LOCK:
            STATS["other"] += 1
        self.send_body(404, b"not found", "text/plain")

    def do_POST(self):
        u = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if u.path == "/_throttle":
            THROTTLE["bps"] = int(parse_qs(u.query).get("bps", ["0"])[0])
            return self.send_body(200, b"ok", "text/plain")
        if u.path == OPTS.prefix + "/clips":
            with LOCK:
                STATS["api"] += 1
            if not self.admitted():
                return
            req = json.loads(body or b"{}")
            with LOCK:
                now = time.time()
                busy = OPTS.max_running and running_tasks(now) >= OPTS.max_running
                if not busy:
                    tid = "proj_bench_%d" % (len(TASKS) + 1)
                    TASKS[tid] = {"name": req.get("project_name", ""),
                                  "ready_at": now + process_seconds(req.get("video_url"))}
            if busy:
                return self.too_many("running")
            log({"kind": "submit", "id": tid, "video_url": req.get("video_url"), "t": time.time()})
            return self.api_json({"code": "0", "data": {"id": tid, "name": TASKS[tid]["name"], "status": "CREATED"},
                                  "message": "success"})
        self.send_body(404, b"not found", "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096


def main():
    global OPTS, LOG
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--export-file", default="/dev/null")
    p.add_argument("--key", default="bench-key-0123456789")
    p.add_argument("--prefix", default="/open/v2")
    p.add_argument("--process-s", type=float, default=0.2, help="task processing time")
    p.add_argument("--process-json", help='{"<substring of video_url>": seconds}')
    p.add_argument("--duration-json", help='{"<substring of url>": seconds} for /oembed')
    p.add_argument("--rate", type=int, default=0, help="accepted API calls per window (0: no limit)")
    p.add_argument("--rate-window", type=float, default=60.0)
    p.add_argument("--max-running", type=int, default=0, help="tasks processing at once (0: no limit)")
    OPTS = p.parse_args()
    if OPTS.process_json:
        with open(OPTS.process_json) as f:
            PROCESS.update(json.load(f))
    if OPTS.duration_json:
        with open(OPTS.duration_json) as f:
            DURATION.update(json.load(f))
    LOG = open(OPTS.log, "a")
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = OPTS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, OPTS.port_file)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
