#!/bin/bash
# The A/B in benchmarks/gpu/RESULTS.md: the package at eb11f32 (unpacked into .devcarry/old with
# `git archive eb11f32 fpsboost | tar -x -C .devcarry/old`) against the working tree, interleaved.
# Run on the GPU machine from the repository root: OUT=/tmp/ab bash benchmarks/gpu/ab_pipeline.sh
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl >/dev/null 2>&1
export PYTHONUNBUFFERED=1 FPSBOOST_CACHE_DIR=$PWD/.devcarry/cache FPSBOOST_WEIGHTS_DIR=$PWD/weights
ARGS="bench --device cuda --resolutions 1080p,2160p --backends torch --precisions fp16 --batch-sizes 8 --repeats 2 --clip-frames 24 --e2e-repeats 1 --rss-frames 8"
for round in 1 2; do
for version in old new; do
  if [ $version = old ]; then P=$PWD/.devcarry/old; else P=$PWD; fi
  PYTHONPATH=$P:/tmp/site timeout 100 python3 -c "from fpsboost.cli import main; main()" $ARGS --json $OUT/$version-$round.json > /dev/null 2>&1
  python3 -c "
import json,sys; d=json.load(open('$OUT/$version-$round.json'))
for r in d['end_to_end']['rows']: print('$version $round', r['resolution'], r['precision'], 'fps out', r['output_fps'], 'wall', r['wall_s'], 'network', r['network_s'], 'gpu MB', r.get('peak_gpu_mb'))
for r in d['memory']['rows']: print('$version $round memory', r['frames_in'], 'rss', r['peak_rss_mb'], 'gpu', r['peak_gpu_mb'])
" || echo "$version $round failed"
done
done
