// Bundles the server into one runnable file, dist/hearth-mcp.js (ESM: the package is "type": "module"): this package, the MCP SDK and zod. The engine
// (native addon, bundled model found from its own location) and @hearth/serving (it loads its vendored XGrammar
// next to its own build with createRequire(import.meta.url)) stay external, resolved from node_modules.
import { build } from "esbuild";
import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const outfile = `${root}/dist/hearth-mcp.js`;
await build({
  entryPoints: [`${root}/src/main.ts`],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["@hearth/engine", "@hearth/serving", "sharp"],
  // Bundled CommonJS dependencies of the SDK call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __hearthCreateRequire } from 'node:module'; const require = __hearthCreateRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: "warning",
  legalComments: "linked",
});
chmodSync(outfile, 0o755);
