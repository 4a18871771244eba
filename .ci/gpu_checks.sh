#!/usr/bin/env bash
# Every GPU check of issue 6 in one run, for a session lent a GPU machine (docs/bench.md).
#
# Prepare here (once): the GPU machine has torch, lightning and torchmetrics, not the rest:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3 kornia==0.9.0 kornia_rs==0.2.0
#   (the versions this repo was tested with; numpy, Pillow, PyYAML, rich are there already; W&B is
#   not needed: the bench logs to CSV)
# Then: run(command="bash .ci/gpu_checks.sh", carry=[".whl"], timeout_s=540)
#
# CIFAR-10 itself cannot travel (over the 64 MiB a call carries), so the bench runs on synthetic
# CIFAR-format images of the real size (50,000 + 10,000): speed depends on the shapes, not the
# pixels. Results go to $OUT/BENCHMARKS.gpu.md (append it to BENCHMARKS.md) and $OUT/log.
#   GPU_CHECKS_TINY=1 ACCEL=cpu bash .ci/gpu_checks.sh   # a dry run of the script on a CPU
set -euo pipefail
OUT=${OUT:-/tmp/gpu_checks}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/log") 2>&1
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
PY=${PY:-python3}
ACCEL=${ACCEL:-gpu}
if [ -n "${GPU_CHECKS_TINY:-}" ]; then COUNT=256; STEPS="--steps 2 --warmup 1 --repeats 1 --val-batches 1 --pipeline-batches 2"
  SMALL="model.generator.channels=[8,16,32] model.discriminator.channels=8 data.batch_size=16 data.val_size=64"
else COUNT=10000; STEPS="--steps 40 --warmup 10 --repeats 3"; SMALL=""; fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

export COLORGAN_DATA=/tmp/cifar-synthetic
$PY - "$COLORGAN_DATA" "$COUNT" <<'PY'
import sys
from pathlib import Path
import numpy as np
from colorgan.data import cifar10
folder = Path(sys.argv[1]) / cifar10.FOLDER
folder.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for name in cifar10.TRAIN_FILES + cifar10.TEST_FILES:
    cifar10.write_batch(folder / name, rng.integers(0, 256, (int(sys.argv[2]), 3, 32, 32), dtype=np.uint8))
PY

bench() { $PY -m colorgan.bench $STEPS --markdown "$OUT/BENCHMARKS.gpu.md" trainer.accelerator=$ACCEL $SMALL "$@"; }
FAST="trainer.precision=bf16-mixed data.on_device=true model.channels_last=true"
[ "$ACCEL" = gpu ] && BENCH_GPU="+trainer.benchmark=true" || BENCH_GPU=""
echo "== fp32 (the default path)";                  bench $BENCH_GPU
echo "== fast path, eager";                         bench $BENCH_GPU $FAST
echo "== fast path + torch.compile";                bench $BENCH_GPU $FAST model.compile=true
echo "== fast path + compile, GAN at batch 512";    bench $BENCH_GPU $FAST model.compile=true data.batch_size=512 --experiments gan_lrelu
echo "== CUDA-only and fast-path tests"
$PY -m pytest -q -p no:cacheprovider tests/test_fast_path.py -k "not real" || echo "fast-path tests FAILED"
echo "== done; the report is $OUT/BENCHMARKS.gpu.md"
