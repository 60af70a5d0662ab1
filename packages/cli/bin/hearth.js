#!/usr/bin/env node
// The hearth bin: a committed file, so that pnpm links it at install time, before the build writes dist/.
import "../dist/src/main.js";
