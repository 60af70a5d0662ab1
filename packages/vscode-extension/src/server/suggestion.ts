// Pure rules on suggestion text: single- or multi-line mode from the context, cutting at the end of the line or
// block, and the discard rules (what the peers learned users do not want to see).

/** The text around the cursor that the rules look at. */
export interface CursorContext {
  /** Everything before the cursor. */
  prefix: string;
  /** Everything after the cursor. */
  suffix: string;
}

const indentOf = (line: string): number => {
  let n = 0;
  for (const ch of line) {
    if (ch === " ") n++;
    else if (ch === "\t") n += 4;
    else break;
  }
  return n;
};

const lastLine = (s: string): string => s.slice(s.lastIndexOf("\n") + 1);
const firstLine = (s: string): string => {
  const i = s.indexOf("\n");
  return i < 0 ? s : s.slice(0, i);
};

/**
 * Multi-line after a block opener (`{`, `:`, `(`, `[` ending the line before an empty cursor line, or ending the
 * cursor line itself) and inside an open docstring; single-line otherwise, and always when text follows the cursor
 * on its line.
 */
export function isMultiLine({ prefix, suffix }: CursorContext): boolean {
  if (firstLine(suffix).trim() !== "") return false;
  const lines = prefix.split("\n");
  const current = lines[lines.length - 1] ?? "";
  const opener = /[{:([]\s*$/;
  if (opener.test(current)) return true;
  if (current.trim() === "") {
    for (let i = lines.length - 2; i >= 0; i--) {
      const l = lines[i]!;
      if (l.trim() === "") continue;
      if (opener.test(l)) return true;
      break;
    }
  }
  // An odd number of triple quotes before the cursor: inside a docstring.
  const triples = (prefix.match(/"""|'''/g) ?? []).length;
  return triples % 2 === 1;
}

/**
 * Cuts a suggestion: single-line mode stops at the first line end after some text; multi-line mode stops before
 * the first line that is indented less than the block the cursor is in (the block has ended).
 * Returns the text and whether the cut happened (generation can stop).
 */
export function cutSuggestion(text: string, ctx: CursorContext, multiLine: boolean): { text: string; complete: boolean } {
  if (!multiLine) {
    const i = text.indexOf("\n");
    if (i < 0) return { text, complete: false };
    const head = text.slice(0, i);
    if (head.trim() === "") return { text: "", complete: true };
    return { text: head.trimEnd(), complete: true };
  }
  const cur = lastLine(ctx.prefix);
  // The block's indentation: the cursor line's own text, or the column the cursor sits at on an empty line.
  const base = cur.trim() === "" ? cur.length : indentOf(cur);
  const lines = text.split("\n");
  const kept: string[] = [lines[0]!];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() !== "" && indentOf(l) < base) return { text: kept.join("\n").trimEnd(), complete: true };
    kept.push(l);
  }
  return { text: kept.join("\n"), complete: false };
}

const CLOSERS = /^[\s)\]}>"'`;,]+$/;

/** Why a suggestion is not shown (undefined: show it). */
export function discardReason(text: string, { suffix }: CursorContext): string | undefined {
  if (text.length === 0) return "empty";
  if (text.trim() === "") return "whitespace";
  const restOfLine = firstLine(suffix);
  const sugLines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  // The lines after the cursor's line (the text the suggestion would push down).
  const after = suffix.split("\n").slice(1).map((l) => l.trim()).filter((l) => l !== "");
  if (CLOSERS.test(text)) {
    const closing = text.replace(/\s+/g, "");
    if (suffix.replace(/\s+/g, "").startsWith(closing)) return "only closes what is already closed";
  }
  if (restOfLine.trim() !== "" && text.trim() === restOfLine.trim()) return "repeats the rest of the line";
  if (sugLines.length > 0 && after.length >= sugLines.length && sugLines.every((l, i) => l === after[i]))
    return "repeats the next lines";
  return undefined;
}

/**
 * Instruct models often repeat the part of the current line that is already typed; drop that overlap so the
 * suggestion continues the line.
 */
export function dropTypedOverlap(text: string, prefix: string): string {
  const typed = lastLine(prefix).trimStart();
  if (typed === "") return text.replace(/^\n+/, "");
  const t = text.trimStart();
  if (t.startsWith(typed)) return t.slice(typed.length);
  return text;
}
