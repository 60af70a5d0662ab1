// Gemma 3 multimodal (Gemma3ForConditionalGeneration, model_type "gemma3"): SigLIP vision tower → projector
// (average pooling to mm_tokens_per_image, Gemma RMSNorm, matmul into the text width) → image features written
// into the `<image_soft_token>` positions of the text embeddings → the Gemma 3 text model, with attention among
// one image's tokens bidirectional (the rest causal, sliding layers windowed), as transformers does.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { Module } from "../../nn/module.js";
import { gemma3TextConfig, type Json } from "../config.js";
import type { Cache } from "../cache.js";
import {
  Model as TextModel, GemmaRMSNorm, buildMask, modelArgs as textModelArgs, type ForwardOptions as TextForwardOptions,
  type DecodeStep, type DecodeStepOptions,
} from "./gemma3-text.js";
import { SiglipVisionModel, siglipVisionArgs, type SiglipVisionArgs } from "./siglip.js";

export interface Gemma3Args {
  text: ReturnType<typeof textModelArgs>;
  vision: SiglipVisionArgs;
  mmTokensPerImage: number;
  imageTokenIndex: number;
  boiTokenIndex: number;
  eoiTokenIndex: number;
}

export function modelArgs(config: Json): Gemma3Args {
  const text = gemma3TextConfig({ ...config, model_type: "gemma3" });
  const vision = siglipVisionArgs(config.vision_config ?? {});
  const mm = config.mm_tokens_per_image ?? 256;
  const side = Math.round(Math.sqrt(mm));
  const patchesPerSide = vision.imageSize / vision.patchSize;
  if (side * side !== mm || patchesPerSide % side !== 0)
    throw new Error(`config.json: mm_tokens_per_image ${mm} must be a square whose side divides the ${patchesPerSide} patches per side`);
  return {
    text: textModelArgs(text),
    vision,
    mmTokensPerImage: mm,
    imageTokenIndex: config.image_token_index ?? config.image_token_id ?? 262144,
    boiTokenIndex: config.boi_token_index ?? config.boi_token_id ?? 255999,
    eoiTokenIndex: config.eoi_token_index ?? config.eoi_token_id ?? 256000,
  };
}

export class MultiModalProjector extends Module {
  mm_input_projection_weight: MxArray;
  mm_soft_emb_norm: GemmaRMSNorm;
  private readonly patchesPerSide: number;
  private readonly tokensPerSide: number;
  constructor(args: Gemma3Args) {
    super();
    const v = args.vision;
    this.mm_input_projection_weight = mx.zeros([v.hiddenSize, args.text.hiddenSize]);
    this.mm_soft_emb_norm = new GemmaRMSNorm(v.hiddenSize, v.layerNormEps);
    this.patchesPerSide = v.imageSize / v.patchSize;
    this.tokensPerSide = Math.round(Math.sqrt(args.mmTokensPerImage));
  }
  /** Vision states [n, patches, vision hidden] → [n, mm_tokens_per_image, text hidden]. */
  forward(x: MxArray): MxArray {
    const [n, , d] = x.shape;
    const t = this.tokensPerSide, k = this.patchesPerSide / t;
    // Non-overlapping k×k average pooling of the patch grid (row-major patches), kept channels-last.
    const grid = mx.reshape(x, [n, t, k, t, k, d]);
    const pooled = mx.reshape(mx.mean(grid, [2, 4]), [n, t * t, d]);
    const normed = this.mm_soft_emb_norm.forward(pooled);
    return mx.matmul(normed, this.mm_input_projection_weight).astype(x.dtype);
  }
}

export interface ForwardOptions extends TextForwardOptions {
  /** Preprocessed images [n, 3, H, W] (NCHW, as transformers' pixel_values), one per image-token block. */
  pixelValues?: MxArray;
}

export class Model extends Module {
  vision_tower: SiglipVisionModel;
  multi_modal_projector: MultiModalProjector;
  language_model: TextModel;
  readonly modelType = "gemma3";
  constructor(readonly args: Gemma3Args) {
    super();
    this.vision_tower = new SiglipVisionModel(args.vision);
    this.multi_modal_projector = new MultiModalProjector(args);
    this.language_model = new TextModel(args.text);
  }

  get layers() {
    return this.language_model.layers;
  }

  /**
   * Projected image features [n, mm_tokens_per_image, text hidden] for pixel values [n, 3, H, W]. The tower runs
   * layer by layer (evaluated, activations freed) unless evalPerLayer is false (needed inside gradient transforms).
   */
  getImageFeatures(pixelValues: MxArray, opts: { evalPerLayer?: boolean } = {}): MxArray {
    return this.multi_modal_projector.forward(this.vision_tower.forward(pixelValues, { evalPerLayer: opts.evalPerLayer ?? true }));
  }

  /**
   * Logits [B, L, vocab]. With pixelValues, the image features replace the embeddings of the image tokens
   * (their count must be n × mm_tokens_per_image) and each image's tokens attend to each other both ways.
   */
  forward(inputIds: MxArray, opts: ForwardOptions = {}): MxArray {
    const { pixelValues, ...textOpts } = opts;
    if (!pixelValues) return this.language_model.forward(inputIds, textOpts);
    if (opts.mask || opts.inputEmbeddings)
      throw new Error("[gemma3] pixelValues cannot be combined with an explicit mask or inputEmbeddings");
    const features = this.getImageFeatures(pixelValues);
    return this.forwardWithImages(inputIds, features, textOpts);
  }

  /** The text model over embeddings with image features merged in (features [n, T, hidden], already projected). */
  forwardWithImages(inputIds: MxArray, features: MxArray, opts: TextForwardOptions = {}): MxArray {
    if (inputIds.ndim !== 2) throw new Error(`[gemma3] inputIds must be [B, L], got [${inputIds.shape.join(", ")}]`);
    const [B, L] = inputIds.shape;
    const lm = this.language_model, tm = lm.model, targs = this.args.text;
    const ids = inputIds.tolist() as number[][];
    const imageTok = this.args.imageTokenIndex;
    // Image positions (flattened) and their groups: one group per run of consecutive image tokens.
    const positions: number[] = [];
    const groups = new Int32Array(B * L).fill(-1);
    for (let b = 0; b < B; b++) {
      let g = -1;
      for (let t = 0; t < L; t++) {
        if (ids[b][t] !== imageTok) continue;
        if (t === 0 || ids[b][t - 1] !== imageTok) g++;
        groups[b * L + t] = g;
        positions.push(b * L + t);
      }
    }
    const [n, T, D] = features.shape;
    if (positions.length !== n * T)
      throw new Error(`[gemma3] Image features and image tokens do not match: ${positions.length} image tokens in the input, ${n} image(s) × ${T} features`);
    // Image tokens outside the vocabulary (some checkpoints) are embedded as padding before being replaced.
    const safeIds = imageTok >= targs.vocabSize ? mx.where(mx.equal(inputIds, imageTok), 0, inputIds) : inputIds;
    let h = tm.scaleEmbeddings(tm.embed_tokens.forward(safeIds));
    if (positions.length) {
      // One gather over [text rows; feature rows] writes the features at the image positions.
      const src = new Int32Array(B * L);
      for (let i = 0; i < B * L; i++) src[i] = i;
      positions.forEach((p, j) => (src[p] = B * L + j));
      const rows = mx.concatenate([mx.reshape(h, [B * L, D]), mx.reshape(features.astype(h.dtype), [n * T, D])], 0);
      h = mx.reshape(mx.take(rows, mx.array(src, mx.int32), 0), [B, L, D]);
    }
    opts.hiddenStates?.push(h);
    const masks = this.imageMasks(L, groups, B, opts.cache, opts.attentionMask);
    lm.layers.forEach((layer, i) => {
      h = layer.forward(h, { mask: layer.self_attn.isSliding ? masks.sliding : masks.global }, opts.cache?.[i]);
      if (opts.hiddenStates && i < lm.layers.length - 1) opts.hiddenStates.push(h);
    });
    const out = tm.norm.forward(h);
    opts.hiddenStates?.push(out);
    return lm.logits(out);
  }

  /** Causal (and windowed) masks OR "same image" among the new tokens, AND key padding; per layer kind. */
  private imageMasks(L: number, groups: Int32Array, B: number, cache: Cache[] | undefined, attentionMask?: MxArray) {
    const g = mx.array(groups, mx.int32, [B, L]);
    const same = mx.logicalAnd(
      mx.equal(mx.reshape(g, [B, 1, L, 1]), mx.reshape(g, [B, 1, 1, L])),
      mx.greaterEqual(mx.reshape(g, [B, 1, L, 1]), 0),
    );
    const layers = this.language_model.layers;
    const make = (sliding: boolean) => {
      const idx = layers.findIndex((l) => l.self_attn.isSliding === sliding);
      if (idx < 0) return undefined;
      const keys = cache?.[idx] ? cache[idx].keyCountAfter(L) : L;
      let pad: MxArray | undefined;
      if (attentionMask) {
        const have = attentionMask.shape[1];
        if (have < keys) throw new Error(`[gemma3] attentionMask covers ${have} keys but attention sees ${keys}`);
        pad = have === keys ? attentionMask : mx.slice(attentionMask, [0, have - keys], [attentionMask.shape[0], have]);
      }
      const base = buildMask(L, keys, { window: sliding ? this.args.text.slidingWindow : undefined });
      const img = keys === L ? same : mx.concatenate([mx.zeros([B, 1, L, keys - L], mx.bool), same], 3);
      let m = mx.logicalOr(base, img);
      if (pad) m = mx.logicalAnd(m, mx.reshape(mx.notEqual(pad, 0), [pad.shape[0], 1, 1, keys]));
      return m;
    };
    return { global: make(false), sliding: make(true) };
  }

  /** Checkpoint tensors (hub or transformers 5 names) → this model's parameter names. */
  sanitize(weights: Record<string, MxArray>): Record<string, MxArray> {
    const vision: Record<string, MxArray> = {};
    const text: Record<string, MxArray> = {};
    const out: Record<string, MxArray> = {};
    for (const [key, v] of Object.entries(weights)) {
      const k = key.startsWith("model.") && !key.startsWith("model.language_model.") ? key.slice("model.".length) : key;
      if (k.startsWith("vision_tower.")) vision[k.slice("vision_tower.".length)] = v;
      else if (k.startsWith("multi_modal_projector.")) out[k] = v;
      else if (k.startsWith("language_model.") || k.startsWith("model.language_model.")) text[k] = v;
      else if (k === "lm_head.weight") text["language_model.lm_head.weight"] = v;
      else out[k] = v;  // unknown: left for strict loading to report
    }
    for (const [k, v] of Object.entries(this.vision_tower.sanitize(vision))) out[`vision_tower.${k}`] = v;
    // The text model's sanitize knows both spellings of the text weights; it expects the text model's own names.
    const textNames: Record<string, MxArray> = {};
    for (const [k, v] of Object.entries(text)) {
      if (k.startsWith("model.language_model.")) textNames["model." + k.slice("model.language_model.".length)] = v;
      else textNames[k.slice("language_model.".length)] = v;
    }
    for (const [k, v] of Object.entries(this.language_model.sanitize(textNames))) out[`language_model.${k}`] = v;
    return out;
  }

  makeCache(opts: { maxKvSize?: number } = {}): Cache[] {
    return this.language_model.makeCache(opts);
  }

  /** The text model's compiled decode step: after the prompt (images included) is prefilled, decoding is text only. */
  makeDecodeStep(opts: DecodeStepOptions = {}): DecodeStep | undefined {
    return this.language_model.makeDecodeStep(opts);
  }
}
