#!/usr/bin/env python3
"""CPU the daemon uses with a long queue while the API rate is the bottleneck
(issue 12, item 13).

    bench/queued_cpu.py --bin target/release/clipwatch [--jobs 20000] [--seconds 60]

1. Builds (once, cached under $BENCH_WORK) a state directory holding --jobs
   queued jobs: a drop folder of URL lists taken by `clipwatch once` without
   an API key (it queues, then stops: nothing can be submitted).
2. Copies it, starts bench/fake_server.py with the account's real limits
   (15 requests per 60 s, 5 running tasks, each task processing 5 s), starts
   `clipwatch run` against it with the same limits, waits --warmup seconds,
   then reads the daemon's user+system CPU time from /proc/<pid>/stat over
   --seconds and prints it as a share of one core, with how many jobs were
   submitted meanwhile.
Everything listens on 127.0.0.1.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "bench-key-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def config(work, base_url):
    return f"""[api]
base_url = "{base_url}"
requests_per_minute = 15
max_concurrent_projects = 5
poll_interval = "30s"
timeout = "30s"

[state]
dir = "state"

[output]
dir = "clips"
thumbnails = false

[drop]
dir = "inbox"
settle = "100ms"

[presets.default]
enable_export = false
"""


def build_state(binary, jobs, cache):
    if os.path.exists(os.path.join(cache, "ready")):
        return
    shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(os.path.join(cache, "inbox"))
    per_file = 5000
    for start in range(0, jobs, per_file):
        with open(os.path.join(cache, "inbox", f"list{start // per_file:03}.txt"), "w") as f:
            for i in range(start, min(jobs, start + per_file)):
                f.write("https://www.youtube.com/watch?v=%011d\n" % i)
    with open(os.path.join(cache, "config.toml"), "w") as f:
        f.write(config(cache, "http://127.0.0.1:9/open/v2"))
    env = dict(os.environ)
    env.pop("WAYIN_API_KEY", None)
    env["CLIPWATCH_DISABLE_INOTIFY"] = "1"
    t0 = time.time()
    subprocess.run([binary, "--config", os.path.join(cache, "config.toml"), "-q", "once"],
                   env=env, cwd=cache, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run([binary, "--config", os.path.join(cache, "config.toml"), "status", "--json"],
                         env=env, cwd=cache, capture_output=True, text=True)
    queued = json.loads(out.stdout)["jobs"]["queued"]
    print(f"state: {queued} jobs queued in {time.time() - t0:.0f} s", flush=True)
    assert queued == jobs, out.stdout
    open(os.path.join(cache, "ready"), "w").close()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--jobs", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--warmup", type=float, default=10)
    opts = p.parse_args()
    work = os.environ.get("BENCH_WORK", "/tmp/clipwatch-bench")
    cache = os.path.join(work, f"queued-{opts.jobs}")
    build_state(os.path.abspath(opts.bin), opts.jobs, cache)

    run = os.path.join(work, "queued-run")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    shutil.copytree(os.path.join(cache, "state"), os.path.join(run, "state"))
    os.makedirs(os.path.join(run, "inbox"))
    port_file = os.path.join(run, "port")
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_server.py"),
                               "--port-file", port_file, "--log", os.path.join(run, "api.jsonl"),
                               "--key", KEY, "--rate", "15", "--rate-window", "60",
                               "--max-running", "5", "--process-s", "5"])
    try:
        while not os.path.exists(port_file):
            time.sleep(0.05)
        port = open(port_file).read().strip()
        with open(os.path.join(run, "config.toml"), "w") as f:
            f.write(config(run, f"http://127.0.0.1:{port}/open/v2"))
        env = dict(os.environ, WAYIN_API_KEY=KEY, CLIPWATCH_DISABLE_INOTIFY="1")
        log = open(os.path.join(run, "daemon.log"), "w")
        daemon = subprocess.Popen([os.path.abspath(opts.bin), "--config",
                                   os.path.join(run, "config.toml"), "run"],
                                  env=env, cwd=run, stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(opts.warmup)
        before, t0 = cpu_ticks(daemon.pid), time.time()
        time.sleep(opts.seconds)
        after, t1 = cpu_ticks(daemon.pid), time.time()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        submits = sum(1 for line in open(os.path.join(run, "api.jsonl"))
                      if json.loads(line).get("kind") == "submit")
        share = (after - before) / TICK / (t1 - t0)
        print(f"{opts.jobs} queued: daemon CPU {share * 100:.1f} % of one core over "
              f"{t1 - t0:.0f} s (after {opts.warmup:.0f} s warm-up); "
              f"{submits} tasks submitted in the whole run")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
