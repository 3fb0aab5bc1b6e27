#!/usr/bin/env python3
"""pickaxe watch under a sustained load: events appended to a file at a
steady rate (20 k/s by default) for a while (60 s), with the bundled pack.

Reports the append-to-alert latency of every alert (p50, p99, max), the CPU
pickaxe used (share of one core) and its peak RSS. Events are Endpoint-like
lines from ../shared/tools/gen_ecs.py (via bench/data/, as run_bench.py makes
them), each dated when it is appended and numbered in a top-level
`bench_seq` field, which its alerts carry.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--events", type=Path, required=True, help="NDJSON lines to append, cycled")
    parser.add_argument("--rate", type=int, default=20_000, help="events per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-lateness", default="500ms", help="watch's reorder window")
    args = parser.parse_args()

    # Each line becomes {"bench_seq":N,"@timestamp":"<now>", + the rest of it.
    templates = []
    with open(args.events) as lines:
        for line in lines:
            if not line.startswith('{"@timestamp":"'):
                continue
            end = line.index('"', 15)
            templates.append(line[end + 1:])
            if len(templates) >= 200_000:
                break
    if not templates:
        sys.exit(f"watch_bench: no events in {args.events}")

    work = Path(tempfile.mkdtemp(prefix="pickaxe-watch-bench-"))
    log, alerts = work / "events.ndjson", work / "alerts.ndjson"
    log.touch()
    watch = subprocess.Popen(
        [str(Path(args.build) / "pickaxe"), "watch", "--quiet", "--max-lateness", args.max_lateness,
         "--output", str(alerts), str(log)],
        stderr=subprocess.PIPE)
    while not alerts.exists():
        time.sleep(0.01)
    time.sleep(0.3)

    appended = {}  # bench_seq -> monotonic time of its append
    latencies = []
    done = threading.Event()

    def read_alerts():
        offset, rest = 0, ""
        while True:
            with open(alerts) as text:
                text.seek(offset)
                chunk = text.read()
                offset = text.tell()
            seen = time.monotonic()
            rest += chunk
            *complete, rest = rest.split("\n")
            # A sequence's alerts (one per event, sharing a group id) are timed
            # from the append of its newest event: the one that completed it.
            groups = {}
            for line in complete:
                alert = json.loads(line)
                seq = alert.get("bench_seq")
                if seq is None or seq not in appended:
                    continue
                group = alert.get("kibana.alert.group.id")
                if group is None:
                    latencies.append(seen - appended[seq])
                else:
                    groups[group] = max(groups.get(group, 0), appended[seq])
            for newest in groups.values():
                latencies.append(seen - newest)
            if done.is_set() and not chunk:
                return
            time.sleep(0.005)

    reader = threading.Thread(target=read_alerts)
    reader.start()
    batch = max(1, args.rate // 100)  # every 10 ms
    sequence = 0
    started = time.monotonic()
    cpu_before = cpu_seconds(watch.pid)
    with open(log, "a") as out:
        while time.monotonic() - started < args.seconds:
            stamp = now_iso()
            text = []
            for _ in range(batch):
                text.append(f'{{"bench_seq":{sequence},"@timestamp":"{stamp}"'
                            + templates[sequence % len(templates)])
                sequence += 1
            out.write("".join(text))
            out.flush()
            at = time.monotonic()
            for seq in range(sequence - batch, sequence):
                appended[seq] = at
            target = started + sequence / args.rate
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    elapsed = time.monotonic() - started
    time.sleep(2)  # the last alerts come within a second
    cpu = cpu_seconds(watch.pid) - cpu_before
    rss = peak_rss_kb(watch.pid)
    done.set()
    reader.join()
    watch.send_signal(signal.SIGTERM)
    _, err = watch.communicate(timeout=60)
    if watch.returncode != 0:
        sys.exit(f"watch_bench: watch exited {watch.returncode}: {err.decode()}")

    latencies.sort()

    def at(quantile):
        return latencies[min(len(latencies) - 1, int(quantile * len(latencies)))] if latencies else 0

    print(f"watch: {sequence} events appended in {elapsed:.1f} s ({sequence / elapsed:,.0f}/s), "
          f"{len(latencies)} alerts timed")
    print(f"  append-to-alert latency: p50 {at(0.5) * 1000:.0f} ms, p99 {at(0.99) * 1000:.0f} ms, "
          f"max {(latencies[-1] if latencies else 0) * 1000:.0f} ms  (target: every alert < 1000 ms)")
    print(f"  CPU: {cpu / elapsed:.2f} of one core; peak RSS {rss / 1024:.0f} MB")
    for path in (log, alerts):
        path.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
