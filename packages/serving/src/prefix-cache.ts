// Prompt-prefix reuse across requests: KV caches of finished requests, indexed by a radix tree over the token ids
// they hold. A new request takes the cache sharing its longest prefix and prefills only the rest. Caches are
// handed over, not copied (a cache is owned by one row at a time); least recently used ones go first when the
// byte budget is passed. Whether a cache can really roll back to the shared prefix is the cache's business
// (PromptCache.prepare: trimming, or a checkpoint of Gemma 3's rotating sliding-window layers, or starting over).
import type { lm } from "@hearth/engine";

type PromptCache = lm.PromptCache;

interface Entry {
  cache: PromptCache;
  tokens: number[];
  bytes: number;
  used: number;
  node: Node;
}

class Node {
  /** Edge label from the parent (a run of token ids). */
  label: number[];
  children = new Map<number, Node>();
  entries = new Set<Entry>();
  constructor(label: number[], readonly parent: Node | null) {
    this.label = label;
  }
}

/**
 * One byte budget and LRU clock shared by several prefix caches (a backend's models and adapters each have one):
 * the least recently used entry of any of them goes first, so the total stays under maxBytes however many models
 * and adapters are in use.
 */
export class PrefixCacheBudget {
  readonly members = new Set<PrefixCache>();
  clock = 0;
  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    let s = 0;
    for (const m of this.members) s += m.bytes;
    return s;
  }
}

export interface PrefixCacheOptions {
  /** Bytes of KV caches kept (default 512 MiB); with `budget`, the budget's total bounds them instead. */
  maxBytes?: number;
  /** Caches kept at most (default 32). */
  maxEntries?: number;
  /** Shortest shared prefix worth a hit (default 1 token). */
  minMatch?: number;
  /** A budget shared with other prefix caches. */
  budget?: PrefixCacheBudget;
}

export class PrefixCache {
  private readonly root = new Node([], null);
  private readonly all = new Set<Entry>();
  private ownClock = 0;
  private readonly budget: PrefixCacheBudget | undefined;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly minMatch: number;
  hits = 0;
  misses = 0;

  constructor(opts: PrefixCacheOptions = {}) {
    this.budget = opts.budget;
    this.maxBytes = opts.budget?.maxBytes ?? opts.maxBytes ?? 512 * 1024 * 1024;
    this.budget?.members.add(this);
    this.maxEntries = opts.maxEntries ?? 32;
    this.minMatch = opts.minMatch ?? 1;
  }

  get size(): number {
    return this.all.size;
  }

  get bytes(): number {
    let s = 0;
    for (const e of this.all) s += e.bytes;
    return s;
  }

  /** How many leading tokens of `tokens` the best cache shares (without taking it). */
  match(tokens: readonly number[]): number {
    return this.walk(tokens).depth;
  }

  /** Removes and returns the cache sharing the longest prefix with `tokens` (at least minMatch), if any. */
  take(tokens: readonly number[]): PromptCache | undefined {
    const { node, depth } = this.walk(tokens);
    if (depth < this.minMatch) {
      this.misses++;
      return undefined;
    }
    // Any cache below the point where the walk stopped holds the walked prefix; take the most recent.
    let best: Entry | undefined;
    const stack = [node];
    while (stack.length) {
      const n = stack.pop()!;
      for (const e of n.entries) if (!best || e.used > best.used) best = e;
      for (const c of n.children.values()) stack.push(c);
    }
    if (!best) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.detach(best);
    return best.cache;
  }

  /** Keeps a finished request's cache (its `tokens` must say what it holds). */
  insert(cache: PromptCache): void {
    const tokens = cache.tokens;
    if (!tokens || !tokens.length) {
      cache.reset();
      return;
    }
    const e: Entry = { cache, tokens: [...tokens], bytes: cache.nbytes, used: this.tick(), node: this.root };
    if (e.bytes > this.maxBytes) {
      cache.reset();
      return;
    }
    e.node = this.place(e.tokens);
    e.node.entries.add(e);
    this.all.add(e);
    this.evict();
  }

  /** Frees every cache. */
  clear(): void {
    for (const e of [...this.all]) {
      this.detach(e);
      e.cache.reset();
    }
  }

  /** Frees every cache and leaves the shared budget (the scheduler is closed). */
  dispose(): void {
    this.clear();
    this.budget?.members.delete(this);
  }

  private tick(): number {
    return this.budget ? ++this.budget.clock : ++this.ownClock;
  }

  /** The least recently used entry, and its time. */
  private lru(): Entry | undefined {
    let lru: Entry | undefined;
    for (const e of this.all) if (!lru || e.used < lru.used) lru = e;
    return lru;
  }

  private drop(e: Entry): void {
    this.detach(e);
    e.cache.reset();
  }

  private evict(): void {
    while (this.all.size > this.maxEntries) this.drop(this.lru()!);
    // The byte budget: this cache's own, or the total of every cache sharing the budget (oldest entry anywhere first).
    const members = this.budget ? [...this.budget.members] : [this];
    let bytes = members.reduce((s, m) => s + m.bytes, 0);
    while (bytes > this.maxBytes) {
      let victim: { m: PrefixCache; e: Entry } | undefined;
      for (const m of members) {
        const e = m.lru();
        if (e && (!victim || e.used < victim.e.used)) victim = { m, e };
      }
      if (!victim) break;
      bytes -= victim.e.bytes;
      victim.m.drop(victim.e);
    }
  }

  /** Follows `tokens` down the tree: the node at or below which the walk ended and the tokens matched. */
  private walk(tokens: readonly number[]): { node: Node; depth: number } {
    let node = this.root;
    let depth = 0;
    for (;;) {
      if (depth >= tokens.length) return { node, depth };
      const child = node.children.get(tokens[depth]);
      if (!child) return { node, depth };
      let k = 0;
      while (k < child.label.length && depth + k < tokens.length && child.label[k] === tokens[depth + k]) k++;
      depth += k;
      if (k < child.label.length) return { node: child, depth };  // diverged inside the edge: the child's subtree shares it
      node = child;
    }
  }

  /** The node for exactly `tokens`, splitting an edge where needed. */
  private place(tokens: number[]): Node {
    let node = this.root;
    let depth = 0;
    while (depth < tokens.length) {
      const child = node.children.get(tokens[depth]);
      if (!child) {
        const leaf = new Node(tokens.slice(depth), node);
        node.children.set(tokens[depth], leaf);
        return leaf;
      }
      let k = 0;
      while (k < child.label.length && depth + k < tokens.length && child.label[k] === tokens[depth + k]) k++;
      if (k < child.label.length) {
        // Split the edge at k: node → mid (label[0..k)) → child (label[k..)).
        const mid = new Node(child.label.slice(0, k), node);
        node.children.set(tokens[depth], mid);
        child.label = child.label.slice(k);
        (child as { parent: Node | null }).parent = mid;
        mid.children.set(child.label[0], child);
        node = mid;
      } else {
        node = child;
      }
      depth += k;
    }
    return node;
  }

  private detach(e: Entry): void {
    this.all.delete(e);
    e.node.entries.delete(e);
    // Prune empty leaves and merge single-child chains so the tree stays small.
    let n: Node | null = e.node;
    while (n && n.parent && !n.entries.size && !n.children.size) {
      n.parent.children.delete(n.label[0]);
      n = n.parent;
    }
    if (n && n.parent && !n.entries.size && n.children.size === 1) {
      const only = [...n.children.values()][0];
      only.label = [...n.label, ...only.label];
      (only as { parent: Node | null }).parent = n.parent;
      n.parent.children.set(only.label[0], only);
    }
  }
}
