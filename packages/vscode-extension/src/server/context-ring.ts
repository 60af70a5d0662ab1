// A bounded ring of code chunks from other open and recently edited files (llama.vscode's idea): each open or
// edit records the lines around it; the prompt takes the newest chunks of files other than the one completed.
export interface RingChunk {
  uri: string;
  path: string;
  startLine: number;
  text: string;
}

export class ContextRing {
  private chunks: RingChunk[] = [];

  constructor(private readonly capacity = 16, private readonly chunkLines = 32) {}

  /** Records the lines of `text` around `line` (the edited line, or the top of a file just opened). */
  record(uri: string, path: string, text: string, line: number): void {
    const lines = text.split("\n");
    const start = Math.max(0, Math.min(line - Math.floor(this.chunkLines / 2), lines.length - this.chunkLines));
    const body = lines.slice(start, start + this.chunkLines).join("\n");
    if (body.trim().length < 8) return;
    // A chunk overlapping a newer edit of the same place replaces it.
    this.chunks = this.chunks.filter((c) => !(c.uri === uri && Math.abs(c.startLine - start) < this.chunkLines / 2) && c.text !== body);
    this.chunks.push({ uri, path, startLine: start, text: body });
    if (this.chunks.length > this.capacity) this.chunks.splice(0, this.chunks.length - this.capacity);
  }

  forget(uri: string): void {
    this.chunks = this.chunks.filter((c) => c.uri !== uri);
  }

  clear(): void {
    this.chunks = [];
  }

  /** The newest chunks not from `exceptUri`, oldest first, within `maxChars`. */
  pick(exceptUri: string, maxChars = 2000): RingChunk[] {
    const out: RingChunk[] = [];
    let used = 0;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      if (c.uri === exceptUri) continue;
      if (used + c.text.length > maxChars) break;
      used += c.text.length;
      out.unshift(c);
    }
    return out;
  }
}
