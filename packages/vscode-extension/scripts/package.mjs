// Packages the .vsix with @vscode/vsce. With the native engine addon built, a platform package for this machine
// (e.g. linux-x64) that carries it; without, a universal package that needs hearth.baseUrl (a remote backend).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const native = existsSync(join(root, "server", "build", "Release", "hearth_native.node"));
const target = `${process.platform === "win32" ? "win32" : process.platform === "darwin" ? "darwin" : "linux"}-${process.arch}`;
const out = join(root, native ? `hearth-vscode-${target}.vsix` : "hearth-vscode-universal.vsix");
const vsce = join(root, "node_modules", "@vscode", "vsce", "vsce");
const args = [vsce, "package", "--no-dependencies", "--skip-license", "--allow-missing-repository", "--allow-star-activation", "-o", out];
if (native) args.push("--target", target);
execFileSync(process.execPath, args, { cwd: root, stdio: "inherit" });
console.log(out);
