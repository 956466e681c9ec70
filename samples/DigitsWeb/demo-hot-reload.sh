#!/usr/bin/env bash
# Hot reload while serving: packs ModelBuild (build/pack-local.sh), builds DigitsWeb (which compresses mnist-8 to
# int8), starts it on a free loopback port, classifies a test digit, then deploys another model over
# models/digits.onnx in the output folder the way a deploy should (write a temp file, rename it over the model),
# waits until GET /model reports the next generation, classifies again and stops the server.
# Needs bash, curl and od; nothing listens beyond 127.0.0.1.
set -euo pipefail
sample="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$sample/../.." && pwd)"
version="$(bash "$root/build/pack-local.sh")"

echo "== dotnet build samples/DigitsWeb (compresses Models/mnist-8.onnx with ModelBuild ${version})"
dotnet build "$sample" -c Release "-p:ModelBuildVersion=${version}" -nologo -v:n \
  | grep -E 'ModelBuild: |: stage | (error|warning) [A-Z]+[0-9]+:' | sort -u || true
out="$sample/bin/Release/net10.0"
test -f "$out/models/digits.onnx"

log="$(mktemp)"
# Port 0: Kestrel picks a free port and logs it ("Now listening on: http://127.0.0.1:NNNNN").
dotnet "$out/DigitsWeb.dll" --urls "http://127.0.0.1:0" >"$log" 2>&1 &
server=$!
compressed="$(mktemp)"
cp "$out/models/digits.onnx" "$compressed"
# On exit (also on failure or Ctrl+C): stop the app and put the compressed model back in bin/, so the next run and the
# next `dotnet build` (which copies only newer files) start from what the build produced.
restore() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  cp "$compressed" "$out/models/digits.onnx.deploy-$$" && mv -f "$out/models/digits.onnx.deploy-$$" "$out/models/digits.onnx"
  rm -f "$log" "$compressed"
}
trap restore EXIT
url=""
for _ in $(seq 1 300); do
  url="$(grep -o 'Now listening on: http://127\.0\.0\.1:[0-9]*' "$log" | head -1 | sed 's/Now listening on: //')" || true
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the app did not start:"; cat "$log"; exit 1; }
echo "== DigitsWeb listening on $url"

# Test image i of Data/test_x.npy ([500,1,28,28] float32 after a 128-byte header) as a JSON body, and its label.
body() { printf '{"pixels":[%s]}' "$(od -A n -t f4 -v -j $((128 + 3136 * $1)) -N 3136 "$sample/Data/test_x.npy" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')"; }
label() { od -A n -t d8 -j $((128 + 8 * $1)) -N 8 "$sample/Data/test_y.npy" | tr -d ' \n'; }
predict() { echo "POST /predict (test image $1, label $(label "$1")): $(body "$1" | curl -sS --fail-with-body -H 'Content-Type: application/json' --data-binary @- "$url/predict")"; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p"; }

echo "GET /healthz: $(curl -sS "$url/healthz")"
model="$(curl -sS --fail "$url/model")"
generation="$(echo "$model" | field generation)"
echo "GET /model: generation $generation, sha256 $(echo "$model" | field sha256), $(echo "$model" | field sizeBytes) B"
predict 0
predict 1

echo "== deploying the float mnist-8 over models/digits.onnx (temp file + rename) while the app serves"
cp "$sample/Models/mnist-8.onnx" "$out/models/digits.onnx.deploy-$$"
mv -f "$out/models/digits.onnx.deploy-$$" "$out/models/digits.onnx"
for _ in $(seq 1 200); do
  model="$(curl -sS --fail "$url/model")"
  [ "$(echo "$model" | field generation)" != "$generation" ] && break
  sleep 0.1
done
[ "$(echo "$model" | field generation)" != "$generation" ] || { echo "no reload within 20 s"; cat "$log"; exit 1; }
echo "GET /model: generation $(echo "$model" | field generation), sha256 $(echo "$model" | field sha256), $(echo "$model" | field sizeBytes) B"
predict 0
predict 1
echo "GET /healthz: $(curl -sS "$url/healthz")"
echo "GET /metrics: $(curl -sS "$url/metrics")"
echo "== app log"
grep -E 'digits|ModelBuild' "$log" || true

echo "== stopping the app"
