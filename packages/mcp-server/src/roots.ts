// Path confinement. Every path argument is resolved with realpath (symlinks followed) and must then sit inside a
// root, compared component-wise: a root /a/b admits /a/b and /a/b/c, never /a/bc (CVE-2025-53110) and never a
// symlink inside /a/b that points out (CVE-2025-53109). Roots are the --root folders plus the client's MCP roots.
import { realpathSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { isAbsolute, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ServingError } from "@hearth/serving";

/** Realpath of each --root folder; a missing folder is a startup error (a typo should not silently confine nothing). */
export function resolveCliRoots(dirs: string[]): string[] {
  return dirs.map((d) => {
    try {
      return realpathSync(resolve(d));
    } catch {
      throw new Error(`--root ${d}: no such folder`);
    }
  });
}

export function isInside(root: string, real: string): boolean {
  if (real === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return real.startsWith(prefix);
}

/** The roots of one MCP session: the fixed --root folders plus what the client lists (refreshed on list_changed). */
export class RootSet {
  private client: string[] = [];
  private pending: Promise<void> | undefined;

  constructor(readonly cli: string[]) {}

  all(): string[] {
    return [...this.cli, ...this.client];
  }

  /** Replaces the client roots with a fetch of them (file:// URIs that exist; others are ignored). */
  refresh(fetch: () => Promise<Array<{ uri: string }>>, log: (msg: string) => void): Promise<void> {
    const p = (async () => {
      try {
        const list = await fetch();
        const out: string[] = [];
        for (const r of list) {
          if (!r.uri.startsWith("file://")) continue;
          try {
            out.push(await realpath(fileURLToPath(r.uri)));
          } catch {
            log(`client root ${r.uri} does not exist here; ignored`);
          }
        }
        this.client = out;
      } catch (e) {
        log(`roots/list failed: ${(e as Error).message}`);
      }
    })();
    this.pending = p;
    return p;
  }

  /**
   * The real path of `p` if it lies inside a root; else a path_denied ServingError that says what to do.
   * Relative paths are taken from the first root.
   */
  async resolve(p: string, param: string): Promise<string> {
    if (this.pending) await this.pending;
    const roots = this.all();
    if (roots.length === 0)
      throw new ServingError("path_denied", `${param}: paths are refused because no roots are configured. Start hearth-mcp with --root <folder> (or use a client that offers MCP roots), or pass the content inline (e.g. a data: URL for an image)`, { param });
    if (p.includes("\0")) throw new ServingError("invalid_request", `${param}: the path contains a NUL byte`, { param });
    const abs = isAbsolute(p) ? p : resolve(roots[0]!, p);
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      throw new ServingError("invalid_request", `${param}: ${p} does not exist${isAbsolute(p) ? "" : ` (relative paths start at ${roots[0]})`}. Check the path; the allowed roots are ${roots.join(", ")}`, { param });
    }
    if (!roots.some((r) => isInside(r, real)))
      throw new ServingError("path_denied", `${param}: ${p}${real !== abs ? ` (resolves to ${real})` : ""} is outside the allowed roots (${roots.join(", ")}). Move the file into a root, or restart hearth-mcp with --root <its folder>`, { param });
    return real;
  }
}
