#!/usr/bin/env bash
# Consumer smoke test: packs every OvDiff package with a per-run version into artifacts/consumer-feed, builds this
# console app (outside OvDiff.sln) from those packages only, fits on four real VOC images, saves, loads in a second
# process and compares the label maps and class names; then installs the `ovdiff` .NET tool from the same feed and
# checks that its label PNGs equal the library's. Needs the real data (OVDIFF_DATA or ../shared/data); skips without it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${OVDIFF_DATA:-$root/../shared/data}"
if [ ! -d "$data/VOC2012/JPEGImages" ]; then
  echo "consumer smoke test skipped: no VOC2012 images under '$data' (set OVDIFF_DATA)."
  exit 0
fi

# A version no earlier run used: NuGet's global packages folder would otherwise serve a stale copy of a repacked package.
version="0.1.0-ci.$(date -u +%Y%m%d%H%M%S).$$"
feed="$root/artifacts/consumer-feed"
work="$(mktemp -d)"
global="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
cleanup() {
  rm -rf "$work"
  for package in "$feed"/*."$version".nupkg; do
    id="$(basename "$package" ".$version.nupkg" | tr '[:upper:]' '[:lower:]')"
    rm -rf "${global:?}/$id/$version"
    rmdir "$global/$id" 2>/dev/null || true
  done
}
trap cleanup EXIT

start=$(date +%s)
rm -rf "$feed" && mkdir -p "$feed"
dotnet pack "$root/OvDiff.sln" -c Release -p:VersionSuffix="${version#0.1.0-}" -o "$feed" -v quiet -nologo
echo "packed $(ls "$feed" | wc -l) files ($(du -sh "$feed" | cut -f1)) as $version in $(( $(date +%s) - start )) s:"
ls -l "$feed" | awk 'NR>1 {printf "  %10d  %s\n", $5, $9}'

dotnet build "$here/Consumer.csproj" -c Release -p:OvDiffVersion="$version" -o "$work/app" -v quiet -nologo
# The app must have got the ResNet18 files and the native ONNX Runtime from the packages alone.
test -f "$work/app/DnnImageModels/ResNet18Onnx/ResNet18.onnx"
test -f "$work/app/libonnxruntime.so" || test -f "$work/app/runtimes/linux-x64/native/libonnxruntime.so"
dotnet "$work/app/Consumer.dll" fit "$data/VOC2012" "$work"
dotnet "$work/app/Consumer.dll" load "$data/VOC2012" "$work"

dotnet tool install --tool-path "$work/tool" OvDiff.Cli --version "$version" --add-source "$feed" >/dev/null
"$work/tool/ovdiff" segment "$data/VOC2012/JPEGImages/2007_001377.jpg" "$data/VOC2012/JPEGImages/2007_002400.jpg" \
  --model "$work/model.zip" --out "$work/tool-out" --no-overlay
dotnet "$work/app/Consumer.dll" png "$work/tool-out" "$work"
echo "consumer smoke test passed in $(( $(date +%s) - start )) s"
