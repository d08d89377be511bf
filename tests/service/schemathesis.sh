#!/usr/bin/env bash
# Property-based API testing with schemathesis (PyPI) against /openapi.json of a live server on
# loopback: no 5xx and no response that violates the schema (status, content type, headers, body).
# Install once, outside the repo:
#   python3 -m venv /opt/st-venv && /opt/st-venv/bin/pip install schemathesis
# Usage: tests/service/schemathesis.sh [extra schemathesis args]   (SCHEMATHESIS=path overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
ST=${SCHEMATHESIS:-/opt/st-venv/bin/schemathesis}
DENO=${DENO:-deno}
command -v "$DENO" >/dev/null 2>&1 || DENO="npx -y deno@2.9.6"
[ -x "$ST" ] || { echo "schemathesis not found at $ST" >&2; exit 2; }

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=schemathesis-key
engines=${HYDIT_TEST_ENGINES:-engines/out/tiny-v12-fp32}
[ -f "$engines/manifest.json" ] || { echo "schemathesis: no engines at $engines (build them first)" >&2; exit 2; }
echo "schemathesis: engines $engines, port $port"

HYDIT_PORT=$port HYDIT_HOST=127.0.0.1 HYDIT_KV_PATH=$dir/kv/hydit.kv HYDIT_RESULTS_DIR=$dir/results \
  HYDIT_ENGINES=$engines HYDIT_API_KEYS=$key HYDIT_MIN_SIDE=64 HYDIT_MAX_SIDE=128 HYDIT_QUEUE_DEPTH=3 \
  HYDIT_SYNC_WAIT_S=2 HYDIT_WARMUP_STEPS=1 HYDIT_LOG_LEVEL=warn \
  $DENO run -A main.ts >"$dir/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

for _ in $(seq 1 600); do
  if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log"; exit 1; }
  sleep 0.2
done

"$ST" run "http://127.0.0.1:$port/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  -H "Authorization: Bearer $key" \
  --workers 1 --max-examples "${ST_MAX_EXAMPLES:-40}" --request-timeout 30 --seed 1 \
  --suppress-health-check all "$@"
rc=$?
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "server died during the run" >&2; cat "$dir/server.log"; exit 1; }
if grep -q '"unhandled error"' "$dir/server.log"; then echo "server logged an unhandled error" >&2; grep '"unhandled error"' "$dir/server.log" | head; exit 1; fi
exit $rc
