// The calls whose outputs scripts/record-loop-baseline.ts recorded on the code before lm.DecodeLoop
// (test/fixtures/loop-baseline/baseline.json); test/decode-loop.test.ts runs them again and compares.
// Prompts are slices [start, end) of the gemma3-tiny-a reference input_ids (40 ids).

export const BASELINE_CASES = {
  stream: {
    greedy: { promptLength: 12, options: { maxTokens: 20 } },
    sampled: {
      promptLength: 40,
      options: { maxTokens: 30, temp: 4, seed: 3, topP: 0.9, topK: 40, minP: 0.02, repetitionPenalty: 1.3, logitBias: { 5: 2 } },
    },
    rotating: { promptLength: 40, options: { maxTokens: 30, maxKvSize: 10 } },
    chunked: { promptLength: 40, options: { maxTokens: 16, prefillStepSize: 3, temp: 5, seed: 7 } },
  },
  batch: {
    greedy: { prompts: [[0, 3], [5, 10], [0, 12], [0, 20]], options: { maxTokens: 14, prefillStepSize: 4 } },
  },
  step: {
    greedy: { prompt: [2, 11, 23, 5, 99, 64, 3, 17, 8], options: { maxTokens: 24 } },
    sampled: { prompt: [2, 11, 23, 5, 99, 64, 3, 17, 8], options: { maxTokens: 24, temp: 4, seed: 3, repetitionPenalty: 1.3 } },
  },
  bench: { prompt: [2, 17, 99, 301, 45, 7, 8, 9, 10, 200, 311, 5, 6, 70], tokens: 20 },
  describe: {
    greedy: { images: 1, options: { prompt: "Describe it.", maxTokens: 12 } },
    sampled: { images: 2, options: { maxTokens: 8, temp: 3, seed: 3 } },
  },
} as const;
