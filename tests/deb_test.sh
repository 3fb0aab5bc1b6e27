#!/usr/bin/env bash
# The Debian package on a clean Debian bookworm: a minimal chroot made by
# debootstrap, the package installed there with apt (its Depends come from
# the mirror), then, with no source tree, `pickaxe hunt` over the bundled
# examples must raise the same alerts as the build's program over the
# repository's examples, and validate, man pages and completions must work.
# Needs root (debootstrap, chroot, mount) and the Debian mirror.
set -euo pipefail
build=${1:-build}
deb=$(ls -t "$build"/pickaxe_*.deb | head -1)
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo > /dev/null; then
    exec sudo bash "$0" "$@"
  fi
  echo "deb-test: SKIPPED: needs root or sudo (debootstrap, chroot)" >&2
  exit 0
fi
command -v debootstrap > /dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap > /dev/null
root=$(mktemp -d /tmp/pickaxe-deb-root.XXXXXX)
cleanup() {
  umount "$root/proc" 2> /dev/null || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "deb-test: debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian > "$root.log" 2>&1 ||
  { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/pickaxe.deb"
echo "deb-test: apt-get install ./pickaxe.deb"
chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/pickaxe.deb' > /dev/null

in_root() { chroot "$root" sh -c "cd /tmp && $1"; }
fail() { echo "deb-test: FAILED: $1" >&2; exit 1; }

in_root 'pickaxe --version' | head -1 | grep -q '^pickaxe ' || fail "pickaxe --version"
fixed=2026-01-01T00:00:00Z
examples="examples/events.ndjson examples/audit.log examples/sysmon.log"
in_root "pickaxe hunt -q --detection-time $fixed --format ndjson \
  /usr/share/pickaxe/examples/events.ndjson /usr/share/pickaxe/examples/audit.log \
  /usr/share/pickaxe/examples/sysmon.log" > "$root/installed.ndjson" || fail "hunt in the chroot"
"$build/pickaxe" hunt -q --detection-time $fixed --format ndjson $examples > "$root/built.ndjson"
python3 - "$root/installed.ndjson" "$root/built.ndjson" << 'EOF'
import json, sys
def alerts(path):
    return sorted((a["kibana.alert.uuid"], a["kibana.alert.rule.name"])
                  for a in map(json.loads, open(path)))
installed, built = alerts(sys.argv[1]), alerts(sys.argv[2])
if not built or installed != built:
    sys.exit(f"deb-test: FAILED: the installed package raised {len(installed)} alerts, "
             f"the build {len(built)}; they differ")
print(f"deb-test: the installed package raised the same {len(built)} alerts as the build")
EOF
in_root 'pickaxe validate > /dev/null' || fail "pickaxe validate in the chroot"
in_root 'pickaxe rules --format json' > /dev/null || fail "pickaxe rules in the chroot"
in_root 'test -s /usr/share/man/man1/pickaxe-hunt.1 && test -s /usr/share/bash-completion/completions/pickaxe' ||
  fail "man pages or completions missing"
echo "deb-test: passed"
