#!/usr/bin/env bash
# The suites that need more than node: run by the root `pnpm test` after every package's own suite.
#   the engine on WebAssembly (op table + Gemma 3 fixtures), the same .wasm in Chromium, a clean clone installed
#   and run with no C++ toolchain, the MCP Inspector CLI against hearth-mcp, VS Code (code-server in Chromium)
#   against the extension, and the aarch64 build under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
step() {
  local name=$1; shift
  local t0=$SECONDS
  echo "== test-extra: $name"
  "$@"
  echo "== test-extra: $name passed in $((SECONDS - t0)) s"
}
step "engine on WebAssembly" pnpm --filter @hearth/engine run test:wasm
step "engine in Chromium" pnpm --filter @hearth/engine run test:browser
step "install and run without a C++ toolchain" packages/engine/wasm/ci-no-toolchain.sh
step "MCP Inspector CLI" pnpm --filter @hearth/mcp run test:inspector
step "VS Code (code-server in Chromium)" bash -c "cd packages/vscode-extension && node test-e2e/setup.mjs && node test-e2e/run.mjs"
step "arm64 build under qemu-user" packages/engine/scripts/arm64-check.sh
