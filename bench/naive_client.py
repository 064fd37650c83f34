#!/usr/bin/env python3
"""The naive WayinVideo client, as public automation templates build it: the
throughput benchmark's baseline.

Every video runs as its own flow, all started at once: submit; on any
refusal (a 429 from the rate or running-task limit, a 5xx) wait one poll
interval and submit again; then wait a poll interval, fetch the results,
and repeat until SUCCEEDED (a refused poll also just waits); then download
each clip. No shared budget, no limit on tasks in flight.

    naive_client.py --api http://127.0.0.1:PORT/open/v2 --key K \
        --urls urls.txt --poll 0.5 --out DIR

Prints one JSON line: {"makespan_s", "requests", "refused", "videos"}.
Talks to the given 127.0.0.1 address only.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

COUNT_LOCK = threading.Lock()
COUNTS = {"requests": 0, "refused": 0}


def call(opts, method, url, body=None):
    """One API call: (status, parsed JSON or None)."""
    req = urllib.request.Request(url, method=method, data=body, headers={
        "Authorization": "Bearer " + opts.key,
        "x-wayinvideo-api-version": "v2",
        "Content-Type": "application/json",
    })
    with COUNT_LOCK:
        COUNTS["requests"] += 1
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        err.read()
        with COUNT_LOCK:
            COUNTS["refused"] += 1
        return err.code, None


def flow(opts, index, url, errors):
    try:
        body = json.dumps({"video_url": url, "project_name": "naive %d" % index,
                           "enable_export": True}).encode()
        while True:
            status, reply = call(opts, "POST", opts.api + "/clips", body)
            if status == 200:
                break
            time.sleep(opts.poll)
        task = reply["data"]["id"]
        while True:
            time.sleep(opts.poll)
            status, reply = call(opts, "GET", opts.api + "/clips/results/" + task)
            if status == 200 and reply["data"]["status"] == "SUCCEEDED":
                break
        for clip in reply["data"]["clips"]:
            path = os.path.join(opts.out, "%03d-%s.mp4" % (index, clip["idx"]))
            with urllib.request.urlopen(clip["export_link"], timeout=60) as resp, open(path, "wb") as f:
                f.write(resp.read())
    except Exception as err:  # a flow that dies is reported, not hidden
        errors.append("%s: %r" % (url, err))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--urls", required=True)
    p.add_argument("--poll", type=float, required=True, help="poll / retry interval, seconds")
    p.add_argument("--out", required=True)
    opts = p.parse_args()
    if not opts.api.startswith("http://127.0.0.1:"):
        raise SystemExit("refusing a non-loopback API address")
    os.makedirs(opts.out, exist_ok=True)
    urls = [line.strip() for line in open(opts.urls) if line.strip()]
    errors = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=flow, args=(opts, i, u, errors)) for i, u in enumerate(urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"makespan_s": time.monotonic() - t0, "requests": COUNTS["requests"],
                      "refused": COUNTS["refused"], "videos": len(urls) - len(errors),
                      "errors": errors[:5]}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
