// The demo model's corpus: small chat tasks with checkable answers, generated deterministically from a seed and
// written as chat JSONL ({"messages": [user, assistant], "family", "task"}) into train / valid / test files.
//
//   node dist/scripts/demo-model/make-corpus.js [--seed 1234] [--out .cache/demo-model/data] [--scale 1] [--extra-arith N]
//
// Families (and what "held out" means for each; no test or valid prompt ever appears in train, checked at the end):
//   arithmetic  add / sub of numbers 0-99: the (a, b) PAIRS of valid/test never occur in train in any phrasing;
//               mul (times tables 0-12): facts are knowledge, so a test item is a known fact in a phrasing
//               (template) that fact never had in train.
//   words       spell / reverse a word from the word list: known words in an unseen (word, template) pairing;
//               reverse_letters: reverse a spelled-out random letter string (pure algorithm, new strings).
//   sort        sort 3-5 numbers ascending / descending (new lists).
//   units       km↔m, m↔cm, kg↔g, hours↔minutes, minutes↔seconds, days↔hours, weeks↔days (unseen prompts).
//   code        complete `def name(args):` with its return line (unseen name × argument-name pairings).
//   context     answer from a two-sentence passage (new random passages).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../../src/core/mulberry32.js";

export type Item = { family: string; task: string; prompt: string; answer: string };

/** The corpus' generator: mulberry32 (the same one the trainer uses for batch order). */
export const makeRng = mulberry32;

type Rng = () => number;
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
function shuffle<T>(r: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
const fill = (t: string, v: Record<string, string | number>) => t.replace(/\{(\w+)\}/g, (_, k: string) => String(v[k]));

export const WORDS = (
  "apple bread chair dance eagle flame grape house juice knife lemon mango night ocean piano queen river " +
  "snake table tiger uncle voice water zebra brick cloud dream field glass heart input jelly kite light money " +
  "north orbit paper quiet radio sugar train unity video whale yacht angle beach candy dough earth fruit ghost " +
  "honey ivory jeans koala lunch magic noise olive pearl quilt robot salad tooth urban vivid wheat youth zesty " +
  "cat dog sun hat cup pen box map egg owl fox bee ant bus car jam key log net pig rat sea toy van web yak " +
  "bird book cake desk door farm fish frog gift goat hand king lamp leaf lion milk moon nest park rain ring " +
  "road rock rose salt ship shoe snow star tree wind wolf yard bell boat coin corn duck fork game hill iron " +
  "garden window pencil rabbit silver summer winter yellow orange purple button castle dinner doctor " +
  "family flower forest friend guitar hammer island jacket kitten ladder market mirror monkey number parrot " +
  "pepper planet pocket rocket school spider stream sunset ticket tomato turtle valley wallet wizard basket " +
  "bottle bridge camera candle carpet cheese circle cotton cookie dragon engine finger ginger helmet insect " +
  "kettle lizard meadow muffin needle noodle oyster pillow puzzle saddle shadow sister spring statue tunnel"
).split(/\s+/).filter(Boolean);

const LETTERS = [..."abcdefghijklmnopqrstuvwxyz"];
const spaced = (s: string) => s.split("").join(" ");

// ---- generators of one item (given an rng) per task ----

const T = {
  add: ["What is {a} + {b}?", "Compute {a} + {b}.", "{a} + {b} =", "Add {a} and {b}."],
  sub: ["What is {a} - {b}?", "Compute {a} - {b}.", "{a} - {b} =", "Subtract {b} from {a}."],
  mul: ["What is {a} × {b}?", "Compute {a} * {b}.", "{a} × {b} =", "Multiply {a} by {b}."],
  spell: ["Spell the word '{w}'.", "How do you spell '{w}'?", "Spell '{w}' letter by letter."],
  reverse: ["Reverse the word '{w}'.", "Write '{w}' backwards.", "Spell '{w}' in reverse."],
  reverseLetters: ["Reverse the letters: {s}", "Reverse: {s}"],
  sort: ["Sort in {dir} order: {xs}", "Sort these numbers in {dir} order: {xs}"],
  unitDown: ["How many {small} are in {n} {big}?", "Convert {n} {big} to {small}."],
  unitUp: ["How many {big} is {n} {small}?", "Convert {n} {small} to {big}."],
  code: ["Complete the code:\n{sig}", "Finish this Python function:\n{sig}"],
} as const;

const UNITS: [big: string, small: string, factor: number, maxN: number][] = [
  ["km", "meters", 1000, 20], ["meters", "centimeters", 100, 20], ["kg", "grams", 1000, 20],
  ["hours", "minutes", 60, 12], ["minutes", "seconds", 60, 12], ["days", "hours", 24, 10], ["weeks", "days", 7, 12],
];

const CODE_OPS: { names: string[]; arity: 1 | 2; body: string }[] = [
  { names: ["add", "plus", "add_numbers", "sum_two"], arity: 2, body: "return {a} + {b}" },
  { names: ["sub", "subtract", "minus", "difference"], arity: 2, body: "return {a} - {b}" },
  { names: ["mul", "multiply", "times", "product"], arity: 2, body: "return {a} * {b}" },
  { names: ["div", "divide", "ratio"], arity: 2, body: "return {a} / {b}" },
  { names: ["maximum", "larger", "max_of"], arity: 2, body: "return max({a}, {b})" },
  { names: ["minimum", "smaller", "min_of"], arity: 2, body: "return min({a}, {b})" },
  { names: ["square", "squared"], arity: 1, body: "return {a} * {a}" },
  { names: ["double", "twice"], arity: 1, body: "return 2 * {a}" },
  { names: ["is_even", "even"], arity: 1, body: "return {a} % 2 == 0" },
  { names: ["negate", "neg"], arity: 1, body: "return -{a}" },
  { names: ["length", "size_of"], arity: 1, body: "return len({a})" },
  { names: ["greet", "hello"], arity: 1, body: "return \"Hello, \" + {a}" },
];
const ARG2 = [["a", "b"], ["x", "y"], ["m", "n"], ["p", "q"], ["u", "v"], ["i", "j"], ["left", "right"], ["first", "second"], ["num1", "num2"]];
const ARG1 = ["x", "n", "a", "value", "num", "s", "item", "k"];

const NAMES = ["Maya", "Tom", "Lena", "Omar", "Sara", "Ben", "Ivy", "Noah", "Zoe", "Leo", "Nina", "Max", "Ada", "Sam", "Eva", "Raj"];
const COLORS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange", "pink", "brown"];
const THINGS = ["bike", "car", "hat", "bag", "kite", "boat", "lamp", "cup", "coat", "ball"];
const CITIES = ["Paris", "Rome", "Oslo", "Tokyo", "Cairo", "Lima", "Berlin", "Madrid", "Dublin", "Seoul", "Delhi", "Boston"];
const JOBS = ["doctor", "teacher", "baker", "pilot", "farmer", "painter", "nurse", "chef", "driver", "singer"];
const ANIMALS = ["dog", "cat", "horse", "parrot", "rabbit", "goat"];
const PETNAMES = ["Rex", "Luna", "Bella", "Max", "Coco", "Milo", "Daisy", "Rocky", "Oscar", "Ruby"];
const FOODS = ["carrots", "fish", "apples", "seeds", "rice", "bread", "grass", "cheese"];

/** One context-QA item: two people (or two pets), each with two facts; the question asks one fact of one. */
function contextItem(r: Rng): Item {
  const kind = int(r, 0, 2);
  const [p1, p2] = shuffle(r, NAMES.slice()).slice(0, 2);
  if (kind === 0) {
    const [c1, c2] = shuffle(r, COLORS.slice()).slice(0, 2);
    const [t1, t2] = [pick(r, THINGS), pick(r, THINGS)];
    const [y1, y2] = shuffle(r, CITIES.slice()).slice(0, 2);
    const ctx = `${p1} has a ${c1} ${t1} and lives in ${y1}. ${p2} has a ${c2} ${t2} and lives in ${y2}.`;
    const who = int(r, 0, 1), name = who ? p2 : p1;
    const q = r() < 0.5
      ? { q: `What color is ${name}'s ${who ? t2 : t1}?`, a: who ? c2 : c1 }
      : { q: `Where does ${name} live?`, a: who ? y2 : y1 };
    return { family: "context", task: "context", prompt: `Context: ${ctx}\nQuestion: ${q.q}`, answer: q.a };
  }
  if (kind === 1) {
    const [a1, a2] = [int(r, 5, 90), int(r, 5, 90)];
    const [j1, j2] = shuffle(r, JOBS.slice()).slice(0, 2);
    const ctx = `${p1} is ${a1} years old and works as a ${j1}. ${p2} is ${a2} years old and works as a ${j2}.`;
    const who = int(r, 0, 1), name = who ? p2 : p1;
    const q = r() < 0.5 ? { q: `How old is ${name}?`, a: String(who ? a2 : a1) } : { q: `What is ${name}'s job?`, a: who ? j2 : j1 };
    return { family: "context", task: "context", prompt: `Context: ${ctx}\nQuestion: ${q.q}`, answer: q.a };
  }
  const [an1, an2] = shuffle(r, ANIMALS.slice()).slice(0, 2);
  const [n1, n2] = shuffle(r, PETNAMES.slice()).slice(0, 2);
  const [f1, f2] = shuffle(r, FOODS.slice()).slice(0, 2);
  const ctx = `The ${an1} is named ${n1} and eats ${f1}. The ${an2} is named ${n2} and eats ${f2}.`;
  const who = int(r, 0, 1), an = who ? an2 : an1;
  const q = r() < 0.5 ? { q: `What is the ${an} named?`, a: who ? n2 : n1 } : { q: `What does the ${an} eat?`, a: who ? f2 : f1 };
  return { family: "context", task: "context", prompt: `Context: ${ctx}\nQuestion: ${q.q}`, answer: q.a };
}

function sortItem(r: Rng): Item {
  const n = int(r, 3, 5);
  const xs = Array.from({ length: n }, () => int(r, 0, 99));
  const desc = r() < 0.5;
  const sorted = xs.slice().sort((a, b) => (desc ? b - a : a - b));
  return {
    family: "sort", task: desc ? "sort_desc" : "sort_asc",
    prompt: fill(pick(r, T.sort), { dir: desc ? "descending" : "ascending", xs: xs.join(", ") }), answer: sorted.join(", "),
  };
}

function unitItem(r: Rng): Item {
  const [big, small, f, maxN] = pick(r, UNITS);
  const n = int(r, 1, maxN);
  if (r() < 0.6) return { family: "units", task: "units", prompt: fill(pick(r, T.unitDown), { n, big, small }), answer: String(n * f) };
  return { family: "units", task: "units", prompt: fill(pick(r, T.unitUp), { n: n * f, big, small }), answer: String(n) };
}

function codeItem(r: Rng, op: (typeof CODE_OPS)[number], name: string, args: string[]): Item {
  const sig = `def ${name}(${args.join(", ")}):`;
  // The return line without its indentation: Gemma's chat template trims every message, so an indented answer
  // would be trained (and must be expected) unindented anyway.
  return { family: "code", task: "code", prompt: fill(pick(r, T.code), { sig }), answer: fill(op.body, { a: args[0], b: args[1] ?? "" }) };
}

function reverseLettersItem(r: Rng): Item {
  const s = Array.from({ length: int(r, 3, 7) }, () => pick(r, LETTERS)).join("");
  return { family: "words", task: "reverse_letters", prompt: fill(pick(r, T.reverseLetters), { s: spaced(s) }), answer: spaced([...s].reverse().join("")) };
}

// ---- the splits ----

export interface Corpus { train: Item[]; valid: Item[]; test: Item[] }

/** Counts per split at scale 1 (train is multiplied by `scale`). */
export const SIZES = { train: 150000, validPerTask: 8, testPerTask: 60 };

/**
 * `extraArith`: that many MORE training items each of add and sub (pairs outside the held-out ones), drawn from a
 * second generator after everything else, so valid/test and the rest of the training set are unchanged (0: the
 * standard corpus, byte for byte).
 */
export function makeCorpus(seed: number, scale = 1, extraArith = 0): Corpus {
  const r = makeRng(seed);
  const train: Item[] = [], valid: Item[] = [], test: Item[] = [];
  const nTrain = (share: number) => Math.round(SIZES.train * scale * share);
  const heldPrompts = new Set<string>();
  // Unique prompts for valid/test; train never receives a prompt that is in either.
  const addHeld = (dst: Item[], it: Item) => {
    if (heldPrompts.has(it.prompt)) return false;
    heldPrompts.add(it.prompt);
    dst.push(it);
    return true;
  };
  const addTrain = (it: Item) => {
    if (!heldPrompts.has(it.prompt)) train.push(it);
  };
  const heldOut = (nTest: number, nValid: number, gen: () => Item) => {
    let t = 0, v = 0, guard = 0;
    while ((t < nTest || v < nValid) && guard++ < 100000) {
      const it = gen();
      if (t < nTest) { if (addHeld(test, it)) t++; } else if (addHeld(valid, it)) v++;
    }
  };

  // arithmetic: add / sub by held-out pairs.
  const arithRest: Record<string, [number, number][]> = {};
  for (const op of ["add", "sub"] as const) {
    const pairs: [number, number][] = [];
    for (let a = 0; a <= 99; a++) for (let b = 0; b <= (op === "sub" ? a : 99); b++) pairs.push([a, b]);
    shuffle(r, pairs);
    const nHeld = SIZES.testPerTask + SIZES.validPerTask;
    const held = pairs.slice(0, nHeld), rest = pairs.slice(nHeld);
    const mk = ([a, b]: [number, number]): Item => ({
      family: "arithmetic", task: op, prompt: fill(pick(r, T[op]), { a, b }), answer: String(op === "add" ? a + b : a - b),
    });
    held.slice(0, SIZES.testPerTask).forEach((p) => addHeld(test, mk(p)));
    held.slice(SIZES.testPerTask).forEach((p) => addHeld(valid, mk(p)));
    for (let i = 0; i < nTrain(op === "add" ? 0.16 : 0.14); i++) addTrain(mk(pick(r, rest)));
    arithRest[op] = rest;
  }
  // mul: every fact is trained; held-out items pair a fact with a template it is never trained with.
  {
    const facts: [number, number][] = [];
    for (let a = 0; a <= 12; a++) for (let b = 0; b <= 12; b++) facts.push([a, b]);
    const banned = new Map<string, number>();  // fact → held-out template index
    const mk = (a: number, b: number, ti: number): Item => ({ family: "arithmetic", task: "mul", prompt: fill(T.mul[ti], { a, b }), answer: String(a * b) });
    const order = shuffle(r, facts.slice());
    let t = 0, v = 0;
    for (const [a, b] of order) {
      if (t >= SIZES.testPerTask && v >= SIZES.validPerTask) break;
      const ti = int(r, 0, T.mul.length - 1);
      banned.set(`${a},${b}`, ti);
      if (t < SIZES.testPerTask) { addHeld(test, mk(a, b, ti)); t++; } else { addHeld(valid, mk(a, b, ti)); v++; }
    }
    for (let i = 0; i < nTrain(0.08); i++) {
      const [a, b] = pick(r, facts);
      let ti = int(r, 0, T.mul.length - 1);
      if (banned.get(`${a},${b}`) === ti) ti = (ti + 1) % T.mul.length;
      addTrain(mk(a, b, ti));
    }
  }
  // words: spell / reverse known words, with held-out (word, template) pairings.
  for (const task of ["spell", "reverse"] as const) {
    const tpl = T[task];
    const mk = (w: string, ti: number): Item => ({
      family: "words", task, prompt: fill(tpl[ti], { w }), answer: spaced(task === "spell" ? w : [...w].reverse().join("")),
    });
    const words = shuffle(r, WORDS.slice());
    const banned = new Map<string, number>();
    words.slice(0, SIZES.testPerTask + SIZES.validPerTask).forEach((w, i) => {
      const ti = int(r, 0, tpl.length - 1);
      banned.set(w, ti);
      addHeld(i < SIZES.testPerTask ? test : valid, mk(w, ti));
    });
    for (let i = 0; i < nTrain(0.13); i++) {
      const w = pick(r, WORDS);
      let ti = int(r, 0, tpl.length - 1);
      if (banned.get(w) === ti) ti = (ti + 1) % tpl.length;
      addTrain(mk(w, ti));
    }
  }
  const reverseLetters = () => reverseLettersItem(r);
  heldOut(SIZES.testPerTask, SIZES.validPerTask, reverseLetters);
  for (let i = 0; i < nTrain(0.08); i++) addTrain(reverseLettersItem(r));

  // sort, units, context: fresh random items; held-out prompts are reserved first.
  heldOut(SIZES.testPerTask, SIZES.validPerTask, () => sortItem(r));
  for (let i = 0; i < nTrain(0.08); i++) addTrain(sortItem(r));
  heldOut(SIZES.testPerTask, SIZES.validPerTask, () => unitItem(r));
  for (let i = 0; i < nTrain(0.06); i++) addTrain(unitItem(r));
  heldOut(SIZES.testPerTask, SIZES.validPerTask, () => contextItem(r));
  for (let i = 0; i < nTrain(0.1); i++) addTrain(contextItem(r));

  // code: (function name, argument names) pairings held out.
  {
    const combos: { op: (typeof CODE_OPS)[number]; name: string; args: string[] }[] = [];
    for (const op of CODE_OPS) for (const name of op.names)
      for (const args of op.arity === 2 ? ARG2 : ARG1.map((a) => [a])) combos.push({ op, name, args });
    shuffle(r, combos);
    const nHeld = Math.min(SIZES.testPerTask + SIZES.validPerTask, Math.floor(combos.length * 0.25));
    const nTest = Math.round(nHeld * SIZES.testPerTask / (SIZES.testPerTask + SIZES.validPerTask));
    const heldKeys = new Set<string>();
    combos.slice(0, nHeld).forEach((c, i) => {
      heldKeys.add(`${c.name}(${c.args})`);
      addHeld(i < nTest ? test : valid, codeItem(r, c.op, c.name, c.args));
    });
    const rest = combos.slice(nHeld);
    for (let i = 0; i < nTrain(0.06); i++) {
      const c = pick(r, rest);
      addTrain(codeItem(r, c.op, c.name, c.args));
    }
  }
  if (extraArith > 0) {
    const r2 = makeRng(seed ^ 0x5bd1e995);
    for (const op of ["add", "sub"] as const)
      for (let i = 0; i < extraArith; i++) {
        const [a, b] = pick(r2, arithRest[op]);
        addTrain({ family: "arithmetic", task: op, prompt: fill(pick(r2, T[op]), { a, b }), answer: String(op === "add" ? a + b : a - b) });
      }
  }
  shuffle(r, train);
  // The guarantee, checked: no held-out prompt is a training prompt.
  const trainPrompts = new Set(train.map((x) => x.prompt));
  for (const it of [...valid, ...test])
    if (trainPrompts.has(it.prompt)) throw new Error(`held-out prompt leaked into train: ${JSON.stringify(it.prompt)}`);
  return { train, valid, test };
}

export const toRecord = (it: Item) => ({
  messages: [{ role: "user", content: it.prompt }, { role: "assistant", content: it.answer }],
  family: it.family, task: it.task,
});

function main() {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const seed = Number(opt("seed", "1234"));
  const out = opt("out", ".cache/demo-model/data");
  const scale = Number(opt("scale", "1"));
  const c = makeCorpus(seed, scale, Number(opt("extra-arith", "0")));
  mkdirSync(out, { recursive: true });
  for (const [name, items] of Object.entries(c))
    writeFileSync(join(out, `${name}.jsonl`), items.map((it: Item) => JSON.stringify(toRecord(it))).join("\n") + "\n");
  const count = (items: Item[]) => {
    const m: Record<string, number> = {};
    for (const it of items) m[it.task] = (m[it.task] ?? 0) + 1;
    return Object.entries(m).map(([k, v]) => `${k} ${v}`).join(", ");
  };
  console.log(`seed ${seed} → ${out}: train ${c.train.length}, valid ${c.valid.length}, test ${c.test.length} (no held-out prompt in train)`);
  console.log(`  train: ${count(c.train)}\n  test:  ${count(c.test)}`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
