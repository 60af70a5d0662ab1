// @mlc-ai/web-xgrammar ships a UMD file inside a "type": "module" package, which Node would read as ESM and
// fail on. A .cjs copy next to the build output lets createRequire load it as the CommonJS it is.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "package.json"));
const src = join(dirname(require.resolve("@mlc-ai/web-xgrammar/package.json")), "lib", "index.js");
const out = join(here, "..", "dist", "vendor");
mkdirSync(out, { recursive: true });
copyFileSync(src, join(out, "xgrammar.cjs"));
