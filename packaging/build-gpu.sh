#!/bin/sh
# Build a GPU variant of the package: llama.cpp compiled for CUDA (NVIDIA) or Vulkan (any vendor), then the same
# PyInstaller spec. Not built or tested here (no GPU on the build machines); see packaging/README.md.
#
#   packaging/build-gpu.sh cuda      -> dist/cuda/hearth/     needs the CUDA toolkit (nvcc) on the build machine
#   packaging/build-gpu.sh vulkan    -> dist/vulkan/hearth/   needs the Vulkan headers + glslc (libvulkan-dev, glslc)
#
# It uses its own virtual environment (.venv-<variant>), so the CPU build's .venv and its llama-cpp-python
# (a 6-minute compile) are never touched. The model and everything else are the CPU package's. Users of the CUDA
# build need the NVIDIA driver; PyInstaller copies the CUDA runtime libraries llama.cpp links (libcudart,
# libcublas: several hundred MB) into the bundle, so that variant is well over the CPU package's 600 MB. Users of
# the Vulkan build need their GPU's Vulkan driver (the ICD); the loader libvulkan.so.1 comes from the system.
set -eu

VARIANT=${1:-}
case "$VARIANT" in
    cuda) CMAKE_FLAGS="-DGGML_CUDA=on" ;;
    vulkan) CMAKE_FLAGS="-DGGML_VULKAN=on" ;;
    *) echo "usage: packaging/build-gpu.sh cuda|vulkan" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=.venv-$VARIANT
PY=${PY:-python3}

[ -f resources/models/SmolLM2-135M-Instruct.Q4_1.gguf ] || make models
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip wheel
"$VENV/bin/pip" install -q torch==2.13.0          # the CPU wheel (a dependency of sentence-transformers; not shipped)
"$VENV/bin/pip" install -q -e '.[package]'
CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$VENV/bin/pip" install --force-reinstall --no-deps --no-cache-dir llama-cpp-python==0.3.36
ls "$VENV"/lib/python3*/site-packages/llama_cpp/lib/ | grep -q "ggml-$VARIANT" \
    || { echo "build-gpu.sh: llama.cpp was built without the $VARIANT backend" >&2; exit 1; }
nice -n 10 "$VENV/bin/pyinstaller" --noconfirm --log-level WARN --distpath "dist/$VARIANT" \
    --workpath "build/pyinstaller-$VARIANT" packaging/hearth.spec
echo "dist/$VARIANT/hearth: try it with \`dist/$VARIANT/hearth/hearth ask --json \"Say hi\"\` after setting"
echo "model.n_gpu_layers = -1 (Settings -> Model, or config/settings.toml); its stats name the GPU."
