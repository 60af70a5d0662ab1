// Random-weight checkpoints with real shapes (benchmarks and tests): the Gemma 3 weight list (text, or multimodal
// with the vision tower) and a streamed bf16 safetensors writer. The content is noise (std 0.02 by default): speed
// and I/O depend on shapes only.
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { gemma3TextConfig, isGemma3Multimodal } from "./config.js";
import { siglipVisionArgs } from "./models/siglip.js";

/**
 * [name, shape] of every weight of a Gemma 3 checkpoint, in the hub's naming. A text config (gemma3_text) gives the
 * text model (`model.*`); a multimodal one (model_type "gemma3", as google/gemma-3-4b-pt and larger are published)
 * gives the language model under `language_model.model.*`, the SigLIP tower under `vision_tower.vision_model.*`
 * (patch kernel in PyTorch's [O, C, kh, kw]) and the projector, the names and shapes the hub's
 * Gemma3ForConditionalGeneration safetensors hold.
 */
export function gemma3WeightShapes(cfg: Record<string, any>): [string, number[]][] {
  if (!isGemma3Multimodal(cfg)) return textWeightShapes(cfg, "model.");
  const text = gemma3TextConfig(cfg);
  const v = siglipVisionArgs(cfg.vision_config ?? {});
  const d = v.hiddenSize, f = v.intermediateSize;
  const out: [string, number[]][] = textWeightShapes(text, "language_model.model.");
  const e = "vision_tower.vision_model.embeddings.";
  out.push(
    [e + "patch_embedding.weight", [d, v.numChannels, v.patchSize, v.patchSize]],
    [e + "patch_embedding.bias", [d]],
    [e + "position_embedding.weight", [(v.imageSize / v.patchSize) ** 2, d]],
  );
  for (let i = 0; i < v.numHiddenLayers; i++) {
    const p = `vision_tower.vision_model.encoder.layers.${i}.`;
    out.push([p + "layer_norm1.weight", [d]], [p + "layer_norm1.bias", [d]]);
    for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"])
      out.push([`${p}self_attn.${proj}.weight`, [d, d]], [`${p}self_attn.${proj}.bias`, [d]]);
    out.push(
      [p + "layer_norm2.weight", [d]], [p + "layer_norm2.bias", [d]],
      [p + "mlp.fc1.weight", [f, d]], [p + "mlp.fc1.bias", [f]],
      [p + "mlp.fc2.weight", [d, f]], [p + "mlp.fc2.bias", [d]],
    );
  }
  out.push(
    ["vision_tower.vision_model.post_layernorm.weight", [d]],
    ["vision_tower.vision_model.post_layernorm.bias", [d]],
    ["multi_modal_projector.mm_input_projection_weight", [d, text.hidden_size]],
    ["multi_modal_projector.mm_soft_emb_norm.weight", [d]],
  );
  return out;
}

function textWeightShapes(cfg: Record<string, any>, prefix: string): [string, number[]][] {
  const h = cfg.hidden_size, hd = cfg.head_dim, q = cfg.num_attention_heads * hd, kv = cfg.num_key_value_heads * hd;
  const out: [string, number[]][] = [[prefix + "embed_tokens.weight", [cfg.vocab_size, h]]];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `${prefix}layers.${i}.`;
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
  out.push([prefix + "norm.weight", [h]]);
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

