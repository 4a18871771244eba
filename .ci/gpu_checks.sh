#!/usr/bin/env bash
# Every GPU check in one run on a GPU machine (docs/bench.md), inside 8 minutes.
#
# Prepare here (once): the GPU machine has torch, lightning and torchmetrics, not the rest:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3 kornia==0.9.0 kornia_rs==0.2.0
#   (the versions this repo was tested with; numpy, Pillow, PyYAML, rich are there already; W&B is
#   not needed: the tests and the bench log to CSV)
# Then: run(command="bash .ci/gpu_checks.sh", carry=[".whl"], timeout_s=540)
#
# Always delivers: each section runs under its own `timeout` and prints "FAILED" when it fails or
# overruns, and the next section runs anyway; everything goes to $OUT/log as it happens. The CUDA
# tests come first (fp32/bf16, channels_last, on_device, compile, host syncs, for both models), then
# the bench. The sections' limits add up to 460 s.
#
# CIFAR-10 itself cannot travel (over the 64 MiB a call carries), so the bench runs on synthetic
# CIFAR-format images of the real size (50,000 + 10,000): speed depends on the shapes, not the
# pixels. Results go to $OUT/BENCHMARKS.gpu.md (append it to BENCHMARKS.md) and $OUT/log.
#   GPU_CHECKS_TINY=1 ACCEL=cpu bash .ci/gpu_checks.sh   # a dry run of the script on a CPU
set -uo pipefail  # no -e: a failing section must not end the run
OUT=${OUT:-/tmp/gpu_checks}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/log") 2>&1
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
ACCEL=${ACCEL:-gpu}
STARTED=$SECONDS

section() {  # section <seconds> <name> <command...>
  local limit=$1 name=$2 began=$SECONDS; shift 2
  echo "== $name (limit ${limit} s, at $((SECONDS - STARTED)) s)"
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  if [ $rc -ne 0 ]; then echo "== $name FAILED (exit $rc$([ $rc -eq 124 ] && echo ', timed out'))"; fi
  echo "== $name took $((SECONDS - began)) s"
}

export PYTHONPATH=$PWD
if [ -d .whl ]; then
  section 60 "install the wheels" $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
if [ -n "${GPU_CHECKS_TINY:-}" ]; then COUNT=256; STEPS="--steps 2 --warmup 1 --repeats 1 --val-batches 1 --pipeline-batches 2"
  SMALL="model.generator.channels=[8,16,32] model.discriminator.channels=8 data.batch_size=16 data.val_size=64"
  INDUCTOR=""  # inductor's C++ build takes minutes on a CPU
else COUNT=10000; STEPS="--steps 30 --warmup 5 --repeats 2 --val-batches 2 --pipeline-batches 20"; SMALL=""
  INDUCTOR="or compiled_model_trains"; fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

echo "== CUDA tests: speed options and host syncs of both models, on $ACCEL"
section 140 "tests" env COLORGAN_TEST_ACCELERATOR=$ACCEL $PY -m pytest -q -p no:cacheprovider -o addopts="-ra" \
  tests/test_fast_path.py tests/test_host_reads.py tests/test_compile.py -k "not real and (not slow $INDUCTOR)"

export COLORGAN_DATA=/tmp/cifar-synthetic
section 30 "synthetic CIFAR-10" $PY - "$COLORGAN_DATA" "$COUNT" <<'PY'
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

BENCH="$PY -m colorgan.bench $STEPS --markdown $OUT/BENCHMARKS.gpu.md trainer.accelerator=$ACCEL $SMALL"
FAST="trainer.precision=bf16-mixed data.on_device=true model.channels_last=true"
[ "$ACCEL" = gpu ] && BENCH_GPU="+trainer.benchmark=true" || BENCH_GPU=""
section 60 "bench: fp32 (the default path)" $BENCH $BENCH_GPU
section 60 "bench: fast path, eager" $BENCH $BENCH_GPU $FAST
section 110 "bench: fast path + torch.compile" $BENCH $BENCH_GPU $FAST model.compile=true
echo "== done in $((SECONDS - STARTED)) s; the report is $OUT/BENCHMARKS.gpu.md, the log $OUT/log"
