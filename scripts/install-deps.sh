#!/usr/bin/env bash
# Installs every Debian package helix needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so a second run is quick and offline.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  coinor-libcbc-dev
  libopenblas-dev libsentencepiece-dev sentencepiece libpcre2-dev
  libzmq3-dev cppzmq-dev libcpp-httplib-dev python3-jinja2   # jinja2: chat-template reference renders
  iproute2 procps            # ip and tc for the network-namespace test, pgrep for the helix up test
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
