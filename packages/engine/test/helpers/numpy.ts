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
def _spatial(v, d):
    return [int(v)] * d if np.isscalar(v) else [int(t) for t in v]
def conv_nd(x, w, stride=1, padding=0, dilation=1, groups=1, input_dilation=1, flip=False):
    # Reference N-d convolution in MLX layouts (x [N, *S, C], w [O, *K, C/groups]), cross-correlation unless
    # flip; padding: int, one per dim, or (low list, high list), negative crops. Plain numpy loops + einsum.
    x = np.asarray(x, dtype=np.float64); w = np.asarray(w, dtype=np.float64)
    D = x.ndim - 2
    stride, dilation, input_dilation = _spatial(stride, D), _spatial(dilation, D), _spatial(input_dilation, D)
    if isinstance(padding, tuple) and len(padding) == 2 and not np.isscalar(padding[0]):
        lo, hi = _spatial(padding[0], D), _spatial(padding[1], D)
    else:
        lo = hi = _spatial(padding, D)
    N, C = x.shape[0], x.shape[-1]
    xd = np.zeros([N] + [(s - 1) * d + 1 for s, d in zip(x.shape[1:-1], input_dilation)] + [C])
    xd[(slice(None),) + tuple(slice(None, None, d) for d in input_dilation) + (slice(None),)] = x
    for ax in range(D):
        a, l, h = ax + 1, lo[ax], hi[ax]
        if l < 0: xd = np.take(xd, range(-l, xd.shape[a]), axis=a); l = 0
        if h < 0: xd = np.take(xd, range(0, xd.shape[a] + h), axis=a); h = 0
        pw = [(0, 0)] * xd.ndim; pw[a] = (l, h); xd = np.pad(xd, pw)
    if flip: w = w[(slice(None),) + (slice(None, None, -1),) * D]
    O, K, Cg = w.shape[0], w.shape[1:-1], w.shape[-1]
    Og = O // groups
    osz = [(xd.shape[1 + i] - ((K[i] - 1) * dilation[i] + 1)) // stride[i] + 1 for i in range(D)]
    out = np.zeros([N] + osz + [O])
    for kidx in np.ndindex(*K):
        sl = tuple(slice(k * dl, k * dl + (o - 1) * st + 1, st) for k, dl, o, st in zip(kidx, dilation, osz, stride))
        patch = xd[(slice(None),) + sl + (slice(None),)]
        for g in range(groups):
            out[..., g * Og:(g + 1) * Og] += np.einsum('...c,oc->...o', patch[..., g * Cg:(g + 1) * Cg], w[(slice(g * Og, (g + 1) * Og),) + kidx + (slice(None),)])
    return out
def conv_transpose_nd(x, w, stride=1, padding=0, dilation=1, output_padding=0, groups=1):
    # Reference transposed convolution (scatter form): out[i*s + k*d - p] += x[i] * w[k], MLX layouts.
    x = np.asarray(x, dtype=np.float64); w = np.asarray(w, dtype=np.float64)
    D = x.ndim - 2
    stride, padding, dilation, output_padding = (_spatial(v, D) for v in (stride, padding, dilation, output_padding))
    N, S, O, K, Cg = x.shape[0], x.shape[1:-1], w.shape[0], w.shape[1:-1], w.shape[-1]
    Og = O // groups
    full = [(S[i] - 1) * stride[i] + dilation[i] * (K[i] - 1) + 1 + output_padding[i] for i in range(D)]
    out = np.zeros([N] + full + [O])
    for kidx in np.ndindex(*K):
        sl = tuple(slice(k * dl, k * dl + (s - 1) * st + 1, st) for k, dl, s, st in zip(kidx, dilation, S, stride))
        for g in range(groups):
            out[(slice(None),) + sl + (slice(g * Og, (g + 1) * Og),)] += np.einsum('...c,oc->...o', x[..., g * Cg:(g + 1) * Cg], w[(slice(g * Og, (g + 1) * Og),) + kidx + (slice(None),)])
    crop = tuple(slice(p, f - p) for p, f in zip(padding, full))
    return out[(slice(None),) + crop + (slice(None),)]
def tolist(r):
    r = np.asarray(r)
    dt = str(r.dtype)
    vals = r.astype(np.float64).reshape(-1)
    return {"data": [None if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else v) for v in vals.tolist()], "shape": list(r.shape), "dtype": dt}
out = []
for c in cases:
    env = {"np": np, "erfinv": erfinv, "erf": erf, "logsumexp": logsumexp, "softmax": softmax, "sigmoid": sigmoid}
    env.update(conv_nd=conv_nd, conv_transpose_nd=conv_transpose_nd)
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
