// NumPy as the outside reference: cases are sent to one python3 process per call and evaluated there.
import { spawnSync } from "node:child_process";

export interface NpTensor { data: number[]; shape: number[]; dtype: string }
export interface NpCase { expr: string; inputs: Record<string, NpTensor> }
export type NpResult = NpTensor | NpTensor[] | { error: string };

const SCRIPT = String.raw`
import json, sys, math
import numpy as np
cases = json.load(sys.stdin)
def erfinv(x):
    x = np.asarray(x, dtype=np.float64)
    # Newton iterations on erf from a good start: reference quality in float64
    from math import erf, sqrt, pi, exp, log
    out = np.empty_like(x)
    for i, v in np.ndenumerate(x):
        if v <= -1 or v >= 1:
            out[i] = math.copysign(math.inf, v) if abs(v) == 1 else math.nan; continue
        w = -log((1 - v) * (1 + v)); y = math.copysign(math.sqrt(max(w - 0.5 * math.log(max(w, 1e-300)), 0.0)), v) if w > 1 else v * sqrt(pi) / 2
        for _ in range(100):
            y -= (erf(y) - v) / (2 / sqrt(pi) * exp(-y * y))
        out[i] = y
    return out
def erf(x):
    return np.vectorize(math.erf)(np.asarray(x, dtype=np.float64))
def logsumexp(a, axis=None, keepdims=False):
    a = np.asarray(a, dtype=np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis) if axis is not None else r.reshape(())
def softmax(a, axis=None):
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))
def tolist(r):
    r = np.asarray(r)
    dt = str(r.dtype)
    vals = r.astype(np.float64).reshape(-1)
    return {"data": [None if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else v) for v in vals.tolist()], "shape": list(r.shape), "dtype": dt}
out = []
for c in cases:
    env = {"np": np, "erfinv": erfinv, "erf": erf, "logsumexp": logsumexp, "softmax": softmax, "sigmoid": sigmoid}
    for k, t in c["inputs"].items():
        env[k] = np.array([math.nan if v is None else float(v) for v in t["data"]], dtype=np.float64).reshape(t["shape"]).astype(t["dtype"])
    try:
        with np.errstate(all="ignore"):
            r = eval(c["expr"], env)
        out.append([tolist(x) for x in r] if isinstance(r, (list, tuple)) else tolist(r))
    except Exception as e:
        out.append({"error": repr(e)})
json.dump(out, sys.stdout)
`;

export function numpyEval(cases: NpCase[]): NpResult[] {
  const input = JSON.stringify(cases, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? null : v > 0 ? 1e308 * 10 : -1e308 * 10) : v));
  const r = spawnSync("python3", ["-c", SCRIPT], { input, maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python3/numpy failed: ${r.stderr}`);
  const parsed = JSON.parse(r.stdout) as NpResult[];
  const fix = (t: NpTensor) => {
    t.data = t.data.map((v) => (v === null ? NaN : (v as unknown) === "inf" ? Infinity : (v as unknown) === "-inf" ? -Infinity : v));
  };
  for (const p of parsed) {
    if (Array.isArray(p)) p.forEach(fix);
    else if (!("error" in p)) fix(p);
  }
  return parsed;
}
