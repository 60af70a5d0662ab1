// The rest of the node: modules the engine bundle imports, reduced to what runs in a Web Worker. Anything
// that needs a real Node (worker_threads for the guarded chat template, child processes) throws when used.
function unavailable(what: string): never {
  throw new Error(`[browser] ${what} is not available in the browser build`);
}
export function promisify<T>(fn: (...args: any[]) => void) {
  return (...args: any[]) =>
    new Promise<T>((res, rej) => fn(...args, (err: Error | null, v: T) => (err ? rej(err) : res(v))));
}
export const inspect = (v: unknown) => String(v);
export const types = { isUint8Array: (v: unknown) => v instanceof Uint8Array };
export const homedir = () => "/home/web";
export const tmpdir = () => "/tmp";
export const cpus = () => Array.from({ length: navigator.hardwareConcurrency || 1 }, () => ({}));
export const platform = () => "browser";
// wasm32 is little-endian (the tokenizer cache records the byte order; it is off in the browser).
export const endianness = () => "LE";
export const createHash = () => unavailable("node:crypto");
// The wasm heap is capped at 2 GiB (wasm/Makefile), so that is the memory the engine can size its cache on.
export const totalmem = () => 2 * 2 ** 30;
export const freemem = () => 2 * 2 ** 30;
export const EOL = "\n";
export const fileURLToPath = (u: string | URL) => new URL(String(u)).pathname;
export const pathToFileURL = (p: string) => new URL("file://" + p);
export const createRequire = () => () => unavailable("require()");
export const performance = globalThis.performance;
export class Worker {
  constructor() {
    unavailable("worker_threads");
  }
}
export class MessageChannel {
  constructor() {
    unavailable("worker_threads");
  }
}
export const receiveMessageOnPort = () => unavailable("worker_threads");
export const spawn = () => unavailable("child_process");
export const spawnSync = () => unavailable("child_process");
export const createInterface = () => unavailable("readline");
export default {};
