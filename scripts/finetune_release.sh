#!/usr/bin/env bash
# Stage 2 of the shipped weights (MODEL_CARD.md, "Training"): fine-tunes the stage-1 weights on
# the current phantoms, on the CPU, then blends the result with its start (WiSE-FT).
#
#   scripts/finetune_release.sh START OUT
#
# START: the stage-1 ONNX that scripts/train_release.sh made (OUT/phantoms/b12brain_wmh_unet2d.onnx;
# shipped until 2026-12-02 as src/b12brain/resources/wmh_unet.onnx, SHA-256 468a897e...:
# git show 586058d:src/b12brain/resources/wmh_unet.onnx > stage1.onnx).
# OUT/finetune holds the fine-tuned model (best.pt, ONNX, train.log), OUT/blend the blend; the
# shipped files are OUT/blend/b12brain_wmh_unet2d.* copied to
# src/b12brain/resources/wmh_unet.{onnx,onnx.sha256,json}.
set -euo pipefail
usage="usage: finetune_release.sh START OUT"
start=${1:?$usage}
out=${2:?$usage}
py=${PYTHON:-python3}
mkdir -p "$out"
$py -m b12brain.train --out "$out/finetune" --init "$start" --steps 1000 --batch 16 --lr 5e-4 \
    --val-every 250 --pool 96 --seed 0 --workers 1 --jobs 2 --cache "$out/cache"
$py -m b12brain.train.blend "$start" "$out/finetune/b12brain_wmh_unet2d.onnx" --out "$out/blend"
