// The engine reads files as Node Buffers and calls toString(encoding) on them; in the browser they are
// Uint8Arrays with that one method.
export class BufferLike extends Uint8Array {
  override toString(encoding?: string): string {
    if (encoding && encoding !== "utf8" && encoding !== "utf-8") throw new Error(`[fs] encoding ${encoding} is not supported in the browser`);
    return new TextDecoder().decode(this);
  }
}
export function asBuffer(bytes: Uint8Array): BufferLike {
  return new BufferLike(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
