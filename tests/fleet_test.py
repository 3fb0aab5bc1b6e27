#!/usr/bin/env python3
"""The fleet through the real binaries and a real nats-server.

1. Equivalence: `pickaxe ship` publishes generated events (gen_ecs.py: hosts
   with planted miners) and the emulations' telemetry; three `pickaxe serve`
   workers run the pack plus a sequence joined by host.name and one rule that
   partitioning cannot make exact. The multiset of (rule, alert kind, event
   ids) read back with `pickaxe alerts` equals `pickaxe hunt`'s over the same
   files, as do the alerts' uuids.
2. Faults: the same with one worker killed (SIGKILL) halfway, nats-server
   restarted once on the same store, and a fourth worker started later; the
   result is still equal and no kibana.alert.uuid comes twice. Messages of a
   foreign producer (not JSON, no partition key, too large) are each in
   PICKAXE_DEAD_LETTER once, reported with subject and sequence.
3. A producer killed and restarted, then following a file across a server
   restart: each line is in the stream once.
4. A server that accepts connections but does not answer (stopped with
   SIGSTOP for longer than a request's wait) while three workers and a
   producer start: all wait for it, then the alerts equal hunt's.

Exits 77 (skipped, with why) without nats-server or ../shared's generator.
"""
import argparse
import collections
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
DETECTION_TIME = "2026-12-01T00:00:00.000Z"
# A quiet partition's time follows the wall clock (docs/FLEET.md): while the
# producer waits out the server's restart (its reconnect backoff reaches
# several seconds), its next events would be late under a 2 s lateness, and
# the generated data's events of one host come up to ~1 s out of order. Hunt
# and the fleet both run with this lateness, far above that pause.
LATENESS = "15s"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    def __init__(self, store):
        self.store = store
        self.port = free_port()
        self.monitor = free_port()
        self.process = None
        self.log = open(os.path.join(store, "nats-server.log"), "ab")

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port), "-m",
             str(self.monitor), "-sd", os.path.join(self.store, "jetstream")],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nats-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def stream_messages(self, name):
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.monitor}/jsz?streams=true", timeout=5) as reply:
            info = json.load(reply)
        for account in info.get("account_details", []):
            for stream in account.get("stream_detail", []) or []:
                if stream["name"] == name:
                    return stream["state"]["messages"]
        return 0

    def publish_raw(self, subject, payload):
        """A foreign producer: core NATS, no pickaxe involved."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.recv(4096)  # INFO
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
            s.sendall(f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\nPING\r\n")
            reply = b""
            while b"PONG" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("nats-server closed the connection")
                reply += chunk


def fresh_server(work, name):
    """A nats-server started on a store of its own under `work`."""
    store = os.path.join(work, name)
    os.makedirs(store)
    server = NatsServer(store)
    server.start()
    return server


def identities(lines):
    """(rule_id, alert or building block, event ids) and the uuids."""
    alerts, uuids = collections.Counter(), collections.Counter()
    for line in lines:
        alert = json.loads(line)
        event = alert.get("event", {})
        event_id = event.get("id") if isinstance(event, dict) else None
        if event_id is None:
            event_id = alert.get("event.id") or alert.get("kibana.alert.original_time")
        kind = "building block" if "kibana.alert.building_block_type" in alert else "alert"
        alerts[(alert["kibana.alert.rule.rule_id"], kind, str(event_id))] += 1
        uuids[alert["kibana.alert.uuid"]] += 1
    return alerts, uuids


class Fleet:
    def __init__(self, args, work, rules, nats, phase):
        self.args, self.work, self.rules, self.nats = args, work, rules, nats
        self.phase = phase  # names the logs
        self.workers = []

    def rule_flags(self):
        flags = []
        for path in self.rules:
            flags += ["--rules", path]
        return flags + ["--max-lateness", LATENESS, "--detection-time", DETECTION_TIME]

    def ship(self, inputs, background=False):
        command = [self.args.pickaxe, "ship", "--nats", self.nats.url, "--partition-key",
                   "host.name", *inputs]
        log = open(os.path.join(self.work, f"{self.phase}-ship.log"), "ab")
        if background:
            return subprocess.Popen(command, stdout=log, stderr=log)
        subprocess.run(command, stdout=log, stderr=log, check=True, timeout=600)

    def start_worker(self):
        index = len(self.workers)
        log = open(os.path.join(self.work, f"{self.phase}-worker-{index}.log"), "wb")
        process = subprocess.Popen(
            [self.args.pickaxe, "serve", "--nats", self.nats.url, "--lease-ttl", "3s",
             "--checkpoint-interval", "1s", "--max-line-bytes", "65536",
             "--worker-name", f"w{index}", "--partition-key", "host.name",
             *self.rule_flags()],
            stdout=log, stderr=log)
        self.workers.append(process)
        return process

    def alerts(self):
        done = subprocess.run(
            [self.args.pickaxe, "alerts", "--nats", self.nats.url, "--format", "ndjson"],
            capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            return None
        return done.stdout.splitlines()

    def wait_for(self, expected, timeout):
        """Until the fleet has raised `expected` alerts and nothing more came for 4 s."""
        deadline = time.time() + timeout
        last, stable_since = -1, time.time()
        while time.time() < deadline:
            lines = self.alerts()
            count = len(lines) if lines is not None else -1
            if count != last:
                last, stable_since = count, time.time()
            if count >= expected and time.time() - stable_since >= 4:
                return lines
            time.sleep(1)
        return self.alerts() or []

    def said_by_failed(self, codes):
        """The last lines of each worker that exited with a failure: a CI log
        shows its head and tail, and may cut the logs shown at the end."""
        said = ""
        for index, code in enumerate(codes):
            if code in (0, None, -signal.SIGKILL):
                continue
            path = os.path.join(self.work, f"{self.phase}-worker-{index}.log")
            with open(path, errors="replace") as log:
                tail = log.readlines()[-6:]
            said += f"\n  {self.phase}-worker-{index}.log ends: " + "".join(
                "\n    " + line.rstrip()[:300] for line in tail)
        return said

    def stop_workers(self):
        codes = []
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                codes.append(process.wait(timeout=60))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append("hung")
        return codes


def compare(name, expected, got):
    want, want_uuids = identities(expected)
    have, have_uuids = identities(got)
    problems = []
    if want != have:
        missing = want - have
        extra = have - want
        problems.append(f"{name}: hunt raised {sum(want.values())} alerts, the fleet "
                        f"{sum(have.values())}; missing {sorted(missing.items())[:5]}, extra "
                        f"{sorted(extra.items())[:5]}")
    repeated = [uuid for uuid, count in have_uuids.items() if count > 1]
    if repeated:
        problems.append(f"{name}: {len(repeated)} kibana.alert.uuid values come twice, e.g. "
                        f"{repeated[:3]}")
    if want_uuids != have_uuids and not repeated:
        problems.append(f"{name}: the alerts' uuids differ from hunt's")
    rules = {rule for rule, _, _ in have}
    print(f"{name}: {sum(have.values())} alerts of {len(rules)} rules; "
          f"{'equal to hunt' if not problems else 'DIFFERENT'}")
    return problems


def producer_restarts(args, work, nats, events):
    """ship --state-dir over a growing file: killed (SIGKILL) while following
    it, then restarted; then following it while nats-server restarts. The
    stream ends with each line once."""
    problems = []
    growing = os.path.join(work, "growing.ndjson")
    state = os.path.join(work, "ship-state")
    with open(events) as source:
        lines = source.readlines()
    quarter = len(lines) // 4
    ship = [args.pickaxe, "ship", "--nats", nats.url, "--state-dir", state, growing]
    follow = ship[:2] + ["--follow"] + ship[2:]
    log = open(os.path.join(work, "ship-restarts.log"), "ab")

    def wait_for(count, timeout=120):
        deadline = time.time() + timeout
        while nats.stream_messages("PICKAXE_EVENTS") < count and time.time() < deadline:
            time.sleep(0.05)
        return nats.stream_messages("PICKAXE_EVENTS")

    with open(growing, "w") as out:
        out.writelines(lines[:quarter])
    subprocess.run(ship, stdout=log, stderr=log, check=True, timeout=300)
    first = nats.stream_messages("PICKAXE_EVENTS")
    with open(growing, "a") as out:
        out.writelines(lines[quarter:3 * quarter])
    following = subprocess.Popen(follow, stdout=log, stderr=log)
    wait_for(first + quarter)
    following.kill()
    following.wait()
    killed_at = nats.stream_messages("PICKAXE_EVENTS")
    subprocess.run(ship, stdout=log, stderr=log, check=True, timeout=300)
    subprocess.run(ship, stdout=log, stderr=log, check=True, timeout=300)  # nothing new
    restarted = nats.stream_messages("PICKAXE_EVENTS")
    # Following while the server restarts: ship waits for it and goes on.
    following = subprocess.Popen(follow, stdout=log, stderr=log)
    time.sleep(1)
    with open(growing, "a") as out:
        out.writelines(lines[3 * quarter:])
    wait_for(restarted + quarter // 4)
    nats.stop()
    time.sleep(1)
    nats.start()
    final = wait_for(len(lines))
    time.sleep(2)
    following.send_signal(signal.SIGTERM)
    code = following.wait(timeout=60)
    final = nats.stream_messages("PICKAXE_EVENTS")
    print(f"producer: {first} events, killed at {killed_at}, {restarted} after two restarts, "
          f"{final} of {len(lines)} after following across a server restart (exit {code})")
    if first != quarter or restarted != 3 * quarter or final != len(lines) or code != 0:
        problems.append(f"producer: the stream holds {final} events of {len(lines)} lines "
                        f"({first} after the first run, of {quarter}; {restarted} after the "
                        f"restarts, of {3 * quarter}); ship exited {code}")
    return problems


def stalled_start(args, work, rules, nats, inputs, expected):
    """Phase 4: ship and serve started against a stopped (SIGSTOP) server."""
    fleet = Fleet(args, work, rules, nats, "stalled")
    problems = []
    nats.process.send_signal(signal.SIGSTOP)
    try:
        for _ in range(3):  # setting up the streams and buckets at once
            fleet.start_worker()
        shipping = fleet.ship(inputs, background=True)
        time.sleep(8)  # past the client's connection timeout and JetStream's request wait
    finally:
        nats.process.send_signal(signal.SIGCONT)
    try:
        try:
            code = shipping.wait(timeout=120)
        except subprocess.TimeoutExpired:
            shipping.kill()
            code = "hung"
        if code != 0:
            problems.append(f"stalled start: ship exited {code} (see stalled-ship.log)")
        got = fleet.wait_for(len(expected), timeout=300)
        problems += compare("stalled start", expected, got)
    finally:
        codes = fleet.stop_workers()
    if codes != [0, 0, 0]:
        problems.append(f"stalled start: the workers exited with {codes}"
                        + fleet.said_by_failed(codes))
    return problems


def restart_is_not_quiet(args, work, nats):
    """A server restart pauses the producers: a worker must not take the pause
    for quiet and move its partition's time on, or what the producers send
    once back comes late. Here a miner's connection (T0 + 0.9 s) is read
    before the restart, and its start (T0 + 0.5 s) comes after it: the
    sequence is found only if the connection is still held in the reorder
    buffer (--max-lateness 3s) when the start comes."""
    problems = []
    rule = os.path.join(args.source_dir, "tests", "data", "fleet", "miner_then_pool_by_host.toml")
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    def event(offset, category, entity, **fields):
        stamp = (t0 + datetime.timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        document = {"@timestamp": stamp, "data_stream": {
            "type": "logs", "dataset": f"endpoint.events.{category}", "namespace": "default"},
            "event": {"kind": "event", "category": [category], "id": f"{entity}-{category}"},
            "host": {"name": "restart-host"}, "process": {"entity_id": entity, "pid": 4242}}
        for key, value in fields.items():
            document.setdefault(key, {}).update(value)
        return json.dumps(document) + "\n"

    before = os.path.join(work, "before-restart.ndjson")
    with open(before, "w") as out:
        out.write(event(0.9, "network", "miner", network={"direction": "egress"}))
    after = os.path.join(work, "after-restart.ndjson")
    with open(after, "w") as out:
        out.write(event(0.5, "process", "miner", event={"type": ["start"]},
                        process={"name": "xmrig"}))
    log = open(os.path.join(work, "restart-worker.log"), "wb")
    worker = subprocess.Popen(
        [args.pickaxe, "serve", "--nats", nats.url, "--lease-ttl", "10s", "--checkpoint-interval",
         "1s", "--worker-name", "restart", "--partition-key", "host.name", "--rules", rule,
         "--max-lateness", "3s"], stdout=log, stderr=log)
    ship_log = open(os.path.join(work, "restart-ship.log"), "ab")
    ship = [args.pickaxe, "ship", "--nats", nats.url, "--partition-key", "host.name"]
    def worker_said(text):
        with open(os.path.join(work, "restart-worker.log"), errors="replace") as said:
            return text in said.read()

    def wait_until_said(text):
        deadline = time.time() + 60
        while not worker_said(text) and time.time() < deadline:
            time.sleep(0.1)

    try:
        wait_until_said("took ")
        subprocess.run(ship + [before], stdout=ship_log, stderr=ship_log, check=True, timeout=120)
        time.sleep(0.5)  # read, and held: quiet for less than --max-lateness
        nats.stop()
        time.sleep(2)  # within --lease-ttl: the worker keeps its leases
        nats.start()
        # The worker back first, finding nothing new; the producer a little later.
        wait_until_said("reconnected to NATS")
        time.sleep(1)
        subprocess.run(ship + [after], stdout=ship_log, stderr=ship_log, check=True, timeout=120)
        alerts = []
        deadline = time.time() + 60
        while time.time() < deadline and not alerts:
            done = subprocess.run([args.pickaxe, "alerts", "--nats", nats.url, "--format",
                                   "ndjson"], capture_output=True, text=True, timeout=60)
            alerts = [line for line in done.stdout.splitlines()
                      if "kibana.alert.building_block_type" not in line]
            time.sleep(1)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    with open(os.path.join(work, "restart-worker.log"), errors="replace") as said:
        summary = [line.strip() for line in said if line.startswith("serve: ")]
    print(f"restart: {len(alerts)} alert(s) for the sequence sent after the server's restart; "
          + "; ".join(summary))
    if len(alerts) != 1 or code != 0 or not any(" 0 late," in line for line in summary):
        problems.append(f"restart: {len(alerts)} alerts for the sequence sent after the "
                        f"server's restart, not 1, and no late event (its events came late?); "
                        f"the worker exited {code}: {summary}")
    return problems


def late_counts(work, phase):
    """Each worker's events processed late, from its stop summary."""
    counts = []
    for index in range(16):
        path = os.path.join(work, f"{phase}-worker-{index}.log")
        if not os.path.exists(path):
            break
        with open(path, errors="replace") as log:
            said = [line for line in log if line.startswith("serve: stopped")]
        late = said[-1].split(" late,")[0].rsplit(" ", 1)[-1] if said else "?"
        counts.append(f"worker {index}: {late} late")
    return counts


def show_logs(work):
    """The end of each process's log: what a failure on a machine gone since says."""
    for root, _, names in sorted(os.walk(work)):
        for name in sorted(names):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(root, name), errors="replace") as log:
                tail = log.readlines()[-12:]
            print(f"--- {os.path.relpath(os.path.join(root, name), work)} (last lines)")
            print("".join(line[:300] for line in tail), end="")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pickaxe", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--events", type=int, default=300000)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--phase", type=int, action="append", choices=range(1, 6),
                        help="run only this phase (1 to 5; may repeat), to reproduce one")
    args = parser.parse_args()

    def wanted(phase):
        return not args.phase or phase in args.phase
    if shutil.which("nats-server") is None:
        print("skipped: nats-server is not installed (Debian package nats-server)")
        return SKIP
    generator = os.path.join(args.shared, "tools", "gen_ecs.py")
    if not os.path.exists(generator):
        print(f"skipped: {generator} is absent (the shared data folder)")
        return SKIP

    work = tempfile.mkdtemp(prefix="pickaxe-fleet-")
    problems = []
    try:
        events = os.path.join(work, "events.ndjson")
        with open(events, "wb") as out:
            subprocess.run([sys.executable, generator, "--events", str(args.events), "--hosts",
                            "500", "--miners", str(max(4, args.events // 7500))], stdout=out, check=True)
        emulations = os.path.join(args.source_dir, "emulations")
        telemetry = sorted(
            os.path.join(root, name) for root, _, names in os.walk(emulations) for name in names
            if name.endswith((".ndjson", ".log", ".json")))
        inputs = telemetry + [events]
        rules = [os.path.join(args.source_dir, "rules", "t1204_003"),
                 os.path.join(args.source_dir, "tests", "data", "fleet")]
        hunt_flags = []
        for path in rules:
            hunt_flags += ["--rules", path]
        hunt = subprocess.run(
            [args.pickaxe, "hunt", "--format", "ndjson", *hunt_flags,
             "--max-lateness", LATENESS, "--detection-time", DETECTION_TIME, *inputs],
            capture_output=True, text=True, check=True, timeout=600)
        expected = hunt.stdout.splitlines()
        print(f"hunt: {len(expected)} alerts over {len(inputs)} files")
        # A fleet counts max_signals per partition (docs/FLEET.md): the
        # comparison holds only when no rule reached it.
        if "past max_signals" in hunt.stderr:
            problems.append("hunt: a rule reached max_signals; use fewer miners per event")

        # 1. Equivalence.
        if wanted(1):
            nats = fresh_server(work, "nats-1")
            fleet = Fleet(args, work, rules, nats, "equivalence")
            try:
                fleet.ship(inputs)
                for _ in range(3):
                    fleet.start_worker()
                got = fleet.wait_for(len(expected), timeout=300)
                problems += compare("equivalence", expected, got)
                codes = fleet.stop_workers()
                if any(code != 0 for code in codes):
                    problems.append(f"equivalence: workers exited with {codes}"
                                    + fleet.said_by_failed(codes))
            finally:
                fleet.stop_workers()
                nats.stop()

        # 2. Faults: a worker killed, the server restarted, a worker added.
        if wanted(2):
            nats = fresh_server(work, "nats-2")
            fleet = Fleet(args, work, rules, nats, "faults")
            try:
                for _ in range(3):
                    fleet.start_worker()
                shipping = fleet.ship(inputs, background=True)
                foreign = [
                    ("pickaxe.events.3", b"this is not JSON"),
                    ("pickaxe.events.5", json.dumps({"@timestamp": DETECTION_TIME, "event": {
                        "category": ["process"]}}).encode()),
                    ("pickaxe.events.7", json.dumps({"@timestamp": DETECTION_TIME, "host": {
                        "name": "x" * 100000}}).encode()),
                ]
                # Into the stream the workers created (a publish before it would be lost).
                deadline = time.time() + 60
                while nats.stream_messages("PICKAXE_EVENTS") == 0 and time.time() < deadline:
                    time.sleep(0.1)
                for subject, payload in foreign:
                    nats.publish_raw(subject, payload)
                deadline = time.time() + 300
                while time.time() < deadline:
                    lines = fleet.alerts() or []
                    if len(lines) >= len(expected) // 2:
                        break
                    time.sleep(0.5)
                fleet.workers[0].kill()  # SIGKILL: no checkpoint, no lease given back
                print(f"faults: worker 0 killed at {len(lines)} alerts")
                nats.stop()
                time.sleep(1)
                nats.start()
                print("faults: nats-server restarted")
                time.sleep(2)
                fleet.start_worker()
                if shipping.wait(timeout=600) != 0:
                    problems.append("faults: ship failed across the server's restart (see faults-ship.log)")
                got = fleet.wait_for(len(expected), timeout=300)
                problems += compare("faults", expected, got)
                dead = nats.stream_messages("PICKAXE_DEAD_LETTER")
                if dead != len(foreign):
                    problems.append(f"faults: {dead} dead letters, not {len(foreign)}")
                codes = fleet.stop_workers()
                if any(code != 0 for code in codes[1:]):
                    problems.append(f"faults: workers exited with {codes}"
                                    + fleet.said_by_failed([0] + codes[1:]))
                print("faults: " + "; ".join(late_counts(work, "faults")))
                reports = []
                for index in range(len(fleet.workers)):
                    with open(os.path.join(work, f"faults-worker-{index}.log"), errors="replace") as log:
                        reports += [line for line in log if "sent to PICKAXE_DEAD_LETTER" in line]
                # Each is reported by the worker that read it; a worker killed
                # before its checkpoint covered one leaves it to the next owner,
                # which reports it again (the dead letter itself is dropped as a
                # duplicate: the count above). Never more.
                for subject, _ in foreign:
                    said = [line for line in reports if f"{subject}:" in line]
                    if not 1 <= len(said) <= 2:
                        problems.append(f"faults: the bad message on {subject} was reported "
                                        f"{len(said)} times: {said}")
                print(f"faults: {dead} dead letters; " + "; ".join(line.strip() for line in reports))
            finally:
                fleet.stop_workers()
                nats.stop()

        # 3. A producer killed and restarted neither skips nor repeats.
        if wanted(3):
            nats = fresh_server(work, "nats-3")
            try:
                problems += producer_restarts(args, work, nats, events)
            finally:
                nats.stop()

        # 4. A server that does not answer yet is waited for.
        if wanted(4):
            nats = fresh_server(work, "nats-4")
            try:
                problems += stalled_start(args, work, rules, nats, inputs, expected)
            finally:
                nats.stop()

        # 5. A server restart is not quiet.
        if wanted(5):
            nats = fresh_server(work, "nats-5")
            try:
                problems += restart_is_not_quiet(args, work, nats)
            finally:
                nats.stop()
    finally:
        if problems:
            show_logs(work)
        if args.keep or problems:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print("FAILED: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
