#!/bin/bash
# Every GPU check of one short lease, in one run (results: benchmarks/gpu/RESULTS.md).
#
#   OUT=/tmp/gpu bash benchmarks/gpu/device_check.sh
#
# Run from the repository root on a CUDA machine whose python3 has torch, onnxruntime, click,
# rich, numpy, safetensors and OpenCV. PyAV is installed from wheels in .whl/ when missing.
# Inputs it reads when present (ignored by git, carried with the call): .devcarry/*.mp4, the evaluation's real clips,
# and .devcarry/cache, pre-rendered bench clips (rendering a 4K CelScene clip takes minutes).
set -o pipefail
OUT=${OUT:-/tmp/fpsboost-gpu}
mkdir -p "$OUT"
if ! python3 -c "import av" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export FPSBOOST_CACHE_DIR="$PWD/.devcarry/cache"
FPSBOOST="python3 -c 'from fpsboost.cli import main; main()'"
SECTIONS=${SECTIONS:-1 2 3 4}  # which of the numbered checks below to run
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, onnxruntime as o, av; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
'onnxruntime', o.__version__, o.get_available_providers(), 'av', av.__version__)"

if want 1; then
echo "== 1. the README's job on the sample clip (device auto: CUDA, fp16)"
time bash -c "$FPSBOOST tests/data/sample.mp4 $OUT/sample-x4.mp4 --factor 4"
time bash -c "$FPSBOOST extrapolate tests/data/sample.mp4 $OUT/sample-extra.mp4 --steps 8 -q"
python3 - "$OUT" <<'EOF'
import sys, av
for name in ("sample-x4.mp4", "sample-extra.mp4"):
    with av.open(f"{sys.argv[1]}/{name}") as c:
        v = c.streams.video[0]
        print(name, "frames", sum(1 for _ in c.decode(v)), "rate", v.average_rate, "streams", [s.type for s in c.streams])
EOF
rm -f "$OUT"/sample-*.mp4
fi

if want 2; then
echo "== 2. pixels: GPU against CPU in each precision"
timeout 150 bash -c "$FPSBOOST bench gpu --real-dir .devcarry --out-dir $OUT" 2>&1 | tail -n 25  # writes $OUT/agreement.json
fi

if want 3; then
echo "== 3. speed and memory, 480p to 4K"
timeout 330 bash -c "$FPSBOOST bench --device cuda --resolutions 480p,1080p,2160p --backends ${BENCH_BACKENDS:-torch,onnx} \
    --precisions fp32,fp16 --batch-sizes 1,8 --repeats 5 --clip-frames 24 --e2e-repeats 1 \
    --json $OUT/bench.json --markdown $OUT/bench.md" 2>&1 | tail -n 60
fi

if want 4; then
echo "== 4. the test suite with a GPU present (device auto resolves to CUDA)"
timeout 120 python3 -m pytest -q -p no:cacheprovider --maxfail=15 tests 2>&1 | tail -n 25 | tee "$OUT/pytest.txt"
fi
