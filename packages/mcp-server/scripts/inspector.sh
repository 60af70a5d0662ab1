#!/usr/bin/env bash
# The MCP Inspector CLI (2.12.0, on Node 24 through npx) against the built hearth-mcp: it lists and calls the tools
# over stdio, and lists the tools over Streamable HTTP. Run from packages/mcp-server after `pnpm run build`
# (needs network for npx the first time). Output goes to stdout; the note quotes it.
set -euo pipefail
cd "$(dirname "$0")/.."
INSPECT=(npx -y -p node@24 -p @modelcontextprotocol/inspector@2.12.0 mcp-inspector --cli)
WS_JSON=$(node -e 'import("./dist/test/helpers.js").then((h) => h.workspace({ keep: true })).then((w) => console.log(JSON.stringify(w)))')
get() { node -e "console.log(JSON.parse(process.argv[1])[process.argv[2]])" "$WS_JSON" "$1"; }
ROOT=$(get root); EMB=$(get embedder); VLM=$(get vlm); PNG=$(get png); DATA=$(get dataset)
ADAPTERS=$(mktemp -d)
SERVER=(node "$PWD/bin/hearth-mcp.js" --root "$ROOT" --embedding-model "$EMB" --vision-model "$VLM" --adapter-dir "$ADAPTERS")
# An isError result makes the Inspector exit non-zero: print the status instead of stopping.
run() { echo "\$ mcp-inspector --cli hearth-mcp … $*"; local rc=0; "${INSPECT[@]}" "${SERVER[@]}" "$@" 2>/dev/null || rc=$?; echo "(exit $rc)"; echo; }

run --method tools/list
run --method tools/call --tool-name generate --tool-arg 'prompt=What is 71 - 53?' maxTokens=12
run --method tools/call --tool-name generate --tool-arg 'prompt=What is 12 + 30?' maxTokens=40 'jsonSchema={"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}'
run --method tools/call --tool-name embed --tool-arg 'query=cat on a mat' 'documents=["the cat sat on the mat","stock prices fell","a kitten on a rug"]'
run --method tools/call --tool-name describe_image --tool-arg "image=$PNG" 'prompt=What is in the picture?' maxTokens=8
run --method tools/call --tool-name describe_image --tool-arg "image=/etc/passwd"
run --method tools/call --tool-name lora_train --tool-arg "data=$DATA" name=inspector-demo iters=4 numLayers=4 learningRate=0.02
run --method tools/call --tool-name models
run --method resources/read --uri hearth://adapters
run --method prompts/get --prompt-name caption_polish --prompt-args 'caption=a brown dog on grass i think' 'style=alt text'

# Streamable HTTP: start the server on a free port and read its contract line.
LOG=$(mktemp)
node "$PWD/bin/hearth-mcp.js" --http --port 0 --root "$ROOT" 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$(dirname "$ROOT")" "$ADAPTERS" "$LOG"' EXIT
for _ in $(seq 1 200); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
URL=$(sed -n 's/^hearth-mcp listening on //p' "$LOG")
echo "$ hearth-mcp --http --port 0   # stderr: $(grep 'listening on' "$LOG")"
echo "\$ mcp-inspector --cli $URL --method tools/list | names"
"${INSPECT[@]}" "$URL" --method tools/list 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tools.map(t=>t.name).join(" ")))'
echo "\$ mcp-inspector --cli $URL --method tools/call --tool-name generate --tool-arg prompt=Hi maxTokens=4"
"${INSPECT[@]}" "$URL" --method tools/call --tool-name generate --tool-arg prompt=Hi maxTokens=4 2>/dev/null
