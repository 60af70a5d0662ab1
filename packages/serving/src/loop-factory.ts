// Picks the decode loop for a model: the engine's batched lm.DecodeLoop when this engine has it, else the
// sequential loop (same interface, rows stepped one after another).
import { lm } from "@hearth/engine";
import { SequentialLoop, type RowLoop } from "./row-loop.js";

export interface RowLoopOptions {
  eosTokenIds: number[];
  prefillChunk: number;
  maxRows: number;
  /** false: always the sequential loop. */
  batched: boolean;
}

type DecodeLoopCtor = new (model: lm.LanguageModel, opts: { eosTokenIds?: number[]; prefillChunk?: number; maxRows?: number }) => RowLoop;

/** Whether the engine provides the batched loop. */
export function hasBatchedLoop(): boolean {
  return typeof (lm as unknown as { DecodeLoop?: unknown }).DecodeLoop === "function";
}

export function makeRowLoop(model: lm.LanguageModel, opts: RowLoopOptions): RowLoop {
  const Ctor = (lm as unknown as { DecodeLoop?: DecodeLoopCtor }).DecodeLoop;
  if (opts.batched && Ctor) return new Ctor(model, { eosTokenIds: opts.eosTokenIds, prefillChunk: opts.prefillChunk, maxRows: opts.maxRows });
  return new SequentialLoop(model, { eosTokenIds: opts.eosTokenIds, prefillChunk: opts.prefillChunk });
}
