#!/usr/bin/env bash
# Packs what the GPU checks need on a GPU host that has no node and no registry, into one folder
# (default .gpu/, which must be git-ignored: add it to .git/info/exclude) of well under 64 MiB:
#   node.xz                this machine's node binary
#   modules.tar.xz         onnxruntime-node (Linux x64 binaries only), onnxruntime-common, sharp and its
#                          libvips, which the bundles load at run time
#   bundle/*.mjs           load-tests/gpu-check.ts and upscale-tiles.ts bundled by esbuild (our code inside),
#                          and the CPU inference thread's entry
#   debs/*.deb             libvulkan1, libglvnd0, libegl1 (WebGPU needs them; see shared/gpu/README.md)
# Then, on the device: bash load-tests/gpu/run.sh .gpu
# BUNDLE_ONLY=1 rebuilds only the bundles (after a code change; node and the modules take a minute to pack).
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${1:-.gpu}
bundle() {
  for script in gpu-check upscale-tiles; do
    node_modules/.bin/esbuild "load-tests/$script.ts" --bundle --platform=node --format=esm --target=node20 \
      --external:onnxruntime-node --external:sharp --outfile="$dest/bundle/$script.mjs" --log-level=warning \
      --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
  done
  # The CPU inference thread's entry (src/worker/inference/cpu-thread.ts loads it next to its own module).
  cp src/worker/inference/cpu-session.thread.mjs "$dest/bundle/"
}
if [ -n "${BUNDLE_ONLY:-}" ]; then bundle && exit 0; fi
rm -rf "$dest" && mkdir -p "$dest/bundle" "$dest/debs"
xz -T0 -6 -c "$(command -v node)" >"$dest/node.xz"
tar -cJf "$dest/modules.tar.xz" \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  node_modules/onnxruntime-node node_modules/onnxruntime-common node_modules/sharp node_modules/@img/colour \
  node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 node_modules/detect-libc node_modules/semver
bundle
(cd "$dest/debs" && apt-get download libvulkan1 libglvnd0 libegl1 >/dev/null)
du -sh "$dest"/* | sed 's/^/packed /'
