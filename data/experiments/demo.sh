#!/bin/sh
# demo.sh - make demo: Fashion-MNIST end to end into $OUT (runs/demo):
# fetch, train data/arch/fmnist.nn, evaluate, spikes and feature maps of a
# test image, visualizations of filters of two conv layers, the filter GIF.
#   EPOCHS (3), TRAIN_LIMIT (all), BIN (bin), OUT (runs/demo)
set -eu
BIN=${BIN:-bin} OUT=${OUT:-runs/demo} EPOCHS=${EPOCHS:-3}
mkdir -p "$OUT"
limit=; [ -n "${TRAIN_LIMIT:-}" ] && limit="--train-limit $TRAIN_LIMIT"
step() { echo "demo: $*" >&2; }
step "fetching Fashion-MNIST"
"$BIN/nn-fetch-data" fashion-mnist -o "$OUT/fmnist.h5"
step "training data/arch/fmnist.nn for $EPOCHS epochs"
"$BIN/nn-train" -a data/arch/fmnist.nn -d "$OUT/fmnist.h5" -o "$OUT/model.h5" \
    -e "$EPOCHS" --optim adam --lr 1e-3 -b 32 --schedule cosine --test $limit --log "$OUT/train.tsv" \
    --plot "$OUT/plots" --filters-every 100 --filters-layer conv1 --logdir "$OUT/tensorboard"
step "evaluating on the test split"
"$BIN/nn-eval" -m "$OUT/model.h5" -d "$OUT/fmnist.h5" --confusion-png "$OUT/confusion.png" > "$OUT/eval.tsv"
step "spikes and feature maps of conv2's ReLU for an ankle boot"
"$BIN/nn-featmap" -m "$OUT/model.h5" -l 6 data/samples/fmnist-ankle-boot.png --top 5 \
    --plot "$OUT/spikes.png" --grid "$OUT/maps.png" -o "$OUT/acts.h5" > "$OUT/top-spikes.tsv"
step "visualizing filters of conv1 and conv2 (after their ReLUs) and the top spikes"
# A conv layer alone is linear: its mean is maximized by a flat image; the
# ReLU after it makes the filters draw their patterns.
"$BIN/nn-vis" -m "$OUT/model.h5" -l 2 -f 0,1,2,3,4,5,6,7 --upscaling-steps 6 -o "$OUT/vis-conv1.png" -q
"$BIN/nn-vis" -m "$OUT/model.h5" -l 6 -f 0,1,2,3,4,5,6,7,8,9,10,11 --upscaling-steps 6 -o "$OUT/vis-conv2.png" -q
"$BIN/nn-vis" -m "$OUT/model.h5" -l 6 --filters-from "$OUT/top-spikes.tsv" --upscaling-steps 6 -o "$OUT/vis-spikes.png" -q
"$BIN/nn-vis" -m "$OUT/model.h5" --weights -l conv1 -o "$OUT/filters-conv1.png"
echo "demo: done; in $OUT:" >&2
find "$OUT" -maxdepth 2 -type f | sort >&2
