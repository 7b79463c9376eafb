#!/usr/bin/env bash
# The main job, end to end on real data: build, pick support images from VOC 2012 dev by image-level tags only,
# fit ResNet18 prototypes, evaluate on the held-out dev images with the official protocol, write CSV reports.
#   bash eval/run-voc-dev.sh [OUT_DIR]        (default runs/voc-dev; FAST=1 scores the whole image only;
#                                             ORDER=split takes each class's first images in split order instead of alone-first)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/voc-dev}"
data="${OVDIFF_DATA:-$(cd .. && pwd)/shared/data}"
[ -d "$data/VOC2012" ] || { echo "VOC 2012 not found under $data (set OVDIFF_DATA)." >&2; exit 1; }
dotnet build -c Release src/OvDiff.Cli -v quiet -nologo
ovdiff=(dotnet "src/OvDiff.Cli/bin/Release/net10.0/linux-x64/ovdiff.dll")
config=configs/voc21-dev.json
sets=(--set "dataset.root=$data/VOC2012")
mkdir -p "$out"
"${ovdiff[@]}" support from-labels -c "$config" "${sets[@]}" --per-class "${PER_CLASS:-16}" --order "${ORDER:-alone-first}" -o "$out/support"
"${ovdiff[@]}" fit --support "$out/support/support.csv" --out "$out/model.zip"
protocol=()
[ "${FAST:-0}" = 1 ] && protocol=(--set 'protocol.windows=[]')
"${ovdiff[@]}" eval -c "$config" "${sets[@]}" --set "dataset.splitFile=$(cd "$out/support" && pwd)/holdout.txt" \
  "${protocol[@]}" --model "$out/model.zip" --out "$out/eval" --set "output.ledger=$out/ledger.csv"
echo "Reports: $out/eval/summary.csv, $out/eval/per_class.csv"
