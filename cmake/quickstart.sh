#!/usr/bin/env bash
# uvotel quick start: install what is missing (Debian 12 packages), build, then run the main
# demo (`demo`) or the whole test suite (`test`). Usage: bash cmake/quickstart.sh demo|test
# UVOTEL_WERROR=ON in the environment builds with -Werror (CI does; a user's newer compiler with
# new warnings should not stop their build, so the default is off).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-demo}
build_dir=${UVOTEL_BUILD_DIR:-build}
packages=(build-essential cmake pkg-config libuv1-dev libcmocka-dev libprotobuf-c-dev
          protobuf-c-compiler libcurl4-openssl-dev zlib1g-dev libhttp-parser-dev libjansson-dev
          valgrind clang-format)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "quickstart: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUVOTEL_WERROR="${UVOTEL_WERROR:-OFF}" \
  >/dev/null
cmake --build "$build_dir" -j "$jobs"

case "$mode" in
  demo)
    demo="$build_dir/examples/trace-demo/trace-demo"
    if [ -x "$demo" ]; then
      (cd "$build_dir" && "./examples/trace-demo/trace-demo")
    else
      for s in nested-timeout resource-manual-destroy; do
        echo "== async-trace $s"
        "$build_dir/examples/async-trace/async-trace" "$s"
      done
    fi
    ;;
  test)
    (cd "$build_dir" && ctest --output-on-failure -j "$jobs")
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
