#!/usr/bin/env bash
# Runs the GPU checks on a GPU host from the folder load-tests/gpu/pack.sh made (default .gpu/), in a
# checkout of this repository (the weights come from weights/). Output goes to stdout and, when set,
# to $OUT/gpu-check.log. Env passes through (MODELS, SIZE, RUNS, TILES_SWEEP, CONCURRENCY_SWEEP, ...);
# SKIP_TILES=1 runs gpu-check alone, without load-tests/upscale-tiles.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=$(realpath "${1:-.gpu}")
work=/tmp/easel-gpu
rm -rf "$work" && mkdir -p "$work/load-tests" "$work/libs"
xz -dc "$pack/node.xz" >"$work/node" && chmod +x "$work/node"
tar -xJf "$pack/modules.tar.xz" -C "$work"
cp "$pack"/bundle/*.mjs "$work/load-tests/"
cp -r weights "$work/weights"
for deb in "$pack"/debs/*.deb; do dpkg -x "$deb" "$work/libs"; done
export LD_LIBRARY_PATH="$work/libs/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Where the driver put its ICD files under /usr/local/nvidia rather than /usr/share (device README).
if [ ! -e /usr/share/vulkan/icd.d/nvidia_icd.json ] && [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
log=${OUT:+$OUT/gpu-check.log}
{
  echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi'), $(nproc) cores"
  "$work/node" "$work/load-tests/gpu-check.mjs"
  if [ -z "${SKIP_TILES:-}" ]; then
    echo
    PROVIDERS=${PROVIDERS:-webgpu,cpu} "$work/node" "$work/load-tests/upscale-tiles.mjs"
  fi
} 2>&1 | tee ${log:-/dev/null}
