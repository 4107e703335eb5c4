#!/usr/bin/env bash
# Runs the GPU checks on a GPU machine and leaves their results in $OUT (default ./gpu-check).
# onnxruntime-gpu must be importable; on a machine that has only the CPU onnxruntime, a wheel
# carried as parts in .gpu/ (with its .gpu/install script) is installed to /tmp/ortgpu first.
set -u
out=${OUT:-gpu-check}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/nvidia-smi.txt"
if [ -f .gpu/install ]; then
  bash .gpu/install 2>&1 | tee "$out/install.log"
  export PYTHONPATH=/tmp/ortgpu:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
python3 tools/gpu/check_onnx_gpu.py --out "$out" "$@" 2>&1 | tee "$out/gpu_check.log"
