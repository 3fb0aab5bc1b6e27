#!/usr/bin/env python3
"""pickaxe's command line as users meet it, through the real binary.

Exit codes, messages, output formats, the table on terminals of 80 and 160
columns (a pty), colour and NO_COLOR, the progress line's rate and ETA, the
hint on a terminal's stdin, folders, compressed stdin, empty and binary
inputs, rule selection and --max-signals, --from/--to, pickaxe.toml's
precedence, `pickaxe rules`, completions, man pages and the install tree.
"""
import argparse
import csv
import datetime
import fcntl
import gzip
import io
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest

ARGS = None
FIXED = "2026-01-01T00:00:00Z"
EXAMPLES = ["examples/events.ndjson", "examples/audit.log", "examples/sysmon.log"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env["PICKAXE_CONFIG"] = "/dev/null"  # no user's configuration
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def pickaxe(*args, stdin=None, env=None, cwd=None):
    return subprocess.run([ARGS.pickaxe, *args], input=stdin, capture_output=True,
                          env=env or environment(), cwd=cwd or ARGS.source_dir, timeout=300)


def on_terminal(args, columns, env=None, stdin_terminal=False, stderr_terminal=False,
                send=None):
    """Runs pickaxe with stdout (and optionally stdin or stderr) on a pty of
    `columns` columns; returns (exit code, what the terminal showed, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [ARGS.pickaxe, *args], stdout=slave, stdin=slave if stdin_terminal else subprocess.DEVNULL,
        stderr=slave if stderr_terminal else subprocess.PIPE, env=env or environment(),
        cwd=ARGS.source_dir)
    os.close(slave)
    shown = b""
    sent = False
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
        elif send and not sent:  # quiet for 0.2 s: type what is to be sent
            os.write(master, send)
            sent = True
    process.wait(timeout=60)
    stderr = b""
    if not stderr_terminal:
        stderr = process.stderr.read()
        process.stderr.close()
    os.close(master)
    return process.returncode, shown.decode(errors="replace"), stderr.decode(errors="replace")


class Scratch(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pickaxe-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode="w"):
        with open(self.path(name), mode) as out:
            out.write(text)
        return self.path(name)


def miner_events(count, host="h1", start_minute=0):
    """`count` xmrig starts on one host, a second apart."""
    lines = []
    start = datetime.datetime(2026, 3, 1, 10, tzinfo=datetime.timezone.utc)
    for i in range(count):
        time = start + datetime.timedelta(minutes=start_minute, seconds=i)
        lines.append(json.dumps({
            "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "event": {"category": ["process"], "type": ["start"], "action": "exec"},
            "host": {"name": host},
            "process": {"name": "xmrig", "entity_id": f"p{i}", "args": ["xmrig"],
                        "command_line": "xmrig"}}))
    return "\n".join(lines) + "\n"


MINER_RULE = "5e1a9c3d-2f4b-4a6c-8d7e-9f0a1b2c3d13"  # filled in by setUpModule


class ExitCodes(Scratch):
    def test_codes(self):
        self.assertEqual(pickaxe("hunt", "-q", *EXAMPLES).returncode, 0)
        broken = self.write("broken.eql", 'process where process.name = "x"\n')
        self.assertEqual(pickaxe("hunt", "--rules", broken, *EXAMPLES).returncode, 1)
        self.assertEqual(pickaxe("hunt", "--frob").returncode, 2)
        run = pickaxe("hunt", "-q", "--fail-on-alert", *EXAMPLES)
        self.assertEqual(run.returncode, 3, run.stderr)
        benign = self.write("benign.ndjson", json.dumps(
            {"@timestamp": FIXED, "event": {"category": ["process"]}, "process": {"name": "ls"}}) + "\n")
        self.assertEqual(pickaxe("hunt", "-q", "--fail-on-alert", benign).returncode, 0)
        self.assertIn("3 alerts raised", pickaxe("hunt", "--help").stdout.decode())

    def test_usage_errors(self):
        run = pickaxe("frob")
        self.assertEqual(run.returncode, 2)
        self.assertTrue(run.stderr.decode().startswith("pickaxe: 'frob' is not a command"))
        run = pickaxe("hnut")
        self.assertIn("did you mean 'hunt'?", run.stderr.decode())
        run = pickaxe("hunt", "--formt", "table")
        self.assertEqual(run.returncode, 2)
        self.assertIn("pickaxe: hunt: unknown option '--formt'; did you mean '--format'?",
                      run.stderr.decode())
        run = pickaxe("hunt", "--format", "tabel")
        self.assertIn("did you mean 'table'?", run.stderr.decode())
        run = pickaxe()
        self.assertEqual(run.returncode, 2)
        self.assertIn("pickaxe: a command is required", run.stderr.decode())

    def test_help_is_the_commands_help(self):
        self.assertEqual(pickaxe("help", "hunt").stdout, pickaxe("hunt", "--help").stdout)
        run = pickaxe("--rules", "x")
        self.assertEqual(run.returncode, 2)
        self.assertIn("--rules is an option of hunt", run.stderr.decode())
        self.assertIn("did you mean '--version'?", pickaxe("--versoin").stderr.decode())

    def test_help_and_version(self):
        run = pickaxe("help")
        self.assertEqual(run.returncode, 0)
        self.assertIn("hunt", run.stdout.decode())
        run = pickaxe("help", "hunt")
        self.assertEqual(run.returncode, 0)
        self.assertIn("--max-signals", run.stdout.decode())
        self.assertIn("Sigma", run.stdout.decode())
        self.assertEqual(pickaxe("help", "frob").returncode, 2)
        for flag in ("-V", "--version"):
            run = pickaxe(flag)
            self.assertEqual(run.returncode, 0)
            text = run.stdout.decode()
            self.assertRegex(text, r"^pickaxe \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}|^pickaxe \S+ \(commit unknown")
            for library in ("simdjson", "Vectorscan", "RE2"):
                self.assertIn(library, text)


class Selection(Scratch):
    def test_filter_selecting_nothing_is_an_error(self):
        run = pickaxe("hunt", "--rule-id", "foo", *EXAMPLES)
        self.assertEqual(run.returncode, 2)
        self.assertIn("--rule-id foo: no rule has this id", run.stderr.decode())
        run = pickaxe("hunt", "--tag", "nosuch", *EXAMPLES)
        self.assertEqual(run.returncode, 2)
        self.assertIn("--tag nosuch: no rule has this tag", run.stderr.decode())
        run = pickaxe("hunt", "--tag", "Domain: Container", "--rule-id", "foo", *EXAMPLES)
        self.assertEqual(run.returncode, 2)
        self.assertIn("--rule-id foo: no rule has this id", run.stderr.decode())
        self.assertNotIn("--tag Domain: Container", run.stderr.decode())  # that one matched

    def test_max_signals(self):
        events = self.write("miners.ndjson", miner_events(150))
        def alerts(*extra):
            run = pickaxe("hunt", "--format", "ndjson", "--rule-id", MINER_RULE, *extra, events)
            self.assertEqual(run.returncode, 0, run.stderr)
            return len(run.stdout.splitlines()), run.stderr.decode()
        count, stderr = alerts()
        self.assertEqual(count, 100)  # the rule's max_signals, per 5-minute execution
        self.assertIn("50  past max_signals", stderr)
        self.assertEqual(alerts("--max-signals", "10")[0], 10)
        self.assertEqual(alerts("--max-signals", "unlimited")[0], 150)
        self.assertEqual(pickaxe("hunt", "--max-signals", "lots", events).returncode, 2)

    def test_from_to(self):
        events = self.write("miners.ndjson", miner_events(120))  # 10:00:00 .. 10:01:59
        run = pickaxe("hunt", "--format", "ndjson", "--rule-id", MINER_RULE, "--from",
                      "2026-03-01T10:00:30Z", "--to", "2026-03-01T10:00:39.999Z", events)
        self.assertEqual(run.returncode, 0, run.stderr)
        times = [json.loads(line)["kibana.alert.original_time"] for line in run.stdout.splitlines()]
        self.assertEqual(len(times), 10)
        self.assertTrue(all("10:00:3" in time for time in times))
        self.assertIn("110  events outside --from/--to", run.stderr.decode())
        self.assertEqual(pickaxe("hunt", "--from", "yesterday", events).returncode, 2)


class Formats(Scratch):
    def hunt(self, *args):
        run = pickaxe("hunt", "-q", "--detection-time", FIXED, *args, *EXAMPLES)
        self.assertEqual(run.returncode, 0, run.stderr)
        return run.stdout.decode()

    def test_formats_agree(self):
        ndjson = [json.loads(line) for line in self.hunt("--format", "ndjson").splitlines()]
        shown = [a for a in ndjson if "kibana.alert.building_block_type" not in a]
        self.assertGreater(len(shown), 5)
        array = json.loads(self.hunt("--format", "json"))
        self.assertEqual(array, ndjson)
        rows = list(csv.DictReader(io.StringIO(self.hunt("--format", "csv"))))
        self.assertEqual([r["alert_uuid"] for r in rows],
                         [a["kibana.alert.uuid"] for a in shown])
        self.assertEqual(rows[0]["rule_name"], shown[0]["kibana.alert.rule.name"])
        self.assertIn("T1204", ",".join(r["techniques"] for r in rows))
        timeline = list(csv.reader(io.StringIO(self.hunt("--format", "timeline"))))
        self.assertEqual(timeline[0], ["Timestamp", "Host", "Level", "Rule", "Details"])
        self.assertEqual(len(timeline) - 1, len(shown))
        self.assertEqual(timeline[1][3], shown[0]["kibana.alert.rule.name"])

    def test_nested(self):
        def unique(pairs):
            keys = [key for key, _ in pairs]
            self.assertEqual(len(keys), len(set(keys)), keys)
            return dict(pairs)
        nested = [json.loads(line, object_pairs_hook=unique)
                  for line in self.hunt("--nested").splitlines()]
        flat = [json.loads(line) for line in self.hunt().splitlines()]
        self.assertEqual(len(nested), len(flat))
        self.assertEqual(nested[0]["kibana"]["alert"]["rule"]["name"],
                         flat[0]["kibana.alert.rule.name"])
        self.assertFalse(any("." in key for key in nested[0]), list(nested[0]))
        self.assertEqual(nested[0]["host"], flat[0]["host"])
        # A dotted key and an object that both hold x.y: both values kept, no key twice.
        with open(os.path.join(ARGS.source_dir, "examples/events.ndjson")) as f:
            miner = f.read().splitlines()[1]
        clash = self.write("clash.ndjson", '{"x.y":1,"x":{"y":2},' + miner[1:] + "\n")
        run = pickaxe("hunt", "-q", "--nested", clash)
        alert = json.loads(run.stdout.splitlines()[0], object_pairs_hook=unique)
        self.assertEqual((alert["x"], alert["x.y"]), ({"y": 1}, 2))

    def test_csv_formulas_stay_text(self):
        with open(os.path.join(ARGS.source_dir, "examples/events.ndjson")) as f:
            miner = json.loads(f.read().splitlines()[1])
        miner["host"]["name"] = "=HYPERLINK(\"http://x\")"
        events = self.write("formula.ndjson", json.dumps(miner) + "\n")
        rows = list(csv.DictReader(io.StringIO(pickaxe("hunt", "-q", "--format", "csv", events)
                                               .stdout.decode())))
        self.assertTrue(rows)
        self.assertTrue(all(row["host"] == "'=HYPERLINK(\"http://x\")" for row in rows))

    def test_output_is_not_an_input_and_kept_on_errors(self):
        kept = self.write("alerts.ndjson", "earlier alerts\n")
        run = pickaxe("hunt", "--rule-id", "nope", "-o", kept, *EXAMPLES)
        self.assertEqual(run.returncode, 2)
        with open(kept) as f:
            self.assertEqual(f.read(), "earlier alerts\n")
        evidence = self.path("evidence.ndjson")
        shutil.copy(os.path.join(ARGS.source_dir, "examples/events.ndjson"), evidence)
        run = pickaxe("hunt", "-o", evidence, evidence)
        self.assertEqual(run.returncode, 2)
        self.assertIn("it is also an input", run.stderr.decode())
        self.assertGreater(os.path.getsize(evidence), 100)

    def test_output_file(self):
        out = self.path("alerts.ndjson")
        self.write("alerts.ndjson", "old content that is replaced\n")
        run = pickaxe("hunt", "-q", "-o", out, *EXAMPLES)
        self.assertEqual(run.returncode, 0)
        self.assertEqual(run.stdout, b"")
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines and all(json.loads(line) for line in lines))
        run = pickaxe("hunt", "-q", "-o", "/dev/null", *EXAMPLES)  # not a file: not emptied
        self.assertEqual(run.returncode, 0, run.stderr)
        run = pickaxe("hunt", "-q", "-o", "/dev/full", *EXAMPLES)
        self.assertEqual(run.returncode, 1)
        self.assertIn("No space left on device", run.stderr.decode())
        run = pickaxe("hunt", "-q", "-o", "/nonexistent/dir/x", *EXAMPLES)
        self.assertEqual(run.returncode, 1)
        self.assertIn("--output /nonexistent/dir/x: cannot open", run.stderr.decode())

    def test_summary(self):
        run = pickaxe("hunt", "--format", "ndjson", *EXAMPLES)
        stderr = run.stderr.decode()
        self.assertRegex(stderr, r"by severity: critical 0, high \d+, medium \d+, low 0")
        self.assertIn("event times: 2024-11-01T10:01:40.100Z to 2026-11-01T10:00:04.100Z", stderr)
        self.assertRegex(stderr, r"by host \(3\): node-7 \d+, build-07 \d+, node1 \d+")


class Terminal(Scratch):
    def test_width_80_and_160(self):
        for columns in (80, 160):
            code, shown, _ = on_terminal(["hunt", "-q", *EXAMPLES], columns)
            self.assertEqual(code, 0)
            lines = [ANSI.sub("", line) for line in shown.replace("\r", "").splitlines()]
            self.assertTrue(lines[0].startswith("TIME"), lines[0])
            self.assertGreater(len(lines), 10)
            for line in lines:
                self.assertLessEqual(len(line), columns, line)
            rules = [line for line in lines if "Outbound Conn" in line]
            self.assertTrue(rules)
            if columns == 80:
                self.assertNotIn("Outbound Connection to a Mining Pool Port", rules[0])
            else:
                self.assertIn("Outbound Connection to a Mining Pool Port", rules[0])
                self.assertIn("MATCH", lines[0])

    def test_colour_and_no_color(self):
        _, shown, _ = on_terminal(["hunt", "-q", *EXAMPLES], 160)
        self.assertIn("\x1b[31mhigh", shown)
        _, shown, _ = on_terminal(["hunt", "-q", *EXAMPLES], 160, env=environment(NO_COLOR="1"))
        self.assertNotIn("\x1b[", shown)
        _, shown, _ = on_terminal(["hunt", "-q", "--color", "never", *EXAMPLES], 160)
        self.assertNotIn("\x1b[", shown)
        run = pickaxe("hunt", "-q", "--format", "table", "--color", "always", *EXAMPLES)
        self.assertIn(b"\x1b[31mhigh", run.stdout)

    def test_progress_shows_rate_and_eta(self):
        # Every event an alert: long enough a run for the progress line.
        events = self.write("many.ndjson", miner_events(150000))
        code, shown, _ = on_terminal(["hunt", "--max-signals", "unlimited", "--threads", "1",
                                      "-o", self.path("out"), events], 120, stderr_terminal=True)
        self.assertEqual(code, 0, shown)
        self.assertRegex(shown, r"hunting: +\d+%  [\d.]+ of [\d.]+ MB  [\d.]+ [kM]?events/s  ETA \d+:\d\d")

    def test_rows_appear_as_alerts_are_final(self):
        # stdin a pipe kept open, stdout a terminal: the row shows before the input ends.
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        process = subprocess.Popen([ARGS.pickaxe, "hunt", "-q", "--max-lateness", "0"],
                                   stdin=subprocess.PIPE, stdout=slave, stderr=subprocess.DEVNULL,
                                   env=environment(), cwd=ARGS.source_dir)
        os.close(slave)
        with open(os.path.join(ARGS.source_dir, "examples/events.ndjson"), "rb") as f:
            miner = f.read().splitlines()[1]
        process.stdin.write(miner + b"\n")
        process.stdin.flush()
        shown = b""
        deadline = time.time() + 20
        while b"Container Image with a Miner" not in shown and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                shown += os.read(master, 65536)
        self.assertIsNone(process.poll())  # still reading its input
        self.assertIn(b"Container Image with a Miner", shown)
        process.stdin.close()
        process.wait(timeout=60)
        os.close(master)

    def test_hint_on_terminal_stdin(self):
        code, shown, stderr = on_terminal(["hunt"], 120, stdin_terminal=True, send=b"\x04")
        self.assertIn("reading events from the terminal", stderr)
        self.assertEqual(code, 1)  # nothing read from it
        self.assertIn("<stdin>: no event read", stderr)


class Inputs(Scratch):
    def test_folder_passes_over_documents_and_rules(self):
        folder = os.path.join(self.dir, "logs")
        os.makedirs(folder)
        shutil.copy(os.path.join(ARGS.source_dir, "examples/events.ndjson"), folder)
        shutil.copy(os.path.join(ARGS.source_dir, "README.md"), folder)
        shutil.copy(os.path.join(ARGS.source_dir, "rules/t1204_003/mining_pool_dns.toml"), folder)
        run = pickaxe("hunt", "--format", "ndjson", folder)
        self.assertEqual(run.returncode, 0, run.stderr)
        stderr = run.stderr.decode()
        self.assertIn("2 files passed over, not logs (documents, rule files, binaries, lists) "
                      "(README.md, mining_pool_dns.toml)", stderr)
        self.assertNotIn("malformed", stderr)
        self.assertGreater(len(run.stdout.splitlines()), 0)
        only_docs = os.path.join(self.dir, "docs")
        os.makedirs(only_docs)
        shutil.copy(os.path.join(ARGS.source_dir, "README.md"), only_docs)
        run = pickaxe("hunt", only_docs)
        self.assertEqual(run.returncode, 1)
        self.assertIn("the folder holds no log files", run.stderr.decode())
        empty = os.path.join(self.dir, "empty")
        os.makedirs(empty)
        self.assertEqual(pickaxe("hunt", empty).returncode, 1)
        self.assertEqual(pickaxe("lint", empty).returncode, 1)

    def test_compressed_stdin(self):
        with open(os.path.join(ARGS.source_dir, "examples/events.ndjson"), "rb") as f:
            plain = f.read()
        expected = pickaxe("hunt", "-q", "--detection-time", FIXED, stdin=plain).stdout
        self.assertTrue(expected)
        run = pickaxe("hunt", "-q", "--detection-time", FIXED, stdin=gzip.compress(plain))
        self.assertEqual((run.returncode, run.stdout), (0, expected), run.stderr)
        if shutil.which("zstd"):
            packed = subprocess.run(["zstd", "-q", "-c"], input=plain, capture_output=True).stdout
            run = pickaxe("hunt", "-q", "--detection-time", FIXED, stdin=packed)
            self.assertEqual((run.returncode, run.stdout), (0, expected), run.stderr)

    def test_compression_is_told_by_content(self):
        plain = self.path("plain.gz")
        shutil.copy(os.path.join(ARGS.source_dir, "examples/events.ndjson"), plain)
        run = pickaxe("hunt", "-q", "--detection-time", FIXED, plain)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertTrue(run.stdout)
        packed = self.write("packed.log", gzip.compress(open(plain, "rb").read()), mode="wb")
        self.assertEqual(pickaxe("hunt", "-q", "--detection-time", FIXED, packed).stdout, run.stdout)

    def test_empty_and_binary_inputs(self):
        empty = self.write("empty.log", "")
        run = pickaxe("hunt", empty)
        self.assertEqual(run.returncode, 1)
        self.assertIn("empty.log: no event read", run.stderr.decode())
        self.assertEqual(pickaxe("hunt", "--allow-empty", empty).returncode, 0)
        self.assertEqual(pickaxe("query", "any where true", empty).returncode, 1)
        binary = self.write("blob.bin", b"\x7fELF\x00\x01\x02" * 100, mode="wb")
        run = pickaxe("hunt", binary)
        self.assertEqual(run.returncode, 1)
        self.assertIn("a binary file (it holds NUL bytes), not a log", run.stderr.decode())
        run = pickaxe("lint", binary)
        self.assertEqual(run.returncode, 1)
        self.assertIn("binary-file", run.stderr.decode() + run.stdout.decode())
        self.assertLess(len(run.stdout) + len(run.stderr), 1000)

    def test_unclosed_yaml_quote(self):
        rule = self.write("quote.yml", "title: x\nlogsource:\n  product: linux\n  category: "
                          "process_creation\ndetection:\n  sel:\n    Image: \"/usr/bin/xmrig\n"
                          "  condition: sel\n")
        run = pickaxe("lint", rule)
        self.assertEqual(run.returncode, 1)
        self.assertIn("quote.yml:7:12: error[yaml-unclosed-quote]", run.stdout.decode())


class Config(Scratch):
    def test_precedence(self):
        self.write("pickaxe.toml", '[hunt]\nformat = "csv"\nrule-id = ["%s"]\n' % MINER_RULE)
        events = self.write("miners.ndjson", miner_events(3))
        env = environment(PICKAXE_CONFIG=None)
        run = pickaxe("hunt", "-q", events, env=env, cwd=self.dir)  # file over default
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertTrue(run.stdout.startswith(b"timestamp,severity"))
        self.assertEqual(len(run.stdout.splitlines()), 4)
        run = pickaxe("hunt", "-q", "--format", "ndjson", events, env=env, cwd=self.dir)
        self.assertEqual(json.loads(run.stdout.splitlines()[0])["kibana.alert.rule.rule_id"],
                         MINER_RULE)  # flag over file; the file's rule-id kept
        run = pickaxe("hunt", "-q", events, env=environment())  # no file: the default
        self.assertTrue(run.stdout.startswith(b"{"))
        run = pickaxe("hunt", "--print-config", env=env, cwd=self.dir)
        self.assertEqual(run.returncode, 0)
        self.assertIn('format = "csv"', run.stdout.decode())
        self.assertIn('suppress-window = "5m"', run.stdout.decode())
        # A command's section wins over the top level, whatever their order.
        both = self.write("both.toml", 'threads = 1\n[hunt]\nthreads = 2\n[lint]\nstrict = true\n')
        run = pickaxe("hunt", "--config", both, "--print-config")
        self.assertIn("threads = 2", run.stdout.decode())
        # What --print-config prints reads back as a configuration.
        printed = self.write("printed.toml", pickaxe("lint", "--config", both, "--print-config")
                             .stdout.decode())
        self.assertIn("strict = true", open(printed).read())
        run = pickaxe("lint", "--config", printed, "rules")
        self.assertEqual(run.returncode, 1, run.stderr)  # strict: the seed's warnings are errors
        self.assertIn("error[one-step-sequence]", run.stdout.decode())
        other = self.write("other.toml", 'format = "timeline"\n')
        run = pickaxe("hunt", "--config", other, "--print-config", env=env, cwd=self.dir)
        self.assertIn('format = "timeline"', run.stdout.decode())

    def test_bad_value_is_said_at_its_line(self):
        bad = self.write("values.toml", '[hunt]\nthreads = 1\nformat = "tabel"\n')
        run = pickaxe("hunt", "--config", bad, "examples/events.ndjson")
        self.assertEqual(run.returncode, 2)
        self.assertIn("values.toml:3:1: --format: tabel not in", run.stderr.decode())
        # Given on the command line, the value there is what counts.
        run = pickaxe("hunt", "-q", "--config", bad, "--format", "ndjson", "examples/events.ndjson")
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_bad_file(self):
        bad = self.write("bad.toml", '[hunt]\nformt = "csv"\n[hnut]\n')
        run = pickaxe("hunt", "--config", bad, "examples/events.ndjson")
        self.assertEqual(run.returncode, 2)
        stderr = run.stderr.decode()
        self.assertIn("bad.toml:2:1: `pickaxe hunt` has no option --formt; did you mean format?",
                      stderr)
        self.assertIn("bad.toml:3:2: [hnut] is no command; did you mean [hunt]?", stderr)
        run = pickaxe("hunt", "--config", self.path("missing.toml"), "examples/events.ndjson")
        self.assertEqual(run.returncode, 2)


class Listing(Scratch):
    def test_rules(self):
        run = pickaxe("rules", "--format", "json")
        self.assertEqual(run.returncode, 0, run.stderr)
        rules = json.loads(run.stdout)
        # The pack's runtime rules and its scan rules (rules/t1204_003/scan).
        pack = os.path.join(ARGS.source_dir, "rules/t1204_003")
        self.assertEqual(len(rules), sum(
            len([f for f in os.listdir(folder) if f.endswith(".toml")])
            for folder in (pack, os.path.join(pack, "scan"))))
        for field in ("rule_id", "name", "severity", "tags", "language", "index", "techniques"):
            self.assertIn(field, rules[0])
        self.assertTrue(any("T1204.003" in rule["techniques"] for rule in rules))
        code, shown, _ = on_terminal(["rules"], 200)
        self.assertEqual(code, 0)
        self.assertIn("RULE ID", shown)
        self.assertIn(rules[0]["rule_id"], shown)
        run = pickaxe("rules", "--format", "json", "rules/sigma")
        self.assertTrue(all(rule["language"].startswith("sigma") for rule in json.loads(run.stdout)))


class Install(Scratch):
    def test_completions_and_man(self):
        bash = pickaxe("completion", "bash").stdout.decode()
        self.assertIn("complete -o filenames -o bashdefault -F _pickaxe pickaxe", bash)
        self.assertIn("--max-signals", bash)
        check = subprocess.run(["bash", "-n"], input=bash.encode(), capture_output=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        # Completing `pickaxe hunt --for` in bash gives --format.
        script = bash + '\nCOMP_WORDS=(pickaxe hunt --for); COMP_CWORD=2; _pickaxe; echo "${COMPREPLY[@]}"\n'
        done = subprocess.run(["bash", "-c", script], capture_output=True)
        self.assertEqual(done.stdout.decode().split(), ["--format"])
        os.makedirs(self.path("my logs"))
        script = bash + '\nCOMP_WORDS=(pickaxe hunt my); COMP_CWORD=2; _pickaxe; printf "%s\\n" "${COMPREPLY[@]}"\n'
        done = subprocess.run(["bash", "-c", script], capture_output=True, cwd=self.dir)
        self.assertEqual(done.stdout.decode().splitlines(), ["my logs"])
        self.assertTrue(pickaxe("completion", "zsh").stdout.startswith(b"#compdef pickaxe"))
        self.assertIn(b"-l max-signals", pickaxe("completion", "fish").stdout)
        page = pickaxe("man", "hunt").stdout.decode()
        self.assertTrue(page.startswith(".TH PICKAXE\\-HUNT 1"))
        self.assertIn("\\-\\-fail\\-on\\-alert", page)

    def test_install_tree(self):
        if not ARGS.build_dir:
            self.skipTest("no --build-dir")
        prefix = self.path("prefix")
        run = subprocess.run(["cmake", "--install", ARGS.build_dir, "--prefix", prefix],
                             capture_output=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        for name in ("bin/pickaxe", "share/pickaxe/rules/t1204_003/mining_pool_dns.toml",
                     "share/pickaxe/examples/events.ndjson", "share/pickaxe/emulations",
                     "share/man/man1/pickaxe.1", "share/man/man1/pickaxe-hunt.1",
                     "share/bash-completion/completions/pickaxe",
                     "share/zsh/vendor-completions/_pickaxe",
                     "share/fish/vendor_completions.d/pickaxe.fish",
                     "share/doc/pickaxe/README.md"):
            self.assertTrue(os.path.exists(os.path.join(prefix, name)), name)
        installed = os.path.join(prefix, "bin/pickaxe")
        listing = subprocess.run([installed, "rules", "--format", "json"], capture_output=True,
                                 env=environment(), cwd=self.dir)
        paths = [rule["path"] for rule in json.loads(listing.stdout)]
        self.assertTrue(paths and all(p.startswith(os.path.join(prefix, "share/pickaxe/rules"))
                                      for p in paths), paths[:2])
        examples = [os.path.join(prefix, "share/pickaxe", e) for e in EXAMPLES]
        got = subprocess.run([installed, "hunt", "-q", "--detection-time", FIXED, *examples],
                             capture_output=True, env=environment(), cwd=self.dir)
        want = pickaxe("hunt", "-q", "--detection-time", FIXED, *EXAMPLES)
        uuids = lambda out: sorted(json.loads(l)["kibana.alert.uuid"] for l in out.splitlines())
        self.assertEqual(uuids(got.stdout), uuids(want.stdout))
        self.assertTrue(uuids(want.stdout))


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--pickaxe", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--build-dir", default="")
    ARGS, rest = parser.parse_known_args()
    ARGS.pickaxe = os.path.abspath(ARGS.pickaxe)
    global MINER_RULE
    listing = pickaxe("rules", "--format", "json")
    MINER_RULE = next(rule["rule_id"] for rule in json.loads(listing.stdout)
                      if rule["name"] == "Cryptocurrency Miner Process Started")
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
