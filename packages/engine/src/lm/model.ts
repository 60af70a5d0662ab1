// What the generation code needs from a model, whatever its architecture.
import type { MxArray } from "../core/array.js";
import type { Module } from "../nn/module.js";
import type { Cache } from "./cache.js";

export interface ForwardOptions {
  cache?: Cache[];
  mask?: MxArray;
  attentionMask?: MxArray;
  inputEmbeddings?: MxArray;
  hiddenStates?: MxArray[];
  /** Preprocessed images [n, 3, H, W] (NCHW) for vision-language models (Gemma 3); ignored by text models' types. */
  pixelValues?: MxArray;
}

export interface LanguageModel extends Module {
  readonly modelType: string;
  /** Logits [B, L, vocab]. */
  forward(inputIds: MxArray, opts?: ForwardOptions): MxArray;
  makeCache(opts?: { maxKvSize?: number }): Cache[];
  sanitize(weights: Record<string, MxArray>): Record<string, MxArray>;
  readonly layers: Module[];
}
