// Random-weight checkpoints with real shapes (benchmarks and tests): the Gemma 3 text weight list and a streamed
// bf16 safetensors writer. The content is noise (std 0.02 by default): speed and I/O depend on shapes only.
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/** [name, shape] of every weight of a Gemma 3 text checkpoint, in HF naming. */
export function gemma3WeightShapes(cfg: Record<string, any>): [string, number[]][] {
  const h = cfg.hidden_size, hd = cfg.head_dim, q = cfg.num_attention_heads * hd, kv = cfg.num_key_value_heads * hd;
  const out: [string, number[]][] = [["model.embed_tokens.weight", [cfg.vocab_size, h]]];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      [p + "input_layernorm.weight", [h]],
      [p + "self_attn.q_proj.weight", [q, h]],
      [p + "self_attn.k_proj.weight", [kv, h]],
      [p + "self_attn.v_proj.weight", [kv, h]],
      [p + "self_attn.o_proj.weight", [h, q]],
      [p + "self_attn.q_norm.weight", [hd]],
      [p + "self_attn.k_norm.weight", [hd]],
      [p + "post_attention_layernorm.weight", [h]],
      [p + "pre_feedforward_layernorm.weight", [h]],
      [p + "mlp.gate_proj.weight", [cfg.intermediate_size, h]],
      [p + "mlp.up_proj.weight", [cfg.intermediate_size, h]],
      [p + "mlp.down_proj.weight", [h, cfg.intermediate_size]],
      [p + "post_feedforward_layernorm.weight", [h]],
    );
  }
  out.push(["model.norm.weight", [h]]);
  return out;
}

// 64Ki bf16 normal samples (std 0.02), indexed by a xorshift stream: ~1 ns per weight, so a 4B model's 8 GB of
// bf16 takes seconds instead of minutes of Box-Muller.
function normalTable(seed: number, std: number): Uint16Array {
  const t = new Uint16Array(65536);
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < t.length; i++) {
    f[0] = std * Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
    t[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  return t;
}

/** Writes a bf16 safetensors file of random weights, streamed tensor by tensor. */
export function writeRandomSafetensors(path: string, shapes: [string, number[]][], seed = 1234, std = 0.02): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", hearth: "random weights for benchmarks" } };
  let off = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: "BF16", shape, data_offsets: [off, off + n] };
    off += n;
  }
  let hjson = JSON.stringify(header);
  hjson += " ".repeat((8 - ((8 + Buffer.byteLength(hjson)) % 8)) % 8);
  const hb = Buffer.from(hjson, "utf8");
  const table = normalTable(seed, std);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    writeSync(fd, len);
    writeSync(fd, hb);
    let s = (seed * 2654435761) >>> 0 || 1;
    const chunk = new Uint16Array(1 << 21);
    const bytes = new Uint8Array(chunk.buffer);
    for (const [, shape] of shapes) {
      let left = shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        for (let i = 0; i < n; i++) {
          s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
          chunk[i] = table[s & 0xffff];
        }
        let done = 0;
        while (done < n * 2) done += writeSync(fd, bytes, done, n * 2 - done);
        left -= n;
      }
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}

