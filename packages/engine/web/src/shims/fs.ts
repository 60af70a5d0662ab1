// node:fs for the browser bundle, over the emscripten file system where the worker put the model's files.
// Only what the model-loading path uses; errors carry Node's codes (ENOENT...) as the callers test them.
import { wasmHost } from "../wasm-host.js";
import { asBuffer } from "./buffer-like.js";

function nodeError(e: unknown, path: string): Error {
  const errno = (e as { errno?: number }).errno;
  const code = errno === 44 ? "ENOENT" : errno === 54 ? "ENOTDIR" : errno === 31 ? "EISDIR" : "EIO";
  return Object.assign(new Error(`${code}: ${path}`), { code });
}
function call<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw nodeError(e, path);
  }
}

export function existsSync(path: string): boolean {
  try {
    wasmHost().FS.stat(path);
    return true;
  } catch {
    return false;
  }
}
export function readFileSync(path: string, enc?: string | { encoding?: string }): any {
  const bytes = call(path, () => wasmHost().FS.readFile(path) as Uint8Array);
  const encoding = typeof enc === "string" ? enc : enc?.encoding;
  return encoding ? new TextDecoder().decode(bytes) : asBuffer(bytes);
}
export function readdirSync(path: string): string[] {
  return call(path, () => (wasmHost().FS.readdir(path) as string[]).filter((n) => n !== "." && n !== ".."));
}
export function statSync(path: string) {
  const FS = wasmHost().FS;
  const st = call(path, () => FS.stat(path));
  return {
    size: st.size as number,
    mtimeMs: new Date(st.mtime).getTime(),
    isDirectory: () => FS.isDir(st.mode) as boolean,
    isFile: () => FS.isFile(st.mode) as boolean,
  };
}
function unsupported(name: string) {
  return () => {
    throw new Error(`[fs] ${name} is not available in the browser build`);
  };
}
export const writeFileSync = unsupported("writeFileSync");
export const mkdirSync = unsupported("mkdirSync");
export const renameSync = unsupported("renameSync");
export const rmSync = unsupported("rmSync");
export const realpathSync = (p: string) => p;
export default { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, renameSync, rmSync, realpathSync };
