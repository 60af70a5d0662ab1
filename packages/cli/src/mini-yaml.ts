// The YAML subset that mlx-lm's LoRA config files use: nested `key: value` maps by indentation, block lists
// (`- item`), flow lists / maps of scalars (`[1e-5, 1000, 1e-7]`, `{rank: 8}`), comments, quoted strings, and
// scalars as PyYAML's SafeLoader with mlx-lm's float resolver reads them (so `1e-5` is a number). Anchors, tags,
// multi-line strings and lists of maps are not supported and are reported as errors with the line number.

export class YamlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "YamlError";
  }
}

interface Line {
  indent: number;
  text: string;
  no: number;
}

/** Removes a trailing comment (a # after whitespace, outside quotes). */
function stripComment(s: string): string {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === "#" && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i);
  }
  return s;
}

export function parseScalar(raw: string, where: string): unknown {
  const s = raw.trim();
  if (s === "" || s === "~" || /^(null|Null|NULL)$/.test(s)) return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?(0|[1-9][0-9_]*)$/.test(s)) return Number(s.replace(/_/g, ""));
  if (/^[-+]?(\d[\d_]*\.[\d_]*([eE][-+]?\d+)?|\d[\d_]*[eE][-+]?\d+|\.\d[\d_]*([eE][-+]?\d+)?)$/.test(s)) return Number(s.replace(/_/g, ""));
  if (/^[-+]?\.(inf|Inf|INF)$/.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(s)) return NaN;
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) throw new YamlError(`${where}: unterminated double-quoted string`);
    try {
      return JSON.parse(s);
    } catch {
      throw new YamlError(`${where}: invalid double-quoted string ${s}`);
    }
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new YamlError(`${where}: unterminated single-quoted string`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith("[") || s.startsWith("{")) return parseFlow(s, where);
  if (/^[&*!|>]/.test(s)) throw new YamlError(`${where}: '${s[0]}' (anchors, tags, block scalars) is not supported in config files`);
  return s;
}

/** Splits a flow collection's body on commas at depth 0 (outside quotes). */
function splitFlow(body: string): string[] {
  const parts: string[] = [];
  let depth = 0, q: string | null = null, cur = "";
  for (const c of body) {
    if (q) { if (c === q) q = null; }
    else if (c === '"' || c === "'") q = c;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    if (c === "," && depth === 0 && !q) { parts.push(cur); cur = ""; } else cur += c;
  }
  if (cur.trim() !== "") parts.push(cur);
  return parts;
}

function parseFlow(s: string, where: string): unknown {
  const open = s[0], close = open === "[" ? "]" : "}";
  if (!s.endsWith(close)) throw new YamlError(`${where}: unterminated flow ${open === "[" ? "list" : "map"} ${s}`);
  const items = splitFlow(s.slice(1, -1));
  if (open === "[") return items.map((p) => parseScalar(p, where));
  const out: Record<string, unknown> = {};
  for (const p of items) {
    const m = /^\s*([^:]+?)\s*:\s*(.*)$/.exec(p);
    if (!m) throw new YamlError(`${where}: expected 'key: value' in a flow map, got '${p.trim()}'`);
    out[String(parseScalar(m[1], where))] = parseScalar(m[2], where);
  }
  return out;
}

/** Parses the YAML subset into plain JS values. `name` is used in error messages. */
export function parseYaml(text: string, name = "config"): unknown {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\t/.test(raw)) throw new YamlError(`${name} line ${i + 1}: tabs are not allowed for indentation`);
    const t = stripComment(raw).replace(/\s+$/, "");
    if (t.trim() === "" || t.trim() === "---") return;
    lines.push({ indent: t.length - t.trimStart().length, text: t.trim(), no: i + 1 });
  });
  if (!lines.length) return {};
  let pos = 0;
  const at = (l: Line) => `${name} line ${l.no}`;

  const block = (indent: number): unknown => {
    const first = lines[pos];
    if (first.text.startsWith("- ") || first.text === "-") {
      const list: unknown[] = [];
      while (pos < lines.length && lines[pos].indent === indent && (lines[pos].text.startsWith("- ") || lines[pos].text === "-")) {
        const l = lines[pos++];
        const item = l.text.slice(1).trim();
        if (/^[^"'[{][^:]*:(\s|$)/.test(item)) throw new YamlError(`${at(l)}: lists of maps are not supported in config files`);
        if (item === "") {
          if (pos < lines.length && lines[pos].indent > indent) list.push(block(lines[pos].indent));
          else list.push(null);
        } else list.push(parseScalar(item, at(l)));
      }
      return list;
    }
    const map: Record<string, unknown> = {};
    while (pos < lines.length && lines[pos].indent === indent) {
      const l = lines[pos++];
      const m = /^("[^"]*"|'[^']*'|[^:]+?)\s*:(?:\s+(.*))?$/.exec(l.text);
      if (!m) throw new YamlError(`${at(l)}: expected 'key: value', got '${l.text}'`);
      const key = String(parseScalar(m[1], at(l)));
      if (key in map) throw new YamlError(`${at(l)}: duplicate key '${key}'`);
      const rest = m[2]?.trim() ?? "";
      if (rest !== "") map[key] = parseScalar(rest, at(l));
      else if (pos < lines.length && lines[pos].indent > indent) map[key] = block(lines[pos].indent);
      else if (pos < lines.length && lines[pos].indent === indent && lines[pos].text.startsWith("- ")) map[key] = block(indent);
      else map[key] = null;
    }
    if (pos < lines.length && lines[pos].indent > indent)
      throw new YamlError(`${at(lines[pos])}: unexpected indentation`);
    return map;
  };

  const out = block(lines[0].indent);
  if (pos < lines.length) throw new YamlError(`${at(lines[pos])}: unexpected indentation (less than the first line's)`);
  return out;
}
