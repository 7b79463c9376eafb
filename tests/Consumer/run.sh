#!/usr/bin/env bash
# Consumer smoke test: packs every OvDiff package with a per-run version into artifacts/consumer-feed, builds this
# console app (outside OvDiff.sln) from those packages only, warning-free under every analyzer rule, fits on four real VOC
# images, saves, loads in a second process and compares the label maps and class names; publishes it framework-dependent
# and as one self-contained file, moves each and serves the model from several threads in a fresh process; checks that a
# trimmed publish is refused with OvDiff's error; then installs the `ovdiff` .NET tool from the same feed and
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

# Built as a careful user builds (nullable, every analyzer rule, warnings as errors, MSBuild's too): nothing of ours may warn.
dotnet build "$here/Consumer.csproj" -c Release -p:OvDiffVersion="$version" -o "$work/app" -v quiet -nologo -warnaserror
# The app must have got the ResNet18 files and the native ONNX Runtime from the packages alone.
test -f "$work/app/DnnImageModels/ResNet18Onnx/ResNet18.onnx"
test -f "$work/app/libonnxruntime.so" || test -f "$work/app/runtimes/linux-x64/native/libonnxruntime.so"
dotnet "$work/app/Consumer.dll" fit "$data/VOC2012" "$work"
dotnet "$work/app/Consumer.dll" load "$data/VOC2012" "$work"

# Published as users ship it, the folder moved away from where it was published, run from another working directory
# as a web server would use the model (Consumer serve). Framework-dependent, then one self-contained file with the
# native libraries inside (extracted on first run); the other modes are in docs/ml-net.md, 'Publishing'.
publish() {
  local name="$1" t0
  shift
  t0=$(date +%s)
  dotnet publish "$here/Consumer.csproj" -c Release -p:OvDiffVersion="$version" -r linux-x64 -o "$work/publish-$name" -v quiet -nologo "$@"
  mv "$work/publish-$name" "$work/$name"
  test -f "$work/$name/DnnImageModels/ResNet18Onnx/ResNet18.onnx"
  test -f "$work/$name/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx"
  echo "published $name: $(du -sh "$work/$name" | cut -f1) in $(( $(date +%s) - t0 )) s"
  (cd / && DOTNET_BUNDLE_EXTRACT_BASE_DIR="$work/bundle-extract" "$work/$name/Consumer" serve "$data/VOC2012" "$work")
}
publish framework-dependent --self-contained false
test -f "$work/framework-dependent/libonnxruntime.so"
# The publish folder copied without a part of it: one error naming what is missing and what to do.
copied_without() {
  rm -rf "$work/partial" && cp -r "$work/framework-dependent" "$work/partial" && rm -r "${work:?}/partial/$1"
  # (in braces, so that the shell's 'Aborted' for the unhandled exception goes to the log too)
  if { (cd / && "$work/partial/Consumer" serve "$data/VOC2012" "$work"); } >"$work/partial.log" 2>&1; then
    echo "the app ran without its $1" >&2
    exit 1
  fi
  grep -qF "$2" "$work/partial.log" || { cat "$work/partial.log" >&2; exit 1; }
  echo "copied without $1: '$2'"
}
copied_without libonnxruntime.so "copy the whole publish folder"
copied_without DnnImageModels "copy its DnnImageModels/ folder along with the executable"
rm -rf "$work/partial"
publish single-file --self-contained true -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true
# Nothing beside the file but the ResNet18 files (and symbols): the runtime, assemblies and natives are inside.
extra="$(ls "$work/single-file" | grep -v -x -e Consumer -e Consumer.pdb -e DnnImageModels || true)"
[ -z "$extra" ] || { echo "single-file publish left files beside the executable: $extra" >&2; exit 1; }

# A trimmed publish cannot work (ML.NET works by reflection): it must stop with OvDiff's one error, not build an app
# that fails at run time.
if dotnet publish "$here/Consumer.csproj" -c Release -p:OvDiffVersion="$version" -r linux-x64 --self-contained true \
    -p:PublishTrimmed=true -o "$work/publish-trimmed" -nologo >"$work/trimmed.log" 2>&1; then
  echo "a trimmed publish succeeded: OvDiff.ML's buildTransitive targets did not refuse it" >&2
  exit 1
fi
grep -q "error OVDIFF001: OvDiff.ML cannot be trimmed" "$work/trimmed.log" || { cat "$work/trimmed.log" >&2; exit 1; }
echo "trimmed publish refused: $(grep -o 'error OVDIFF001: [^:]*' "$work/trimmed.log" | head -1)"

dotnet tool install --tool-path "$work/tool" OvDiff.Cli --version "$version" --add-source "$feed" >/dev/null
"$work/tool/ovdiff" segment "$data/VOC2012/JPEGImages/2007_001377.jpg" "$data/VOC2012/JPEGImages/2007_002400.jpg" \
  --model "$work/model.zip" --out "$work/tool-out" --no-overlay
dotnet "$work/app/Consumer.dll" png "$work/tool-out" "$work"
echo "consumer smoke test passed in $(( $(date +%s) - start )) s"
