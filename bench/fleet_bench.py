#!/usr/bin/env python3
"""The fleet end to end against hunt, on the same events in the same run.

A nats-server on a loopback port with a temporary store; `pickaxe ship`
publishes the events while 1, then 2 `pickaxe serve` workers (fresh store
each time) run the bundled pack. Reports, for each:
- events/s end to end (from the first publish until every partition has read
  everything) and its ratio to `pickaxe hunt` over the same file;
- ship's own rate and its time publishing;
- the consumer lag over time (all partitions, sampled each second);
- where the workers' time goes: fetch, check (JSON and partition key), match
  (the rules), publish (alerts), checkpoint.
Events are Endpoint-like lines from ../shared/tools/gen_ecs.py (bench/data/).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    values = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            for line in reply.read().decode().splitlines():
                if line and not line.startswith("#"):
                    name, value = line.rsplit(" ", 1)
                    values[name] = float(value)
    except OSError:
        pass
    return values


def total(values, prefix):
    return sum(v for k, v in values.items() if k.startswith(prefix))


def run_fleet(pickaxe, events, count, workers, work, backlog):
    """`backlog`: ship everything first, then time the workers draining it."""
    store = tempfile.mkdtemp(dir=work)
    port = free_port()
    server = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
                               store], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    ship_summary = ""
    if backlog:
        shipped = subprocess.run([pickaxe, "ship", "--nats", url, str(events)],
                                 capture_output=True, text=True, check=True)
        ship_summary = shipped.stderr.strip().splitlines()[0]
    ports = [free_port() for _ in range(workers)]
    serving = [subprocess.Popen([pickaxe, "serve", "--nats", url, "--quiet", "--metrics-addr",
                                 f"127.0.0.1:{p}", "--worker-name", f"bench{i}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for i, p in enumerate(ports)]
    if not backlog:
        time.sleep(1.5)  # leases taken
    began = time.time()
    ship = None
    if not backlog:
        ship = subprocess.Popen([pickaxe, "ship", "--nats", url, str(events)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lags, shipped_at, done_at = [], None if ship else began, None
    next_sample = began
    last_read, last_at = -1, began
    while time.time() - began < 900:
        now = time.time()
        if shipped_at is None and ship and ship.poll() is not None:
            shipped_at = now
        values = [metrics(p) for p in ports]
        lag = sum(total(v, "pickaxe_fleet_consumer_lag") for v in values)
        owned = sum(total(v, "pickaxe_fleet_partitions_owned") for v in values)
        if now >= next_sample:
            lags.append((now - began, int(lag)))
            next_sample += 1
        read = sum(total(v, "pickaxe_events_total") for v in values)
        # Done: everything shipped, every partition owned, nothing left to
        # read, and the counts still for a moment.
        if shipped_at is not None and lag == 0 and owned >= 16 and read >= count:
            if read == last_read:
                done_at = last_at
                break
        last_read, last_at = read, now
        time.sleep(0.2)
    if ship:
        ship_summary = ship.stderr.read().strip().splitlines()[0]
    stages = {}
    for v in (metrics(p) for p in ports):
        for key, value in v.items():
            if key.startswith("pickaxe_fleet_seconds_total"):
                stage = key.split('"')[1]
                stages[stage] = stages.get(stage, 0) + value
    for process in serving:
        process.send_signal(signal.SIGTERM)
    for process in serving:
        process.wait(timeout=60)
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(store, ignore_errors=True)
    seconds = (done_at or time.time()) - began
    return {"seconds": seconds, "rate": count / seconds, "ship": ship_summary, "lags": lags,
            "stages": stages, "complete": done_at is not None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--events", type=Path, required=True, help="NDJSON events")
    parser.add_argument("--count", type=int, default=300_000, help="events used (the first N)")
    args = parser.parse_args()
    if shutil.which("nats-server") is None:
        print("fleet bench skipped: nats-server is not installed")
        return 0
    pickaxe = str(Path(args.build) / "pickaxe")
    work = tempfile.mkdtemp(prefix="pickaxe-fleet-bench-")
    try:
        events = Path(work) / "events.ndjson"
        with open(args.events) as source, open(events, "w") as out:
            for index, line in enumerate(source):
                if index >= args.count:
                    break
                out.write(line)
        hunts = {}
        for threads in (1, 2):
            began = time.time()
            subprocess.run([pickaxe, "hunt", "--quiet", "--format", "ndjson", "--threads",
                            str(threads), str(events)], stdout=subprocess.DEVNULL, check=True)
            hunts[threads] = args.count / (time.time() - began)
        print(f"\nfleet: {args.count} events, the bundled pack, 16 partitions (2 cores)")
        print(f"  hunt, 1 thread:  {hunts[1]:>9.0f} events/s")
        print(f"  hunt, 2 threads: {hunts[2]:>9.0f} events/s")
        for workers, backlog in ((1, False), (2, False), (1, True), (2, True)):
            result = run_fleet(pickaxe, events, args.count, workers, work, backlog)
            state = "" if result["complete"] else " (INCOMPLETE: timed out)"
            what = "draining a shipped backlog" if backlog else "end to end, shipping meanwhile"
            print(f"  {workers} worker{'s' if workers > 1 else ''}, {what}: "
                  f"{result['rate']:.0f} events/s, {result['rate'] / hunts[1]:.2f}x hunt's 1 "
                  f"thread, {result['seconds']:.1f} s{state}")
            print(f"    {result['ship']}")
            lags = ", ".join(f"{t:.0f}s:{lag}" for t, lag in result["lags"])
            print(f"    consumer lag (all partitions): {lags}")
            busy = sum(result["stages"].values())
            shares = ", ".join(f"{stage} {seconds:.2f} s ({100 * seconds / busy:.0f}%)"
                               for stage, seconds in result["stages"].items()) if busy else "-"
            print(f"    worker time: {shares}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
