#!/usr/bin/env node
// The hearth-lsp bin: a committed file, so that pnpm links it at install time, before the build writes dist/.
import "../dist/src/server/main.js";
