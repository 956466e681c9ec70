#!/usr/bin/env bash
# Issue 15: a cold build vs a remote-hit build of samples/IntentRouter, side by side (benchmarks/RESULTS.md,
# "Remote cache: IntentRouter cold vs remote hit").
#
#   bash benchmarks/remote-cache/intent-router-cold-vs-hit.sh        # PAIRS=1 for one pair (default 2)
#
# Packs ModelBuild (build/pack-local.sh), starts Azurite (installed like .ci/run does) on a free 127.0.0.1 port with
# a temp data folder, then for each pair, in its own container:
#   A: a fresh copy of samples/IntentRouter (no bin/, obj/, so an empty local cache; no ModelBuildCacheDir),
#      ModelBuildRemoteCacheMode=ReadWrite: compresses and uploads;
#   B: another fresh copy, ModelBuildRemoteCacheMode=Read: a remote hit.
# Each is one timed `dotnet build -c Release -v:n` (/usr/bin/time -f %e). Untimed warm-up first, shared by A and B:
# the package's extraction into the NuGet cache and the build of ModelBuild.Runtime (a project reference from the
# repository), so the two timed builds differ only in what ModelBuild does. Logs go to artifacts/remote-cache-bench/.
# Azurite is stopped and the temp folders removed at exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
pairs="${PAIRS:-2}"
version="$(bash build/pack-local.sh)"
runtime="$root/src/ModelBuild.Runtime/ModelBuild.Runtime.csproj"
logs="$root/artifacts/remote-cache-bench"
mkdir -p "$logs"

if [ ! -x artifacts/tools/azurite/node_modules/.bin/azurite-blob ]; then
  mkdir -p artifacts/tools/azurite
  npm install --prefix artifacts/tools/azurite --no-audit --no-fund --loglevel=error azurite@3.37.0 >/dev/null
fi

work="$(mktemp -d /tmp/mb-remote-bench.XXXXXX)"
azurite_pid=""
cleanup() {
  if [ -n "$azurite_pid" ] && kill -0 "$azurite_pid" 2>/dev/null; then
    kill "$azurite_pid" 2>/dev/null || true
    wait "$azurite_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
mkdir -p "$work/azurite"
artifacts/tools/azurite/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$port" \
  --location "$work/azurite" --silent --skipApiVersionCheck --loose >"$logs/azurite.log" 2>&1 &
azurite_pid=$!
for _ in $(seq 1 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$azurite_pid" 2>/dev/null || { echo "Azurite exited (see $logs/azurite.log)" >&2; exit 1; }
  sleep 0.1
done
echo "== Azurite (pid $azurite_pid) on 127.0.0.1:$port, ModelBuild $version" >&2

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
export ModelBuildRemoteCacheConnectionString="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
unset ModelBuildCacheDir AZURE_STORAGE_CONNECTION_STRING ModelBuildRemoteCacheSigningKey

# A fresh copy of the sample outside the repository: its nuget.config points at the repository's feed by absolute path.
fresh_copy() {
  local dir="$1"
  mkdir -p "$dir"
  (cd samples/IntentRouter && tar --exclude=./bin --exclude=./obj -cf - .) | (cd "$dir" && tar -xf -)
  cat >"$dir/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="modelbuild-local" value="$root/artifacts/packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
EOF
}

echo "== warm-up (untimed): restore, ModelBuild.Runtime" >&2
fresh_copy "$work/warmup"
dotnet restore "$work/warmup" "-p:ModelBuildVersion=$version" "-p:ModelBuildRuntimeProject=$runtime" -nologo -v:q >&2
dotnet build "$runtime" -c Release "-p:ModelBuildVersion=$version" -nologo -v:q >&2

# build <name> <mode> <container>: one timed build; prints a table row.
build() {
  local name="$1" mode="$2" container="$3" dir="$work/$1"
  fresh_copy "$dir"
  local load; load="$(uptime | sed 's/.*load average: //')"
  echo "== $name: dotnet build, ModelBuildRemoteCacheMode=$mode, azblob://$container/bench (load $load)" >&2
  local status=0
  ModelBuildRemoteCache="azblob://$container/bench" ModelBuildRemoteCacheMode="$mode" \
    /usr/bin/time -f %e -o "$logs/$name.time" \
    dotnet build "$dir" -c Release "-p:ModelBuildVersion=$version" "-p:ModelBuildRuntimeProject=$runtime" -nologo -v:n \
    >"$logs/$name.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then echo "$name: the build failed (exit $status), see $logs/$name.log" >&2; exit 1; fi
  local wall took remote sha worker
  wall="$(tail -n1 "$logs/$name.time")"
  took="$(grep -o 'ModelBuild: CompressModels took .*' "$logs/$name.log" | head -n1 | sed 's/ *$//')"
  remote="$(grep -oE 'remote cache: result: (remote hit|remote miss|uploaded)[^|]*' "$logs/$name.log" | sed -E 's/ (from|to) azblob:.*//; s/ *$//' | paste -sd ';' | sed 's/;/; /g')"
  sha="$(sha256sum "$dir/bin/Release/net10.0/models/intent.onnx" | cut -c1-16)"
  worker="no"
  if ls "$dir"/obj/modelbuild/logs/*.log 2>/dev/null | grep -qv '\.remote\.log$'; then worker="yes"; fi
  echo "| $name | $mode | $wall s | \`$took\` | $worker | $remote | \`$sha\` | $load |"
}

echo "| build | mode | dotnet build wall | task's own line | worker ran | remote cache | sha256 of intent.onnx (first 16) | load average (1, 5, 15 min) at start |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for n in $(seq 1 "$pairs"); do
  build "pair$n-A-cold" ReadWrite "intentrouter$n"
  build "pair$n-B-hit" Read "intentrouter$n"
done
