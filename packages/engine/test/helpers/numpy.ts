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
def torch_adamw(params, grads_list, lr, betas, eps, wd):
    # torch.optim.AdamW's documented algorithm (amsgrad off): decoupled decay, then bias-corrected Adam, in float64
    b1, b2 = betas
    ps = [np.array(p, dtype=np.float64) for p in params]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    for t, grads in enumerate(grads_list, start=1):
        for i, g in enumerate(grads):
            g = np.asarray(g, dtype=np.float64)
            ps[i] = ps[i] * (1 - lr * wd)
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            denom = np.sqrt(vs[i]) / math.sqrt(1 - b2 ** t) + eps
            ps[i] = ps[i] - (lr / (1 - b1 ** t)) * ms[i] / denom
    return ps
def optim_ref(kind, params, grads_list, **hp):
    # mlx.optimizers update rules, several steps, in float64 (the step counter t starts at 1)
    ps = [np.array(p, dtype=np.float64) for p in params]
    st = [dict() for _ in ps]
    lr = hp.get("lr", 0.0)
    rms = lambda x: np.sqrt(np.mean(x * x))
    for t, grads in enumerate(grads_list, start=1):
        if callable(lr): lr_t = lr(t - 1)
        else: lr_t = lr
        for i, g in enumerate(grads):
            g = np.asarray(g, dtype=np.float64); p = ps[i]; s = st[i]; z = np.zeros_like(p)
            if kind == "sgd":
                mom, wd, damp = hp.get("momentum", 0), hp.get("wd", 0), hp.get("dampening", 0)
                if wd: g = g + wd * p
                if mom <= 0: ps[i] = p - lr_t * g; continue
                v = mom * s.get("v", z) + ((1 - damp) * g if damp > 0 else g); s["v"] = v
                ps[i] = p - lr_t * (g + mom * v if hp.get("nesterov") else v)
            elif kind == "rmsprop":
                v = hp["alpha"] * s.get("v", z) + (1 - hp["alpha"]) * g * g; s["v"] = v
                ps[i] = p - lr_t * g / (np.sqrt(v) + hp["eps"])
            elif kind == "adagrad":
                v = s.get("v", z) + g * g; s["v"] = v
                ps[i] = p - lr_t * g / (np.sqrt(v) + hp["eps"])
            elif kind == "adadelta":
                rho, eps = hp["rho"], hp["eps"]
                v = rho * s.get("v", z) + (1 - rho) * g * g
                d = np.sqrt(s.get("u", z) + eps) / np.sqrt(v + eps) * g
                s["u"] = rho * s.get("u", z) + (1 - rho) * d * d; s["v"] = v
                ps[i] = p - lr_t * d
            elif kind in ("adam", "adamw"):
                b1, b2 = hp["betas"]; eps = hp["eps"]
                if kind == "adamw": p = p * (1 - lr_t * hp["wd"])
                m = b1 * s.get("m", z) + (1 - b1) * g; v = b2 * s.get("v", z) + (1 - b2) * g * g
                s["m"], s["v"] = m, v
                if hp.get("bias_correction"):
                    ps[i] = p - (lr_t / (1 - b1 ** t)) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
                else:
                    ps[i] = p - lr_t * m / (np.sqrt(v) + eps)
            elif kind == "adamax":
                b1, b2 = hp["betas"]
                m = b1 * s.get("m", z) + (1 - b1) * g; v = np.maximum(b2 * s.get("v", z), np.abs(g))
                s["m"], s["v"] = m, v
                ps[i] = p - lr_t * m / (v + hp["eps"])
            elif kind == "lion":
                b1, b2 = hp["betas"]; m = s.get("m", z)
                c = b1 * m + (1 - b1) * g; s["m"] = b2 * m + (1 - b2) * g
                if hp.get("wd", 0) > 0: p = p * (1 - lr_t * hp["wd"])
                ps[i] = p - lr_t * np.sign(c)
            elif kind == "adafactor":
                # relative step, parameter scaling, no first moment (mlx defaults)
                lr_a = max(1e-3, rms(p)) * min(1e-2, 1 / math.sqrt(t))
                beta2 = 1 - t ** -0.8
                u = g * g + 1e-30
                if p.ndim >= 2:
                    r = beta2 * s.get("r", np.zeros(p.shape[:-1])) + (1 - beta2) * u.mean(-1)
                    c = beta2 * s.get("c", np.zeros(p.shape[:-2] + p.shape[-1:])) + (1 - beta2) * u.mean(-2)
                    s["r"], s["c"] = r, c
                    upd = (1 / np.sqrt(r / r.mean(-1, keepdims=True)))[..., None] * (1 / np.sqrt(c))[..., None, :] * g
                else:
                    v = beta2 * s.get("v", z) + (1 - beta2) * u; s["v"] = v
                    upd = g / np.sqrt(v)
                upd = upd / max(1.0, rms(upd) / 1.0)
                ps[i] = p - lr_a * upd
            else:
                raise ValueError("unknown optimizer " + kind)
    return ps
def tolist(r):
    r = np.asarray(r)
    dt = str(r.dtype)
    vals = r.astype(np.float64).reshape(-1)
    return {"data": [None if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else v) for v in vals.tolist()], "shape": list(r.shape), "dtype": dt}
out = []
for c in cases:
    env = {"np": np, "erfinv": erfinv, "erf": erf, "logsumexp": logsumexp, "softmax": softmax, "sigmoid": sigmoid}
    env.update(conv_nd=conv_nd, conv_transpose_nd=conv_transpose_nd)
    env.update(torch_adamw=torch_adamw, optim_ref=optim_ref)
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
