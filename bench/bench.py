#!/usr/bin/env python3
"""clipwatch benchmarks: throughput under the API limits, downloads,
footprint, feed checks at scale.

Run through bench/run.sh (which builds the release binary first):

    bench/run.sh [throughput] [downloads] [footprint] [feeds]   (default: all)

Environment: CLIPWATCH_BIN (the binary), BENCH_WORK (scratch dir, default
/tmp/clipwatch-bench), BENCH_FEEDS ("1000" or "1000 10000"), BENCH_REPS
(download repetitions, default 5), BENCH_IDLE_S (idle CPU window, default 60),
BENCH_CURL_P (curl parallelism for the feed baseline, default 32),
BENCH_SCALE (throughput: API seconds per real second, default 60),
BENCH_N (throughput: videos per scenario, default 30 for fixed4 and vary4,
50 for the others),
BENCH_SCENARIOS (throughput: "fixed4 vary4 fixed10 fixed2 varied", default all),
BENCH_KEYS (scale: keys in the store, default 1000000; not in the default set).

Everything listens on and talks to 127.0.0.1 only. Prints a table of
figures (and writes it to bench/results/latest.md).
"""

import glob
import heapq
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("CLIPWATCH_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "target")), "release", "clipwatch")
WORK = os.environ.get("BENCH_WORK", "/tmp/clipwatch-bench")
KEY = "bench-key-0123456789"
GIB = 1 << 30
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROWS = []  # (section, metric, value, baseline/target, ratio/verdict)


def row(section, metric, value, ref="", verdict=""):
    ROWS.append((section, metric, value, ref, verdict))
    print("  %-10s %-46s %-18s %-26s %s" % (section, metric, value, ref, verdict), flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


# ---------------------------------------------------------------- helpers
class FakeServer:
    def __init__(self, name, export_file="/dev/null", process_s=0.2, extra_args=()):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port_file = os.path.join(self.dir, "port")
        self.log = os.path.join(self.dir, "server.jsonl")
        for f in (self.port_file, self.log):
            if os.path.exists(f):
                os.remove(f)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_server.py"), "--port-file", self.port_file,
             "--log", self.log, "--export-file", export_file, "--key", KEY,
             "--process-s", str(process_s)] + list(extra_args))
        for _ in range(200):
            if os.path.exists(self.port_file):
                break
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())
        self.origin = "http://127.0.0.1:%d" % self.port

    def records(self, kind=None):
        out = []
        with open(self.log) as f:
            for line in f:
                r = json.loads(line)
                if kind is None or r["kind"] == kind:
                    out.append(r)
        return out

    def stats(self):
        return json.load(urllib.request.urlopen(self.origin + "/_stats"))

    def throttle(self, bps):
        urllib.request.urlopen(urllib.request.Request(self.origin + "/_throttle?bps=%d" % bps, method="POST"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def write_config(d, server, feeds="", export=True, thumbnails=False):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "config.toml")
    with open(path, "w") as f:
        f.write(
            '[api]\nbase_url = "%s/open/v2"\npoll_interval = "40ms"\ntimeout = "60s"\n'
            "requests_per_minute = 100000\n\n"
            '[state]\ndir = "state"\n\n[output]\ndir = "clips"\nthumbnails = %s\n\n'
            "[presets.default]\nenable_export = %s\n\n"
            "[presets.meta]\nenable_export = false\n\n"
            '[youtube]\nbase_url = "%s"\n\n%s'
            % (server.origin, "true" if thumbnails else "false", "true" if export else "false",
               server.origin, feeds))
    return path


def env():
    e = dict(os.environ)
    e["WAYIN_API_KEY"] = KEY
    e.setdefault("RUST_LOG", "warn")
    return e


class Daemon:
    """`clipwatch run` with NOTIFY_SOCKET; measures spawn → READY=1."""

    def __init__(self, config, log_name="daemon.log"):
        d = os.path.dirname(config)
        self.sock_path = os.path.join(d, "notify.sock")
        if os.path.exists(self.sock_path):
            os.remove(self.sock_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        e = env()
        e["NOTIFY_SOCKET"] = self.sock_path
        self.log = open(os.path.join(d, log_name), "ab")
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen([BIN, "run", "--config", config], env=e,
                                     stdout=self.log, stderr=self.log)
        self.pid = self.proc.pid
        self.ready_s = None

    def wait_ready(self, timeout=30):
        self.sock.settimeout(timeout)
        while True:
            msg = self.sock.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                self.ready_s = time.monotonic() - self.t_spawn
                return self.ready_s

    def status(self, field):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # kB → bytes
        return None

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def stop(self, sig=signal.SIGTERM, timeout=180):
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.stop_s = time.monotonic() - t0
        self.sock.close()
        self.log.close()
        return rc


def timed(cmd, cwd=None):
    """Run under /usr/bin/time -v; returns (wall_s, cpu_s, maxrss_bytes, stdout)."""
    tfile = os.path.join(WORK, "time.txt")
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v", "-o", tfile] + cmd, cwd=cwd, env=env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    info = {}
    for line in open(tfile):
        if ":" in line:
            k, v = line.rsplit(":", 1)
            info[k.strip()] = v.strip()
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode()[-3000:])
        raise SystemExit("command failed (%d): %s" % (p.returncode, " ".join(cmd)))
    cpu = float(info["User time (seconds)"]) + float(info["System time (seconds)"])
    return wall, cpu, int(info["Maximum resident set size (kbytes)"]) * 1024, p.stdout


def mib(b):
    return "%.1f MiB" % (b / (1 << 20))


def wait_for(pred, timeout, step=0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise SystemExit("timed out waiting")


def job_counts(config):
    p = subprocess.run([BIN, "--config", config, "status", "--json"], env=env(),
                       stdout=subprocess.PIPE, check=True)
    return json.loads(p.stdout)["jobs"]


# ---------------------------------------------------------------- throughput
API_PER_MINUTE = 15  # the account's request budget
API_RUNNING = 5  # tasks processing at once
API_POLL = 30.0  # the vendor's poll interval, API seconds (clipwatch's poll_interval)
API_POLL_FLOOR = 5.0  # clipwatch's poll_floor (its default), API seconds


PROCESSING_PER_VIDEO_S = 0.4  # vary4: API seconds of processing per second of video


def scenario(name, n):
    """(videos, processing time of each in API seconds, each video's length
    in seconds or None). fixed4 is issue 19's case: 30 videos of 240 s.
    vary4: lengths of 600 s +-50 % (uniform, seed 7), processed at 0.4 s
    per second, so P is 240 s +-50 %; the length is known to clipwatch
    through oEmbed, as Vimeo's gives it. In fixed10, fixed2 and varied
    (round 1) every time sits 10 s past the 30 s poll grid."""
    if name == "fixed4":
        n = n or 30
        return n, [240.0] * n, None
    if name == "vary4":
        n = n or 30
        rng = random.Random(7)
        lengths = [rng.randint(300, 900) for _ in range(n)]
        return n, [PROCESSING_PER_VIDEO_S * d for d in lengths], lengths
    n = n or 50
    if name == "fixed10":
        return n, [610.0] * n, None
    if name == "fixed2":
        return n, [130.0] * n, None
    if name == "varied":
        rng = random.Random(7)
        return n, [30.0 * rng.randint(10, 29) + 10 for _ in range(n)], None
    raise SystemExit("unknown scenario %s" % name)


def polls_needed(p):
    return math.ceil(p / API_POLL)


def fifo_makespan(times):
    """The FIFO bound: the queue's order on API_RUNNING slots, each task
    taking exactly its P, seen done the instant it ends: what a client that
    knew each task's end would reach. ceil(N/5)*P for equal times."""
    free = [0.0] * API_RUNNING
    for p in times:
        heapq.heappush(free, heapq.heappop(free) + p)
    return max(free)


def ideal_makespan(times):
    """The polling-aware bound: the queue's order (FIFO) on API_RUNNING slots,
    each task seen done at the first poll of its 30 s grid, no time lost to
    the budget, submits or downloads. A client that cannot know the times in
    advance cannot beat it; for equal times it is ceil(N/5) * that grid."""
    free = [0.0] * API_RUNNING
    for p in times:
        start = heapq.heappop(free)
        heapq.heappush(free, start + polls_needed(p) * API_POLL)
    return max(free)


def budget_makespan(times):
    """The budget's bound: the requests that bound needs (one submit and
    ceil(P/30) polls per video) at 15 a minute, after a first burst of 15."""
    needed = sum(1 + polls_needed(p) for p in times)
    return max(0, needed - API_PER_MINUTE) / API_PER_MINUTE * 60.0


def throughput_server(name, times, scale, lengths=None):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    clip = os.path.join(d, "clip.mp4")
    with open(clip, "wb") as f:
        f.write(os.urandom(256 * 1024))
    pjson = os.path.join(d, "process.json")
    with open(pjson, "w") as f:
        json.dump({video_id(i, lengths): p / scale for i, p in enumerate(times)}, f)
    extra = []
    if lengths:
        djson = os.path.join(d, "durations.json")
        with open(djson, "w") as f:
            json.dump({video_id(i, lengths): s for i, s in enumerate(lengths)}, f)
        extra = ["--duration-json", djson]
    return FakeServer(name, export_file=clip, extra_args=extra + [
        "--process-json", pjson, "--rate", str(API_PER_MINUTE),
        "--rate-window", str(60.0 / scale), "--max-running", str(API_RUNNING)])


def video_id(i, lengths):
    """What names video i in its URL (and in the fake's tables)."""
    return "bench%06d" % i if lengths else "ep%03d.mp4" % i


def video_urls(n, lengths):
    """YouTube watch URLs when the lengths come from oEmbed (the fake
    answers /oembed as [youtube] base_url), else plain video URLs."""
    if lengths:
        return ["https://www.youtube.com/watch?v=" + video_id(i, lengths) for i in range(n)]
    return ["https://videos.example/bench/" + video_id(i, lengths) for i in range(n)]


def fake_counts(srv, n):
    stats = srv.stats()
    submits = srv.records("submit")
    per_url = {}
    for r in submits:
        per_url[r["video_url"]] = per_url.get(r["video_url"], 0) + 1
    return {"api": stats["api"], "refused": stats["api_429"], "submits": len(submits),
            "twice": sum(1 for c in per_url.values() if c > 1), "videos": len(per_url)}


def floor_line(scale):
    """The poll_floor setting; BENCH_NO_FLOOR=1 leaves it out (a binary
    from before it existed)."""
    if os.environ.get("BENCH_NO_FLOOR"):
        return ""
    return 'poll_floor = "%dms"\n' % round(API_POLL_FLOOR * 1000 / scale)


def run_clipwatch(name, times, scale, urls, lengths):
    srv = throughput_server(name + "-clipwatch", times, scale, lengths)
    try:
        d = os.path.join(WORK, name + "-clipwatch", "cw")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        config = os.path.join(d, "config.toml")
        with open(config, "w") as f:
            f.write('[api]\nbase_url = "%s/open/v2"\nrequests_per_minute = %d\nrate_window = "%dms"\n'
                    'max_concurrent_projects = %d\npoll_interval = "%dms"\n%s'
                    'timeout = "30s"\n\n'
                    '[state]\ndir = "state"\n\n[output]\ndir = "clips"\nthumbnails = false\n\n'
                    '[youtube]\nbase_url = "%s"\n\n'
                    '[presets.default]\nenable_export = true\n'
                    % (srv.origin, API_PER_MINUTE, round(60000 / scale), API_RUNNING,
                       round(API_POLL * 1000 / scale), floor_line(scale),
                       srv.origin))
        for i, url in enumerate(urls):
            # With lengths: no --name, so the title and length come from oEmbed.
            name_args = [] if lengths else ["--name", "ep%03d" % i]
            subprocess.run([BIN, "--config", config, "submit", url] + name_args,
                           env=env(), check=True, stdout=subprocess.DEVNULL)
        wall, cpu, rss, _ = timed([BIN, "--config", config, "once"])
        jobs = job_counts(config)
        if jobs.get("done") != len(urls):
            raise SystemExit("clipwatch finished with %s" % jobs)
        return wall, fake_counts(srv, len(urls)), cpu, rss
    finally:
        srv.stop()


def run_naive(name, times, scale, urls, lengths):
    srv = throughput_server(name + "-naive", times, scale, lengths)
    try:
        d = os.path.join(WORK, name + "-naive", "out")
        shutil.rmtree(d, ignore_errors=True)
        ufile = os.path.join(WORK, name + "-naive", "urls.txt")
        with open(ufile, "w") as f:
            f.write("\n".join(urls) + "\n")
        p = subprocess.run([sys.executable, os.path.join(HERE, "naive_client.py"),
                            "--api", srv.origin + "/open/v2", "--key", KEY, "--urls", ufile,
                            "--poll", str(API_POLL / scale), "--out", d],
                           stdout=subprocess.PIPE, check=True)
        summary = json.loads(p.stdout)
        if summary["videos"] != len(urls):
            raise SystemExit("naive client finished %d of %d: %s" % (summary["videos"], len(urls), summary))
        return summary["makespan_s"], fake_counts(srv, len(urls))
    finally:
        srv.stop()


TARGETS = {"fixed4": 1.02, "vary4": 1.05}  # issue 19: makespan / FIFO bound
REQUESTS_TARGET = 5.0  # issue 19: requests per video


def bench_throughput():
    scale = float(os.environ.get("BENCH_SCALE", "60"))
    n_override = int(os.environ.get("BENCH_N", "0"))
    scenarios = os.environ.get("BENCH_SCENARIOS", "fixed4 vary4 fixed10 fixed2 varied").split()
    print("throughput: 1 API minute = %.2f s, limits %d/min and %d running, "
          "poll_interval %g API s, poll_floor %g API s" % (60 / scale, API_PER_MINUTE, API_RUNNING,
                                                           API_POLL, API_POLL_FLOOR))

    def api_min(real_s):
        return "%.1f API min" % (real_s * scale / 60)

    for name in scenarios:
        n, times, lengths = scenario(name, n_override)
        urls = video_urls(n, lengths)
        fifo = fifo_makespan(times) / scale
        grid = ideal_makespan(times) / scale
        budget = budget_makespan(times) / scale
        target = TARGETS.get(name)
        sec = "tput/" + name
        row(sec, "videos; P (API min): min / mean / max", "%d; %.1f / %.1f / %.1f" % (
            n, min(times) / 60, statistics.mean(times) / 60, max(times) / 60),
            "lengths known (oEmbed)" if lengths else "lengths unknown")
        row(sec, "bound: FIFO (each end known)", api_min(fifo),
            "polling-aware (30 s grid) " + api_min(grid), "budget " + api_min(budget))
        wall, counts, cpu, rss = run_clipwatch(name, times, scale, urls, lengths)
        row(sec, "clipwatch makespan", api_min(wall), "%.3f x FIFO%s" % (
            wall / fifo, " (target <= %.2f)" % target if target else ""),
            "%.3f x polling-aware" % (wall / grid))
        row(sec, "clipwatch 429s / requests per video", "%d / %.2f" % (counts["refused"], counts["api"] / n),
            "target 0 / <= %.0f" % REQUESTS_TARGET,
            "requests %d; submits %d, twice %d" % (counts["api"], counts["submits"], counts["twice"]))
        row(sec, "clipwatch CPU / peak RSS", "%.2f s / %s" % (cpu, mib(rss)))
        nwall, ncounts = run_naive(name, times, scale, urls, lengths)
        row(sec, "naive makespan", api_min(nwall), "%.3f x FIFO" % (nwall / fifo),
            "%.3f x polling-aware; clipwatch %.3f x faster" % (nwall / grid, nwall / wall))
        row(sec, "naive 429s / requests per video", "%d / %.2f" % (ncounts["refused"], ncounts["api"] / n))
        print("RESULT %s" % json.dumps({
            "scenario": name, "n": n, "scale": scale, "fifo_s": fifo * scale, "grid_s": grid * scale,
            "clipwatch_s": wall * scale, "clipwatch_ratio_fifo": wall / fifo,
            "clipwatch_ratio_grid": wall / grid, "clipwatch_429": counts["refused"],
            "clipwatch_requests_per_video": counts["api"] / n, "clipwatch_submits": counts["submits"],
            "naive_s": nwall * scale, "naive_ratio_fifo": nwall / fifo, "naive_429": ncounts["refused"],
            "naive_requests_per_video": ncounts["api"] / n}), flush=True)


# ---------------------------------------------------------------- downloads
def bench_downloads():
    print("\n== downloads: 1 GiB export over loopback", flush=True)
    big = os.path.join(WORK, "export-1GiB.bin")
    if not os.path.exists(big) or os.path.getsize(big) != GIB:
        sh("head -c %d /dev/urandom > %s.tmp && mv %s.tmp %s" % (GIB, big, big, big))
    sh("sync; cat %s > /dev/null" % big)  # into the page cache: serve from memory for both clients
    srv = FakeServer("downloads", export_file=big)
    reps = int(os.environ.get("BENCH_REPS", "5"))
    curl_srv, curl_wall, curl_sync, cw_srv, cw_e2e, cw_hwm, null_wall = [], [], [], [], [], [], []
    try:
        for rep in range(reps):
            # the network-only ceiling: curl to /dev/null
            t0 = time.monotonic()
            sh("curl -sSf -o /dev/null %s/files/export" % srv.origin)
            null_wall.append(time.monotonic() - t0)
            sh("sync")  # no dirty pages left from an earlier step to slow this one down
            # curl, to a file on the same filesystem
            out = os.path.join(WORK, "curl-out.bin")
            n0 = len(srv.records("export"))
            t0 = time.monotonic()
            sh("curl -sSf -o %s %s/files/export" % (out, srv.origin))
            t1 = time.monotonic()
            sh("sync %s" % out)  # clipwatch fsyncs every file before the rename
            t2 = time.monotonic()
            r = srv.records("export")[n0]
            assert r["sent"] == GIB and os.path.getsize(out) == GIB
            curl_srv.append(r["t1"] - r["t0"])
            curl_wall.append(t1 - t0)
            curl_sync.append(t2 - t0)
            os.remove(out)

            # clipwatch: daemon, submit, wait for project.json
            d = os.path.join(WORK, "dl-%d" % rep)
            shutil.rmtree(d, ignore_errors=True)
            cfg = write_config(d, srv)
            sh("sync")
            dm = Daemon(cfg)
            dm.wait_ready()
            n0 = len(srv.records("export"))
            sh("%s --config %s submit https://youtu.be/benchdl%04d >/dev/null" % (BIN, cfg, rep), env=env())
            pj = wait_for(lambda: glob.glob(os.path.join(d, "clips", "*", "*", "project.json")), 120)
            t_done = time.time()
            hwm = dm.status("VmHWM")
            dm.stop()
            r = srv.records("export")[n0]
            succ = [x for x in srv.records("results") if x["status"] == "SUCCEEDED"][-1]
            assert r["sent"] == GIB and r["range"] is None
            mp4 = glob.glob(os.path.join(glob.escape(os.path.dirname(pj[0])), "*.mp4"))
            assert len(mp4) == 1 and os.path.getsize(mp4[0]) == GIB
            cw_srv.append(r["t1"] - r["t0"])
            cw_e2e.append(t_done - succ["t"])
            cw_hwm.append(hwm)
            shutil.rmtree(d)
            print("   rep %d: curl %.2fs (+sync %.2fs)  clipwatch transfer %.2fs, SUCCEEDED->project.json %.2fs, VmHWM %s"
                  % (rep, curl_wall[-1], curl_sync[-1], cw_srv[-1], cw_e2e[-1], mib(hwm)), flush=True)

        med = statistics.median
        thr = lambda s: "%.0f MiB/s" % (1024 / s)
        row("download", "curl to /dev/null (network only), median", thr(med(null_wall)))
        row("download", "curl to file: transfer (server-side), median", thr(med(curl_srv)))
        row("download", "curl wall, to file", "%.2f s" % med(curl_wall))
        row("download", "curl wall + fsync (sync FILE)", "%.2f s" % med(curl_sync))
        row("download", "clipwatch transfer (server-side), median", thr(med(cw_srv)), thr(med(curl_srv)) + " (curl)",
            "ratio %.2f (target >= 0.9)" % (med(curl_srv) / med(cw_srv)))
        row("download", "clipwatch SUCCEEDED -> project.json", "%.2f s" % med(cw_e2e),
            "%.2f s (curl+fsync)" % med(curl_sync), "ratio %.2f" % (med(curl_sync) / med(cw_e2e)))
        row("download", "clipwatch peak RSS (VmHWM), max of reps", mib(max(cw_hwm)), "30 MiB target",
            "ok" if max(cw_hwm) <= 30 * (1 << 20) else "MISSED")

        # ---- resume after kill -9 at ~50 %
        d = os.path.join(WORK, "dl-resume")
        shutil.rmtree(d, ignore_errors=True)
        cfg = write_config(d, srv)
        srv.throttle(256 << 20)  # 256 MiB/s so that 50 % can be hit precisely
        dm = Daemon(cfg)
        dm.wait_ready()
        n0 = len(srv.records("export"))
        sh("%s --config %s submit https://youtu.be/benchresume >/dev/null" % (BIN, cfg), env=env())

        def half():
            parts = glob.glob(os.path.join(d, "clips", "*", "*", "*.mp4.part"))
            return parts if parts and os.path.getsize(parts[0]) >= GIB // 2 else None
        part = wait_for(half, 120, step=0.002)[0]
        dm.proc.kill()
        dm.proc.wait()
        dm.sock.close()
        dm.log.close()
        have = os.path.getsize(part)
        srv.throttle(0)
        dm = Daemon(cfg, "daemon2.log")
        dm.wait_ready()
        pj = wait_for(lambda: glob.glob(os.path.join(d, "clips", "*", "*", "project.json")), 120)
        dm.stop()
        ex = srv.records("export")[n0:]
        mp4 = glob.glob(os.path.join(glob.escape(os.path.dirname(pj[0])), "*.mp4"))[0]
        same = subprocess.run(["cmp", "-s", mp4, big]).returncode == 0
        first, rest = ex[0], ex[1:]
        ok = (len(rest) == 1 and rest[0]["range"] == "bytes=%d-" % have and rest[0]["status"] == 206
              and rest[0]["sent"] == GIB - have and same)
        row("resume", "killed (SIGKILL) with .part at", "%s (%.1f %%)" % (mib(have), 100.0 * have / GIB))
        row("resume", "server bytes sent before the kill", mib(first["sent"]), "",
            "%s in flight, lost" % mib(first["sent"] - have))
        row("resume", "after restart: requests / Range / status",
            "%d / %s / %s" % (len(rest), rest[0]["range"] if rest else "-", rest[0]["status"] if rest else "-"))
        row("resume", "after restart: bytes sent", mib(rest[0]["sent"]) if rest else "-",
            "%s remaining" % mib(GIB - have), "PASS" if ok else "FAIL")
        row("resume", "final file identical to source (cmp)", "yes" if same else "NO")
        shutil.rmtree(d)
        if not ok:
            print("   resume records:", json.dumps(ex, indent=1))
    finally:
        srv.stop()


# ---------------------------------------------------------------- feeds at scale
def yt_feeds(n, start=0, interval="24h", preset="meta"):
    return "".join('[[feeds]]\nname = "yt%05d"\nyoutube = "PLbench%08d"\ninterval = "%s"\nbackfill = 0\npreset = "%s"\n\n'
                   % (i, i, interval, preset) for i in range(start, start + n))


def bench_feeds():
    sizes = [int(x) for x in os.environ.get("BENCH_FEEDS", "1000").split()]
    par = int(os.environ.get("BENCH_CURL_P", "32"))
    for n in sizes:
        print("\n== feeds: %d YouTube-format feeds, 15 entries each" % n, flush=True)
        srv = FakeServer("feeds-%d" % n)
        try:
            d = os.path.join(WORK, "feeds-%d" % n)
            shutil.rmtree(os.path.join(d, "state"), ignore_errors=True)
            cfg = write_config(d, srv, yt_feeds(n), export=False)
            urls = os.path.join(d, "urls.txt")
            with open(urls, "w") as f:
                for i in range(n):
                    f.write("%s/feeds/videos.xml?playlist_id=PLbench%08d\n" % (srv.origin, i))
            # warm the server's body cache so that neither side pays for generating the XML
            sh("xargs -P %d -n 100 curl -sSf -o /dev/null < %s >/dev/null" % (par, urls))
            s0 = srv.stats()
            # baseline: curl, in parallel, same URLs (bodies to /dev/null)
            cw, cc, cr, _ = timed(["sh", "-c", "xargs -P %d -n 50 curl -sSf < %s >/dev/null" % (par, urls)])
            s1 = srv.stats()
            assert s1["feed_200"] - s0["feed_200"] == n
            # clipwatch once, first pass
            w1, c1, r1, _ = timed([BIN, "--config", cfg, "once"])
            s2 = srv.stats()
            jobs = job_counts(cfg)
            # unchanged second pass
            w2, c2, r2, _ = timed([BIN, "--config", cfg, "once"])
            s3 = srv.stats()
            got200_1 = s2["feed_200"] - s1["feed_200"]
            got304_2, got200_2 = s3["feed_304"] - s2["feed_304"], s3["feed_200"] - s2["feed_200"]
            row("feeds %d" % n, "curl -P%d -n50 full fetch: wall / CPU" % par, "%.2f s / %.2f s" % (cw, cc))
            row("feeds %d" % n, "clipwatch once, 1st pass: wall", "%.2f s" % w1, "%.2f s (curl)" % cw,
                "ratio %.2f (target <= 1.2 at 10 000)" % (w1 / cw))
            row("feeds %d" % n, "clipwatch once, 1st pass: CPU s / peak RSS", "%.2f s / %s" % (c1, mib(r1)), "40 MB target",
                "ok" if r1 <= 40e6 else "MISSED")
            row("feeds %d" % n, "1st pass: 200s served / keys recorded", "%d / %d" % (got200_1, jobs.get("skipped", 0)),
                "%d / %d expected" % (n, 15 * n))
            row("feeds %d" % n, "clipwatch once, 2nd pass: wall", "%.2f s" % w2, "%.2f s (curl, full)" % cw,
                "ratio %.2f" % (w2 / cw))
            row("feeds %d" % n, "clipwatch once, 2nd pass: CPU s / peak RSS", "%.2f s / %s" % (c2, mib(r2)), "60 MB target",
                "ok" if r2 <= 60e6 else "MISSED")
            row("feeds %d" % n, "2nd pass: 304s / 200s served", "%d / %d" % (got304_2, got200_2), "%d / 0 expected" % n,
                "parsed nothing" if got304_2 == n and got200_2 == 0 else "CHECK")
        finally:
            srv.stop()


# ---------------------------------------------------------------- footprint
def bench_footprint():
    idle_s = float(os.environ.get("BENCH_IDLE_S", "60"))
    print("\n== footprint: 1000 feeds configured, 100 000 keys in sled, idle", flush=True)
    srv = FakeServer("footprint")
    try:
        d = os.path.join(WORK, "footprint")
        shutil.rmtree(d, ignore_errors=True)
        # 1000 YouTube feeds x 15 entries = 15 000 keys, plus 17 RSS feeds x 5 000 entries = 85 000 keys;
        # backfill = 0, so every entry is recorded as a skipped job (one key each) on first sight.
        rss = "".join('[[feeds]]\nname = "rss%02d"\nurl = "%s/rss/%d.xml?entries=5000"\ninterval = "24h"\n'
                      'backfill = 0\npreset = "meta"\n\n' % (i, srv.origin, i) for i in range(17))
        cfg = write_config(d, srv, yt_feeds(1000) + rss, export=False)
        w, c, r, _ = timed([BIN, "--config", cfg, "once"])
        jobs = job_counts(cfg)
        keys = jobs.get("skipped", 0)
        db = int(subprocess.run(["du", "-sb", os.path.join(d, "state", "db")], stdout=subprocess.PIPE,
                                check=True).stdout.split()[0])
        row("footprint", "populate: clipwatch once (1017 feeds)", "%.2f s, %.1f CPU s" % (w, c), "", "peak RSS %s" % mib(r))
        row("footprint", "keys recorded (skipped jobs)", "%d" % keys, "100000 expected", "ok" if keys == 100000 else "CHECK")
        row("footprint", "db size (du -sb state/db)", mib(db), "25 MiB per 100 000 keys target",
            "%s per 100 000 keys" % mib(db * 100000 / max(keys, 1)))

        readies = []
        for _ in range(3):
            dm = Daemon(cfg)
            readies.append(dm.wait_ready())
            dm.stop()
        row("footprint", "start-up to READY=1, median of 3 (all)", "%.0f ms" % (1000 * statistics.median(readies)),
            "200 ms target", ("ok" if statistics.median(readies) <= 0.2 else "MISSED")
            + " (%s)" % ", ".join("%.0f" % (1000 * x) for x in readies))

        s0 = srv.stats()
        dm = Daemon(cfg)
        dm.wait_ready()
        time.sleep(10)  # settle
        rss_settled = dm.status("VmRSS")
        t0, c0 = time.monotonic(), dm.cpu_ticks()
        time.sleep(idle_s)
        t1, c1 = time.monotonic(), dm.cpu_ticks()
        rss_end, hwm = dm.status("VmRSS"), dm.status("VmHWM")
        s1 = srv.stats()
        cpu_pct = 100.0 * (c1 - c0) / CLK_TCK / (t1 - t0)
        row("footprint", "idle RSS after 10 s settle / after %ds" % idle_s, "%s / %s" % (mib(rss_settled), mib(rss_end)),
            "20 MB target", "ok" if max(rss_settled, rss_end) <= 20e6 else "MISSED")
        row("footprint", "peak RSS of the idle daemon (VmHWM)", mib(hwm))
        row("footprint", "idle CPU over %.0f s (utime+stime)" % (t1 - t0), "%.3f %% (%d ticks)" % (cpu_pct, c1 - c0),
            "0.2 % target", "ok" if cpu_pct <= 0.2 else "MISSED")
        row("footprint", "feed requests while idle", "%d" % (s1["feed_200"] + s1["feed_304"] - s0["feed_200"] - s0["feed_304"]))
        try:
            rc = dm.stop(timeout=20)
            row("footprint", "SIGTERM -> exit of the idle daemon", "%.2f s (rc %d)" % (dm.stop_s, rc), "SPEC 7: short grace",
                "ok" if dm.stop_s < 5 else "SLOW")
        except subprocess.TimeoutExpired:
            dm.proc.kill()
            dm.proc.wait()
            row("footprint", "SIGTERM -> exit of the idle daemon", "> 20 s (SIGKILLed)", "SPEC 7: short grace", "MISSED")

        # reference point: the same daemon with no feeds and an empty database
        e = os.path.join(WORK, "footprint-empty")
        shutil.rmtree(e, ignore_errors=True)
        cfg0 = write_config(e, srv, "", export=False)
        readies0 = []
        for _ in range(3):
            dm = Daemon(cfg0)
            readies0.append(dm.wait_ready())
            time.sleep(2)
            rss0 = dm.status("VmRSS")
            dm.stop()
        row("footprint", "reference: 0 feeds, empty db: READY / RSS", "%.0f ms / %s" % (1000 * statistics.median(readies0), mib(rss0)))
    finally:
        srv.stop()

# ---------------------------------------------------------------- store scale
def bench_scale():
    """A store of BENCH_KEYS keys (default 1 000 000; RSS feeds of 5 000 skipped
    entries each): database size, READY, idle RSS and `jobs --state failed`."""
    keys = int(os.environ.get("BENCH_KEYS", "1000000"))
    feeds = max(1, keys // 5000)
    print("\n== scale: %d keys in the store (%d RSS feeds x 5000, all skipped)" % (feeds * 5000, feeds), flush=True)
    srv = FakeServer("scale")
    try:
        d = os.path.join(WORK, "scale")
        shutil.rmtree(d, ignore_errors=True)
        rss = "".join('[[feeds]]\nname = "rss%04d"\nurl = "%s/rss/%d.xml?entries=5000"\ninterval = "24h"\n'
                      'backfill = 0\npreset = "meta"\n\n' % (i, srv.origin, i) for i in range(feeds))
        cfg = write_config(d, srv, rss, export=False)
        w, c, r, _ = timed([BIN, "--config", cfg, "once"])
        jobs = job_counts(cfg)
        got = sum(jobs.values())
        db = int(subprocess.run(["du", "-sb", os.path.join(d, "state", "db")], stdout=subprocess.PIPE,
                                check=True).stdout.split()[0])
        row("scale", "populate: clipwatch once (%d feeds)" % feeds, "%.2f s, %.1f CPU s" % (w, c), "", "peak RSS %s" % mib(r))
        row("scale", "keys recorded", "%d" % got, "%d expected" % (feeds * 5000), "ok" if got == feeds * 5000 else "CHECK")
        row("scale", "db size (du -sb state/db)", mib(db), "25 MiB per 100 000 keys target",
            "%s per 100 000 keys" % mib(db * 100000 / max(got, 1)))

        def failed_query():
            t0 = time.monotonic()
            subprocess.run([BIN, "--config", cfg, "jobs", "--state", "failed", "--json"], env=env(),
                           stdout=subprocess.DEVNULL, check=True)
            return time.monotonic() - t0
        direct = [failed_query() for _ in range(3)]
        row("scale", "jobs --state failed, no daemon (opens the db), median of 3", "%.0f ms" % (1000 * statistics.median(direct)),
            "100 ms target", ("ok" if statistics.median(direct) <= 0.1 else "MISSED")
            + " (%s)" % ", ".join("%.0f" % (1000 * x) for x in direct))

        readies = []
        for _ in range(3):
            dm = Daemon(cfg)
            readies.append(dm.wait_ready())
            dm.stop()
        row("scale", "start-up to READY=1, median of 3 (all)", "%.0f ms" % (1000 * statistics.median(readies)),
            "200 ms target", ("ok" if statistics.median(readies) <= 0.2 else "MISSED")
            + " (%s)" % ", ".join("%.0f" % (1000 * x) for x in readies))

        dm = Daemon(cfg)
        dm.wait_ready()
        time.sleep(10)
        rss_settled = dm.status("VmRSS")
        via = [failed_query() for _ in range(3)]
        row("scale", "jobs --state failed, daemon running, median of 3", "%.0f ms" % (1000 * statistics.median(via)),
            "100 ms target", ("ok" if statistics.median(via) <= 0.1 else "MISSED")
            + " (%s)" % ", ".join("%.0f" % (1000 * x) for x in via))
        time.sleep(10)
        rss_end, hwm = dm.status("VmRSS"), dm.status("VmHWM")
        row("scale", "idle RSS 10 s after READY / 10 s later", "%s / %s" % (mib(rss_settled), mib(rss_end)),
            "25 MB target", "ok" if max(rss_settled, rss_end) <= 25e6 else "MISSED")
        row("scale", "peak RSS of the daemon (VmHWM)", mib(hwm))
        dm.stop(timeout=30)
    finally:
        srv.stop()


def main():
    which = sys.argv[1:] or ["throughput", "downloads", "footprint", "feeds"]
    os.makedirs(WORK, exist_ok=True)
    if not os.access(BIN, os.X_OK):
        raise SystemExit("no binary at %s (run bench/run.sh)" % BIN)
    print("clipwatch benchmarks: %s; nproc %d; binary %s" % (" ".join(which), os.cpu_count(), BIN))
    print("  %-10s %-46s %-18s %-26s %s" % ("section", "metric", "value", "baseline / target", "ratio / verdict"))
    for w in which:
        {"throughput": bench_throughput, "downloads": bench_downloads,
         "footprint": bench_footprint, "feeds": bench_feeds, "scale": bench_scale}[w]()
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "latest.md"), "w") as f:
        f.write("| section | metric | value | baseline / target | ratio / verdict |\n|---|---|---|---|---|\n")
        for r in ROWS:
            f.write("| " + " | ".join(str(x) for x in r) + " |\n")
    print("\ntable written to bench/results/latest.md")


if __name__ == "__main__":
    main()
