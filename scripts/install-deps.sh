#!/usr/bin/env bash
# Installs pickaxe's build and test dependencies from Debian packages.
# Does nothing when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libsimdjson-dev libvectorscan-dev libre2-dev libyaml-cpp-dev
  libtomlplusplus-dev libcli11-dev libfmt-dev zlib1g-dev libzstd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libarchive-dev libyara-dev libssl-dev zstd jq libpugixml-dev libjemalloc-dev libcpp-httplib-dev libnats-dev nats-server clang libclang-rt-14-dev python3 curl
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
