#!/usr/bin/env bash
# Installs what tailor needs (Debian packages, idempotent) and builds it.
#   tools/setup.sh <build-dir> <build-type>
# Prints nothing but errors when everything is already in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$root/build/release}"
build_type="${2:-Release}"

packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libxxhash-dev prometheus-cpp-dev libcpp-httplib-dev tzdata
  kcat python3 python3-confluent-kafka curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update >/dev/null &&
      "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)"
