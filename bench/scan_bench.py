#!/usr/bin/env python3
"""pickaxe scan against tar on the same image, in the same run.

The image is a generated `docker save` tarball, gzip-compressed as a whole
(scripts/image_builder.py bench: 20 k files, 1 GiB of content by default),
so that `tar -tzf` and `pickaxe scan` both inflate the same stream. tar only
lists the members; pickaxe reads every layer, hashes every file (sha256),
reads ELF headers, matches the bundled YARA set over each file and runs the
scan rules. Reported: the best of --runs wall times, the ratio to tar's, and
pickaxe's peak RSS, also for an image of as many files and a quarter of the
bytes: the RSS must not grow with the image's bytes. (It grows with the
number of files, a few hundred bytes each, and with the largest file up to
--yara-max-size, whose content YARA needs whole.)
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import image_builder  # noqa: E402


def make_image(path, size, files):
    if path.exists():
        return
    print(f"generating {path} ({size >> 20} MiB in {files} files)...", file=sys.stderr, flush=True)
    image = image_builder.bench_image(total=size, files=files, compression="none")
    partial = path.with_suffix(".partial")
    with image_builder.Workspace() as ws:
        image_builder.write_docker_save(str(partial), [image], ws, compression="gzip", level=6)
    partial.rename(path)


def timed(command):
    """Wall seconds and peak RSS (MB) of one run; fails loudly on a non-zero exit."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        sys.exit(f"{' '.join(command)} exited {code}:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024, stderr


def best(command, runs):
    results = [timed(command) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--size", type=int, default=1 << 30, help="content bytes of the image")
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    pickaxe = str(ROOT / args.build / "pickaxe")
    data = ROOT / "bench" / "data"
    data.mkdir(parents=True, exist_ok=True)
    large = data / f"image-{args.size >> 20}m-{args.files}.tar.gz"
    # The same number of files at a quarter of the bytes: what the file
    # tables hold is the same, so the RSS may differ only by content in flight.
    small = data / f"image-{args.size >> 22}m-{args.files}.tar.gz"
    make_image(large, args.size, args.files)
    make_image(small, args.size // 4, args.files)

    scan = [pickaxe, "scan", "--detection-time", "2026-01-01T00:00:00Z"]
    print(f"\nscan bench: {large.name}, {large.stat().st_size / 1e6:.0f} MB compressed")
    tar_seconds, _, _ = best(["tar", "-tzf", str(large)], args.runs)
    full_seconds, full_rss, summary = best(scan + [str(large)], args.runs)
    plain_seconds, _, _ = best(scan + ["--no-yara", str(large)], args.runs)
    _, small_rss, _ = best(scan + [str(small)], 1)
    _, plain_rss, _ = best(scan + ["--no-yara", str(large)], 1)
    _, plain_small_rss, _ = best(scan + ["--no-yara", str(small)], 1)
    print(f"  {'tar -tzf':<34} {tar_seconds:7.2f} s   1.00x")
    print(f"  {'pickaxe scan (sha256, ELF, YARA)':<34} {full_seconds:7.2f} s   "
          f"{full_seconds / tar_seconds:.2f}x of tar (target: at most 2x)")
    print(f"  {'pickaxe scan --no-yara':<34} {plain_seconds:7.2f} s   "
          f"{plain_seconds / tar_seconds:.2f}x of tar")
    print(f"  peak RSS, {args.files} files: {full_rss:.0f} MB for {args.size >> 20} MiB, "
          f"{small_rss:.0f} MB for {args.size >> 22} MiB ({full_rss / small_rss:.2f}x for 4x the "
          f"bytes); --no-yara {plain_rss:.0f} MB and {plain_small_rss:.0f} MB "
          f"({plain_rss / plain_small_rss:.2f}x)")
    for line in summary.splitlines():
        if line.startswith("scan:") or "YARA:" in line:
            print("  " + line.strip())


if __name__ == "__main__":
    main()
