#!/usr/bin/env node
// hearth-lsp: the Hearth language server. `hearth-lsp --stdio` (also --node-ipc / --socket=N, as vscode-languageserver
// accepts). Logs go to the client's log (window/logMessage), never to stdout.
import { createConnection, ProposedFeatures } from "vscode-languageserver/node";
import { startServer } from "./server.js";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stderr.write("usage: hearth-lsp --stdio\n  Settings come from initializationOptions / workspace/didChangeConfiguration (see the README).\n");
  process.exit(0);
}
if (!args.some((a) => a === "--stdio" || a === "--node-ipc" || a.startsWith("--socket=") || a.startsWith("--pipe="))) {
  process.stderr.write("hearth-lsp: pass --stdio (the editor talks to the server over stdin/stdout)\n");
  process.exit(2);
}
startServer(createConnection(ProposedFeatures.all));
