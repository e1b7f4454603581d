#!/usr/bin/env bash
# Trains the learned segmenter's released weights and the models of its cross-validation
# (MODEL_CARD.md gives the figures, the machine and the times of the run that made them).
#
#   scripts/train_release.sh OUT REAL [STEPS]
#
# Three models train at once on one GPU (4 batch-making processes each, 16 cores in all):
#   phantoms        phantoms only                  -> the shipped weights; scored on both sites
#   loso-tabriz     phantoms + ljubljana_ms_mni    -> scored on tabriz_ms
#   loso-ljubljana  phantoms + tabriz_ms           -> scored on ljubljana_ms_mni
# REAL: the real scans, DIR/<site>/<subject>/{flair,lesion}.nii.gz (../shared/data/lesions), or
# the real-*.npz pool that `python -m b12brain.train --out X --prepare-only --pool 0 --real DIR
# --cache C` made from them (lets a GPU machine without the scans or SimpleITK train).
#
# Each model's folder gets b12brain_wmh_unet2d.{onnx,onnx.sha256,json}, best.pt and train.log;
# the shipped ones are OUT/phantoms/b12brain_wmh_unet2d.* copied to
# src/b12brain/resources/wmh_unet.{onnx,onnx.sha256,json}.
set -euo pipefail
usage="usage: train_release.sh OUT REAL [STEPS]"
out=${1:?$usage}
real=${2:?$usage}
py=${PYTHON:-python3}
# --max-minutes is a guard against a slow machine (the released run never reached it).
common=(--steps "${3:-3200}" --pool 96 --seed 0 --batch 32 --width 16 --lr 2e-3 --val-every 400
        --crop 192 224 --workers 4 --max-minutes 7 --cache "$out/cache")
mkdir -p "$out"
# The phantom pool once, in parallel (the three runs then read it from the cache).
$py -m b12brain.train --out "$out/prepare" "${common[@]}" --jobs 16 --prepare-only
train() {
    local name=$1
    shift
    $py -m b12brain.train --out "$out/$name" "${common[@]}" "$@" >"$out/$name.out" 2>&1
}
train phantoms &
train loso-tabriz --real "$real" --exclude-site tabriz_ms &
train loso-ljubljana --real "$real" --exclude-site ljubljana_ms_mni &
wait
