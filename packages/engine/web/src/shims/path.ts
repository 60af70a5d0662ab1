// node:path (POSIX) for the browser bundle: the emscripten file system uses POSIX paths.
function normalizeParts(parts: string[], absolute: boolean): string {
  const out: string[] = [];
  for (const p of parts) {
    if (!p || p === ".") continue;
    if (p === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(p);
  }
  const s = out.join("/");
  return absolute ? "/" + s : s || ".";
}
export const sep = "/";
export const delimiter = ":";
export function normalize(p: string): string {
  return normalizeParts(p.split("/"), p.startsWith("/"));
}
export function join(...ps: string[]): string {
  const s = ps.filter((p) => p !== "").join("/");
  return s ? normalize(s) : ".";
}
export function resolve(...ps: string[]): string {
  let r = "";
  for (let i = ps.length - 1; i >= 0 && !r.startsWith("/"); i--) r = ps[i] + (r ? "/" + r : "");
  if (!r.startsWith("/")) r = "/" + r;
  return normalize(r);
}
export function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}
export function basename(p: string, ext?: string): string {
  const b = p.replace(/\/+$/, "").split("/").pop() ?? "";
  return ext && b.endsWith(ext) ? b.slice(0, -ext.length) : b;
}
export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf(".");
  return i <= 0 ? "" : b.slice(i);
}
export const isAbsolute = (p: string) => p.startsWith("/");
export function relative(from: string, to: string): string {
  const a = resolve(from).split("/").filter(Boolean), b = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}
export const posix = { sep, delimiter, normalize, join, resolve, dirname, basename, extname, isAbsolute, relative };
export default posix;
