#!/usr/bin/env bash
# The MCP Inspector CLI (2.12.0 on Node 24, through npx: the Inspector needs Node >= 22, and on Node 20 npx would
# silently take 0.15.0) against the BUILT hearth-mcp, checking every answer: tools/list has the seven tools with their
# schemas; generate answers the arithmetic question correctly (hearth-tiny is trained on small arithmetic) and a
# jsonSchema call comes back as JSON of that schema; embed returns the vectors the engine computes directly
# (lm.loadEmbedder, within 1e-5); a path outside the roots is an isError result; tools/list over Streamable HTTP.
# Exits non-zero on the first wrong answer. Needs the npm registry the first time (npx caches node@24 and the
# Inspector). Run from anywhere after `pnpm run build`: bash packages/mcp-server/scripts/inspector-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
INSPECT=(npx -y -p node@24 -p @modelcontextprotocol/inspector@2.12.0 mcp-inspector --cli)
# The scratch workspace of the tests: a root with the tiny embedder and VLM fixtures.
WS=$(node -e 'import("./dist/test/helpers.js").then((h) => h.workspace({ keep: true })).then((w) => console.log(JSON.stringify(w)))')
ws() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$WS" "$1"; }
ROOT=$(ws root); EMB=$(ws embedder)
SERVER=(node "$PWD/dist/hearth-mcp.js" --root "$ROOT" --embedding-model "$EMB")
OUT=$(mktemp -d)
HTTP_PID=
cleanup() { [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null; rm -rf "$OUT" "$(dirname "$ROOT")"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# inspect NAME ARGS…: runs the Inspector, keeps its JSON in $OUT/NAME.json and its exit code in $OUT/NAME.rc.
inspect() {
  local name=$1; shift
  local rc=0
  "${INSPECT[@]}" "$@" >"$OUT/$name.json" 2>"$OUT/$name.err" || rc=$?
  echo "$rc" >"$OUT/$name.rc"
}
# check NAME 'JS expression over r (the parsed JSON)' 'what it means'
check() {
  node -e '
    const [file, expr, what] = process.argv.slice(1);
    const raw = require("fs").readFileSync(file, "utf8");
    let r;
    try { r = JSON.parse(raw); } catch { console.error(`not JSON: ${raw.slice(0, 500)}`); process.exit(1); }
    const ok = new Function("r", `return (${expr});`)(r);
    if (ok !== true) { console.error(`${what}: got ${JSON.stringify(r).slice(0, 800)}`); process.exit(1); }
    console.log(`ok  ${what}`);
  ' "$OUT/$1.json" "$2" "$3" || fail "$1 (stderr: $(tail -c 400 "$OUT/$1.err"))"
}
rc() { [ "$(cat "$OUT/$1.rc")" = "$2" ] || fail "$1 exited $(cat "$OUT/$1.rc"), expected $2 (stderr: $(tail -c 400 "$OUT/$1.err"))"; }

T0=$(date +%s)
inspect list "${SERVER[@]}" --method tools/list
rc list 0
check list 'JSON.stringify(r.tools.map((t) => t.name).sort()) === JSON.stringify(["describe_image","embed","generate","lora_cancel","lora_status","lora_train","models"])' "tools/list: the seven tools"
check list 'r.tools.every((t) => t.inputSchema.type === "object" && t.outputSchema?.type === "object" && t.annotations?.openWorldHint === false)' "every tool has input and output schemas and openWorldHint false"
check list '["prompt","messages","system","maxTokens","temperature","topP","seed","stop","jsonSchema","adapter"].every((p) => p in r.tools.find((t) => t.name === "generate").inputSchema.properties)' "generate takes the issue's parameters"

inspect generate "${SERVER[@]}" --method tools/call --tool-name generate --tool-arg 'prompt=What is 71 - 53?' maxTokens=12
rc generate 0
check generate 'r.isError !== true && r.structuredContent.text.trim() === "18" && r.content[0].text === r.structuredContent.text && r.structuredContent.model === "hearth-tiny"' "generate: 71 - 53 = 18, text content equals structuredContent.text"

inspect json "${SERVER[@]}" --method tools/call --tool-name generate --tool-arg 'prompt=What is 12 + 30? Answer in JSON.' maxTokens=40 \
  'jsonSchema={"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"],"additionalProperties":false}'
rc json 0
check json 'Number.isInteger(r.structuredContent.json.answer) && Object.keys(r.structuredContent.json).join() === "answer" && JSON.stringify(JSON.parse(r.structuredContent.text)) === JSON.stringify(r.structuredContent.json)' "generate with jsonSchema: parsed JSON of the schema"

inspect embed "${SERVER[@]}" --method tools/call --tool-name embed --tool-arg 'texts=["the cat sat on the mat","stock prices fell"]' task=document
rc embed 0
# The reference: the engine's own embedder on the same texts, in this Node process.
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { lm } from "@hearth/engine";
  const [file, emb] = process.argv.slice(1);
  const r = JSON.parse(readFileSync(file, "utf8")).structuredContent;
  const direct = await (await lm.loadEmbedder(emb)).embed(["the cat sat on the mat", "stock prices fell"], { task: "document" });
  let worst = 0;
  direct.forEach((v, i) => v.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - r.embeddings[i][j])); }));
  if (r.embeddings.length !== 2 || r.dimensions !== direct[0].length || !(worst < 1e-5)) {
    console.error(`embed differs from lm.loadEmbedder().embed: max |diff| ${worst}, dims ${r.dimensions} vs ${direct[0].length}`);
    process.exit(1);
  }
  console.log(`ok  embed: ${r.embeddings.length} × ${r.dimensions} equal lm.loadEmbedder().embed (max |diff| ${worst.toExponential(1)})`);
' "$OUT/embed.json" "$EMB" || fail embed

inspect outside "${SERVER[@]}" --method tools/call --tool-name describe_image --tool-arg image=/etc/passwd
# An isError result: the Inspector prints it and exits non-zero.
[ "$(cat "$OUT/outside.rc")" != 0 ] || fail "outside: the Inspector exited 0 on an isError result"
check outside 'r.isError === true && /^path_denied: image: \/etc\/passwd is outside the allowed roots/.test(r.content[0].text)' "describe_image /etc/passwd: isError path_denied"

# Streamable HTTP: a server on a free port, its URL from the contract line.
LOG="$OUT/http.log"
node "$PWD/dist/hearth-mcp.js" --http --port 0 --root "$ROOT" 2>"$LOG" &
HTTP_PID=$!
for _ in $(seq 1 600); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
URL=$(sed -n 's/^hearth-mcp listening on \(http:\/\/[^ ]*\/mcp\)$/\1/p' "$LOG")
[ -n "$URL" ] || fail "no 'hearth-mcp listening on http://HOST:PORT/mcp' line: $(cat "$LOG")"
inspect http "$URL" --method tools/list
rc http 0
check http 'r.tools.length === 7 && r.tools.some((t) => t.name === "lora_train")' "tools/list over Streamable HTTP ($URL)"
inspect httpgen "$URL" --method tools/call --tool-name generate --tool-arg 'prompt=What is 71 - 53?' maxTokens=12
rc httpgen 0
check httpgen 'r.structuredContent.text.trim() === "18"' "generate over Streamable HTTP: 18"
echo "inspector-check: all answers right in $(( $(date +%s) - T0 )) s"
