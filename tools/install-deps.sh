#!/usr/bin/env bash
# Installs the Debian packages slope needs to build and test, if any is missing.
# Safe to run again: with everything present it changes nothing.
set -euo pipefail
# g++ and binutils (nm, readelf): the consumer and public-API tests (tests/consumer).
packages=(build-essential g++ binutils cmake pkg-config libopenblas-dev libcjson-dev libpng-dev zlib1g-dev libcmocka-dev valgrind)
# libdnnl-dev: conv2d on oneDNN (SLOPE_ONEDNN, cmake/onednn.cmake; without it, im2col + sgemm).
packages+=(libdnnl-dev)
# protoc-c, libprotobuf-c and onnx.proto: the ONNX export (SLOPE_ONNX, cmake/onnx.cmake).
packages+=(protobuf-c-compiler libprotobuf-c-dev libonnx-dev)
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
