// An LRU of suggestions keyed by (prefix, suffix). Typing the suggested characters moves the cursor forward: the
// lookup walks back over the characters just typed and returns the rest of the suggestion made for the shorter
// prefix, so no model call is needed while the user types through it.
import { createHash } from "node:crypto";

const KEY_PREFIX_CHARS = 4000;
const KEY_SUFFIX_CHARS = 1000;
/** How many typed characters a lookup walks back over. */
const MAX_WALK_BACK = 128;

function key(prefix: string, suffix: string): string {
  return createHash("sha256")
    .update(prefix.slice(-KEY_PREFIX_CHARS))
    .update("\u0000")
    .update(suffix.slice(0, KEY_SUFFIX_CHARS))
    .digest("base64");
}

export class CompletionCache {
  private readonly map = new Map<string, string>();

  constructor(private readonly capacity = 256) {}

  get size(): number {
    return this.map.size;
  }

  set(prefix: string, suffix: string, suggestion: string): void {
    const k = key(prefix, suffix);
    this.map.delete(k);
    this.map.set(k, suggestion);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  /** The suggestion for this cursor, from an exact entry or one the typed characters continue; undefined: a miss. */
  get(prefix: string, suffix: string): string | undefined {
    const exact = this.touch(key(prefix, suffix));
    if (exact !== undefined) return exact;
    for (let i = 1; i <= Math.min(MAX_WALK_BACK, prefix.length); i++) {
      const typed = prefix.slice(prefix.length - i);
      const hit = this.touch(key(prefix.slice(0, prefix.length - i), suffix));
      // An empty entry means "nothing to suggest there", which says nothing about this cursor.
      if (hit !== undefined && hit.length > i && hit.startsWith(typed)) return hit.slice(i);
    }
    return undefined;
  }

  clear(): void {
    this.map.clear();
  }

  private touch(k: string): string | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
}
