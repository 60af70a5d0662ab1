// node:zlib's gunzip for the browser bundle, on DecompressionStream (the tokenizer files ship gzipped).
import { asBuffer } from "./buffer-like.js";

export function gunzip(data: Uint8Array, cb: (err: Error | null, out?: Uint8Array) => void): void {
  new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip")))
    .arrayBuffer()
    .then((ab) => cb(null, asBuffer(new Uint8Array(ab))), (e) => cb(e instanceof Error ? e : new Error(String(e))));
}
export function gunzipSync(): never {
  throw new Error("[zlib] gunzipSync is not available in the browser build");
}
export default { gunzip, gunzipSync };
