#!/usr/bin/env python3
"""Every `$ pickaxe ...` example of the README, run, and its output compared.

An example is a line starting with `$ ` in a fenced block, followed by the
output it shows. Commands run from the repository's root with `pickaxe` (and
./build/pickaxe) being the program under test (sessions from a scratch
folder), stdout and stderr together,
not on a terminal (tables are 160 columns wide). The shown output must match
the real one line by line, where a line `...` stands for any number of lines
and `...` inside a line for any text; timing figures (seconds, events/s, MB/s)
are not compared. A block that starts a program in the background (`&`) is
run as one shell session. The few examples that need what a test cannot
have (a build through make, Elastic's conformance data, a NATS server on the
default port) are listed in SKIPPED with the test that covers them.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SKIPPED = {
    "make run": "builds through make (the Quick start's commands are run one by one below)",
    "make bench": "the benchmarks' figures depend on the machine",
    "make conformance": "the conformance runner needs ../shared (EqlSpec.* tests run it)",
}
TIMING = [
    (re.compile(r"in \d+(\.\d+)? s \(\d+ events/s\)"), "in X s (X events/s)"),
    (re.compile(r"\d+(\.\d+)? ?[kM]? ?events/s"), "X events/s"),
    (re.compile(r"\d+(\.\d+)? (ms|s)\b"), "X s"),
]


def port_in_use(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def normalize(line):
    line = line.rstrip()
    for pattern, replacement in TIMING:
        line = pattern.sub(replacement, line)
    return line


def examples(readme):
    """(line number, [commands], expected lines, session?) per example."""
    found = []
    in_block = False
    block = []
    for number, line in enumerate(open(readme, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.startswith("```"):
            if in_block:
                found.extend(split_block(block))
            in_block = not in_block
            block = []
            continue
        if in_block:
            block.append((number, line))
    return found


def split_block(block):
    commands = []  # (line, command, expected)
    i = 0
    while i < len(block):
        number, line = block[i]
        if not line.startswith("$ "):
            if commands:
                commands[-1][2].append(line)
            i += 1
            continue
        command = line[2:]
        # A quoted argument spanning lines continues the command.
        while command.count("'") % 2 == 1 and i + 1 < len(block):
            i += 1
            command += "\n" + block[i][1]
        commands.append((number, command, []))
        i += 1
    if not commands:
        return []
    session = any(c.rstrip().endswith("&") for _, c, _ in commands)
    if session:
        return [(commands[0][0], [c for _, c, _ in commands], [e for _, _, e in commands], True)]
    return [(n, [c], [e], False) for n, c, e in commands]


def matches(expected, actual):
    """Whether the actual lines fit the expected ones (with ... wildcards)."""
    patterns = []
    for line in expected:
        line = normalize(line)
        if line.strip() == "...":
            patterns.append(None)
        else:
            parts = [re.escape(part) for part in line.split("...")]
            patterns.append(re.compile("^" + ".*".join(parts) + "$"))
    actual = [normalize(line) for line in actual]
    while actual and not actual[-1]:
        actual.pop()
    while patterns and patterns[-1] is not None and patterns[-1].pattern == "^$":
        patterns.pop()
    # Dynamic programming: can patterns[i:] match actual[j:]?
    memo = {}

    def fit(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(patterns):
            result = j == len(actual)
        elif patterns[i] is None:
            result = any(fit(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            result = j < len(actual) and bool(patterns[i].match(actual[j])) and fit(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    sys.setrecursionlimit(100000)
    return fit(0, 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pickaxe", required=True)
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    source = os.path.abspath(args.source_dir)
    program = os.path.abspath(args.pickaxe)
    bin_dir = tempfile.mkdtemp(prefix="pickaxe-readme-bin-")
    os.symlink(program, os.path.join(bin_dir, "pickaxe"))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env["PATH"] = bin_dir + os.pathsep + env["PATH"]
    env["PICKAXE_CONFIG"] = "/dev/null"
    failures, ran, skipped = [], 0, []
    for number, commands, expected, session in examples(os.path.join(source, "README.md")):
        first = commands[0]
        reason = next((why for prefix, why in SKIPPED.items()
                       if any(c.startswith(prefix) for c in commands)), None)
        if reason:
            skipped.append(f"README.md:{number}: {first.splitlines()[0]}: {reason}")
            continue
        if not any(c.startswith(("pickaxe", "./build/pickaxe")) for c in commands):
            continue
        if any(c.startswith("nats-server") for c in commands):
            if not shutil.which("nats-server") or port_in_use(4222):
                skipped.append(f"README.md:{number}: {first}: no nats-server, or port 4222 taken")
                continue
        ran += 1
        work = tempfile.mkdtemp(prefix="pickaxe-readme-")
        try:
            # Examples run from the repository's root; a session, which
            # writes files, from a scratch folder that links what it reads.
            for name in ("examples", "rules", "tests", "emulations", "docs"):
                os.symlink(os.path.join(source, name), os.path.join(work, name))
            os.makedirs(os.path.join(work, "build"))
            os.symlink(program, os.path.join(work, "build", "pickaxe"))
            if session:
                outputs = []
                background_seen = 0
                background = os.path.join(work, ".background")
                jobs = []  # the background jobs' pids, for %1, %2, ...
                for command, shown in zip(commands, expected):
                    script = command.replace("./build/pickaxe", "pickaxe").replace("/tmp/nats", work + "/nats")
                    script = re.sub(r"%(\d)", lambda m: str(jobs[int(m.group(1)) - 1]), script)
                    text = ""
                    if script.rstrip().endswith("&"):
                        # Its output shows after the command during which it came.
                        script = f"({script.rstrip()[:-1]}) >> .background 2>&1 & echo $!"
                        started = subprocess.run(["bash", "-c", script], cwd=work, env=env,
                                                 capture_output=True)
                        jobs.append(int(started.stdout))
                    elif script.startswith("kill"):
                        pid = script.split()[-1]
                        subprocess.run(["bash", "-c", f"{script}; while kill -0 {pid} 2>/dev/null; do sleep 0.1; done"],
                                       cwd=work, env=env, timeout=60)
                    else:
                        run = subprocess.run(["bash", "-c", script], cwd=work, env=env,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
                        text = run.stdout.decode(errors="replace")
                    # What the background jobs say comes when they get to it
                    # (slowly under sanitizers): waited for, up to 60 s; a
                    # reading command (pickaxe alerts) is asked again.
                    deadline = time.time() + 60
                    while True:
                        time.sleep(0.5)
                        said = b""
                        if os.path.exists(background):
                            with open(background, "rb") as f:
                                f.seek(background_seen)
                                said = f.read()
                        seen = (text + said.decode(errors="replace")).splitlines()
                        if matches(shown, seen) or time.time() > deadline:
                            background_seen += len(said)
                            break
                        if script.startswith("pickaxe alerts"):
                            run = subprocess.run(["bash", "-c", script], cwd=work, env=env,
                                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                 timeout=120)
                            text = run.stdout.decode(errors="replace")
                    outputs.append((command, shown, seen))
                for pid in jobs:  # what the session left running (a server)
                    subprocess.run(["bash", "-c", f"kill {pid} 2>/dev/null; while kill -0 {pid} 2>/dev/null; do sleep 0.1; done"],
                                   timeout=60)
            else:
                run = subprocess.run(["bash", "-c", first], cwd=source, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
                outputs = [(first, expected[0], run.stdout.decode(errors="replace").splitlines())]
            for command, shown, actual in outputs:
                if not matches(shown, actual):
                    failures.append(
                        f"README.md:{number}: $ {command}\n--- the README shows:\n"
                        + "\n".join(shown) + "\n--- the program printed:\n" + "\n".join(actual))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(bin_dir, ignore_errors=True)
    for line in skipped:
        print(f"skipped {line}")
    for failure in failures:
        print(failure + "\n")
    print(f"README examples: {ran} run, {len(failures)} differ, {len(skipped)} skipped")
    return 1 if failures or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
