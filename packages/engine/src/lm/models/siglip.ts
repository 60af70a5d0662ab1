// SigLIP vision tower (transformers' SiglipVisionModel without the pooling head, as Gemma 3 uses it): a strided
// patch convolution, learned position embeddings, pre-norm encoder layers (LayerNorm → attention with biases,
// LayerNorm → fc1 → gelu(tanh) → fc2), and a final LayerNorm. Parameter paths follow the hub checkpoints
// (`vision_model.embeddings.patch_embedding.weight`, ...); the patch kernel is MLX's [O, kh, kw, C].
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { Module } from "../../nn/module.js";
import { Linear } from "../../nn/layers/linear.js";
import { Embedding } from "../../nn/layers/embedding.js";
import { Conv2d } from "../../nn/layers/convolution.js";
import { LayerNorm } from "../../nn/layers/normalization.js";
import { geluApprox, gelu } from "../../nn/activations.js";
import type { Json } from "../config.js";

export interface SiglipVisionArgs {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  hiddenAct: string;
}

/** SiglipVisionConfig's defaults where a key is absent (the hub's Gemma 3 configs list only a few). */
export function siglipVisionArgs(c: Json = {}): SiglipVisionArgs {
  const args: SiglipVisionArgs = {
    hiddenSize: c.hidden_size ?? 768,
    intermediateSize: c.intermediate_size ?? 3072,
    numHiddenLayers: c.num_hidden_layers ?? 12,
    numAttentionHeads: c.num_attention_heads ?? 12,
    numChannels: c.num_channels ?? 3,
    imageSize: c.image_size ?? 224,
    patchSize: c.patch_size ?? 16,
    layerNormEps: c.layer_norm_eps ?? 1e-6,
    hiddenAct: c.hidden_act ?? "gelu_pytorch_tanh",
  };
  if (args.hiddenSize % args.numAttentionHeads !== 0)
    throw new Error(`vision_config: hidden_size ${args.hiddenSize} is not a multiple of num_attention_heads ${args.numAttentionHeads}`);
  if (args.imageSize % args.patchSize !== 0)
    throw new Error(`vision_config: image_size ${args.imageSize} is not a multiple of patch_size ${args.patchSize}`);
  if (!["gelu_pytorch_tanh", "gelu_new", "gelu_fast", "gelu"].includes(args.hiddenAct))
    throw new Error(`vision_config: unsupported hidden_act '${args.hiddenAct}'`);
  return args;
}

export class SiglipAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  private readonly heads: number;
  private readonly headDim: number;
  constructor(args: SiglipVisionArgs) {
    super();
    const d = args.hiddenSize;
    this.heads = args.numAttentionHeads;
    this.headDim = d / this.heads;
    this.q_proj = new Linear(d, d, true);
    this.k_proj = new Linear(d, d, true);
    this.v_proj = new Linear(d, d, true);
    this.out_proj = new Linear(d, d, true);
  }
  forward(x: MxArray): MxArray {
    const [B, L] = x.shape;
    const split = (t: MxArray) => mx.transpose(mx.reshape(t, [B, L, this.heads, this.headDim]), [0, 2, 1, 3]);
    const q = split(this.q_proj.forward(x)), k = split(this.k_proj.forward(x)), v = split(this.v_proj.forward(x));
    const o = mx.fast.scaledDotProductAttention(q, k, v, { scale: this.headDim ** -0.5 });
    return this.out_proj.forward(mx.reshape(mx.transpose(o, [0, 2, 1, 3]), [B, L, -1]));
  }
}

export class SiglipMLP extends Module {
  fc1: Linear;
  fc2: Linear;
  private readonly exact: boolean;
  constructor(args: SiglipVisionArgs) {
    super();
    this.fc1 = new Linear(args.hiddenSize, args.intermediateSize, true);
    this.fc2 = new Linear(args.intermediateSize, args.hiddenSize, true);
    this.exact = args.hiddenAct === "gelu";
  }
  forward(x: MxArray): MxArray {
    const h = this.fc1.forward(x);
    return this.fc2.forward(this.exact ? gelu(h) : geluApprox(h));
  }
}

export class SiglipEncoderLayer extends Module {
  layer_norm1: LayerNorm;
  self_attn: SiglipAttention;
  layer_norm2: LayerNorm;
  mlp: SiglipMLP;
  constructor(args: SiglipVisionArgs) {
    super();
    this.layer_norm1 = new LayerNorm(args.hiddenSize, args.layerNormEps);
    this.self_attn = new SiglipAttention(args);
    this.layer_norm2 = new LayerNorm(args.hiddenSize, args.layerNormEps);
    this.mlp = new SiglipMLP(args);
  }
  forward(x: MxArray): MxArray {
    const h = mx.add(x, this.self_attn.forward(this.layer_norm1.forward(x)));
    return mx.add(h, this.mlp.forward(this.layer_norm2.forward(h)));
  }
}

export class SiglipEncoder extends Module {
  layers: SiglipEncoderLayer[];
  constructor(args: SiglipVisionArgs) {
    super();
    this.layers = Array.from({ length: args.numHiddenLayers }, () => new SiglipEncoderLayer(args));
  }
}

export class SiglipVisionEmbeddings extends Module {
  patch_embedding: Conv2d;
  position_embedding: Embedding;
  readonly numPatches: number;
  constructor(private readonly args: SiglipVisionArgs) {
    super();
    const p = args.patchSize;
    this.patch_embedding = new Conv2d(args.numChannels, args.hiddenSize, p, p, 0, 1, 1, true);
    this.numPatches = (args.imageSize / p) ** 2;
    this.position_embedding = new Embedding(this.numPatches, args.hiddenSize);
  }
  /** pixels NHWC [n, H, W, C] → patch embeddings + positions [n, patches, hidden] (row-major patch order). */
  forward(pixels: MxArray): MxArray {
    const [n, H, W] = pixels.shape;
    const p = this.args.patchSize;
    const patches = (H / p) * (W / p);
    if (H % p || W % p || patches !== this.numPatches)
      throw new Error(`[siglip] the vision tower takes ${this.args.imageSize}×${this.args.imageSize} images (${this.numPatches} patches of ${p}); got ${H}×${W}`);
    const x = this.patch_embedding.forward(pixels);
    return mx.add(mx.reshape(x, [n, patches, this.args.hiddenSize]), this.position_embedding.weight);
  }
}

export class SiglipVisionTransformer extends Module {
  embeddings: SiglipVisionEmbeddings;
  encoder: SiglipEncoder;
  post_layernorm: LayerNorm;
  constructor(args: SiglipVisionArgs) {
    super();
    this.embeddings = new SiglipVisionEmbeddings(args);
    this.encoder = new SiglipEncoder(args);
    this.post_layernorm = new LayerNorm(args.hiddenSize, args.layerNormEps);
  }
}

/** The tower: pixel values NCHW [n, C, H, W] (transformers' layout) → last hidden state [n, patches, hidden]. */
export class SiglipVisionModel extends Module {
  vision_model: SiglipVisionTransformer;
  constructor(readonly args: SiglipVisionArgs) {
    super();
    this.vision_model = new SiglipVisionTransformer(args);
  }

  get dtype() {
    return this.vision_model.post_layernorm.weight!.dtype;
  }

  /**
   * hiddenStates, when given, collects the embeddings and each layer's output (as transformers' hidden_states).
   * evalPerLayer evaluates layer by layer in mx.tidy scopes, freeing each layer's activations before the next (at
   * 896 px one float32 layer holds about 1 GiB of them): for inference, not inside gradient transforms.
   */
  forward(pixelValues: MxArray, opts: { hiddenStates?: MxArray[]; evalPerLayer?: boolean } = {}): MxArray {
    if (pixelValues.ndim !== 4 || pixelValues.shape[1] !== this.args.numChannels)
      throw new Error(`[siglip] pixelValues must be [n, ${this.args.numChannels}, H, W] (NCHW), got [${pixelValues.shape.join(", ")}]`);
    const x = mx.transpose(pixelValues.astype(this.dtype), [0, 2, 3, 1]);
    let h = this.vision_model.embeddings.forward(x);
    opts.hiddenStates?.push(h);
    for (const layer of this.vision_model.encoder.layers) {
      const x = h;
      h = opts.evalPerLayer ? mx.tidy(() => {
        const y = layer.forward(x);
        mx.eval(y);
        return y;
      }) : layer.forward(x);
      if (opts.hiddenStates) opts.hiddenStates.push(h);
      else if (opts.evalPerLayer && x !== pixelValues) x.dispose();
    }
    return this.vision_model.post_layernorm.forward(h);
  }

  /**
   * Checkpoint names relative to the tower → ours: `vision_model.` added where the checkpoint omits it
   * (transformers 5), the PyTorch patch kernel [O, C, kh, kw] transposed to [O, kh, kw, C].
   */
  sanitize(weights: Record<string, MxArray>): Record<string, MxArray> {
    const out: Record<string, MxArray> = {};
    const c = this.args.numChannels;
    for (let [k, v] of Object.entries(weights)) {
      if (!k.startsWith("vision_model.")) k = "vision_model." + k;
      if (k.endsWith("position_ids")) continue;
      if (k === "vision_model.embeddings.patch_embedding.weight" && v.ndim === 4 && v.shape[1] === c && v.shape[3] !== c)
        v = mx.transpose(v, [0, 2, 3, 1]);
      out[k] = v;
    }
    return out;
  }
}
