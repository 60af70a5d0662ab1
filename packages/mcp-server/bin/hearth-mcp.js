#!/usr/bin/env node
// The hearth-mcp bin: runs the esbuild bundle (build it with `pnpm run build`).
import "../dist/hearth-mcp.js";
