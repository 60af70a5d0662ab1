// The one interface every face (hearth server, hearth-mcp, hearth-lsp) talks to. Three implementations: local
// (this process, on the scheduler), remote (any OpenAI-compatible URL) and shared (a per-user host over a Unix
// socket). Faces only translate their protocol to and from these types; no HTTP, MCP or LSP type appears here.

/** Who is waiting: an editor keystroke goes ahead of a batch job. */
export type Priority = "interactive" | "background";

/** An image given to a vision model. Faces check paths against their allowed roots before building one. */
export type ImageSource =
  | { kind: "bytes"; data: Uint8Array; mimeType?: string }
  | { kind: "dataUrl"; url: string }
  | { kind: "path"; path: string };

export type ContentPart = { type: "text"; text: string } | { type: "image"; image: ImageSource };

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as a JSON string (OpenAI's shape); always parses and matches the tool's parameters. */
  arguments: string;
}

export interface ChatTurn {
  role: "system" | "user" | "assistant" | "tool";
  content: string | ContentPart[];
  /** Calls an assistant turn made (sent back in the history). */
  toolCalls?: ToolCall[];
  /** For role "tool": which call this answers. */
  toolCallId?: string;
  name?: string;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: Record<string, unknown>;
}

export type ToolChoice = "auto" | "none" | "required" | { name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; schema: Record<string, unknown>; name?: string; strict?: boolean };

export interface SamplingParams {
  /** Most new tokens (the host applies its cap). */
  maxTokens?: number;
  /** 0 is greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed?: number;
  /** Generation ends before any of these strings, which are never part of the text. */
  stop?: string[];
  repetitionPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Token id → bias added to its logit. */
  logitBias?: Record<number, number>;
  /** Report each token's log-probability, and this many alternatives (0: only the chosen token's). */
  logprobs?: number;
}

export interface GenerateRequest extends SamplingParams {
  /** A model name or path known to the backend; the backend's default text model when absent. */
  model?: string;
  /** A LoRA adapter by name (loaded or trained earlier) or, where the operator allows it, by path. */
  adapter?: string;
  /**
   * Raw text continued as is (a completion; no chat template), or token ids. Exactly one of prompt / messages.
   */
  prompt?: string | number[];
  /** A conversation, rendered with the model's chat template and the generation prompt. */
  messages?: ChatTurn[];
  responseFormat?: ResponseFormat;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** OpenAI's `parallel_tool_calls`: false allows at most one call per reply (default: up to 4). */
  parallelToolCalls?: boolean;
  priority?: Priority;
  /** Stops the request within one decode step and frees its cache. */
  signal?: AbortSignal;
  /** An opaque end-user id (logging only). */
  user?: string;
}

export interface TokenLogprob {
  token: number;
  text: string;
  logprob: number;
}

export interface Usage {
  promptTokens: number;
  /** Prompt tokens a cached prefix already held (not prefilled again). */
  cachedTokens: number;
  completionTokens: number;
}

export type FinishReason = "stop" | "length" | "abort" | "tool_calls";

export type GenerateEvent =
  | { type: "start"; model: string; adapter?: string; promptTokens: number; cachedTokens: number }
  | {
    type: "token";
    /** Text completed by this token (often "" in the middle of a character or a possible stop string). */
    text: string;
    /** The token id (-1 for a final flush of held-back text, and on remote backends). */
    token: number;
    /** The chosen token's own text (decoded alone; may be part of a multi-byte character). */
    tokenText?: string;
    logprob?: number;
    topLogprobs?: TokenLogprob[];
  }
  | {
    type: "done";
    finishReason: FinishReason;
    /** The whole generated text (without stop strings; for tool calls, the raw call block). */
    text: string;
    toolCalls?: ToolCall[];
    usage: Usage;
    /** Seconds to the first token, and decode tokens per second. */
    timeToFirstToken: number;
    tokensPerSecond: number;
  };

export interface EmbedRequest {
  model?: string;
  /** Texts, or token id arrays used as they are. */
  input: Array<string | number[]>;
  /** EmbeddingGemma task prompt: "query", "document", "classification", … (none: the text as is). */
  task?: string;
  /** Matryoshka size (truncate and renormalise). */
  dimensions?: number;
  signal?: AbortSignal;
}

export interface EmbedResult {
  model: string;
  embeddings: number[][];
  dimensions: number;
  promptTokens: number;
}

export interface DescribeRequest extends SamplingParams {
  model?: string;
  images: ImageSource[];
  prompt?: string;
  system?: string;
  responseFormat?: ResponseFormat;
  priority?: Priority;
  signal?: AbortSignal;
}

export interface TrainRequest {
  /** Base model (name or path); the default text model when absent. */
  model?: string;
  /** Folder with train.jsonl / valid.jsonl, or one JSONL file (split by validationSplit). */
  data: string;
  /** The adapter's name; it is served under this name once training ends (or is cancelled after a checkpoint). */
  name: string;
  iters?: number;
  batchSize?: number;
  learningRate?: number;
  /** Layers (from the last) that get adapters; default min(16, the model's layers); -1: all. */
  numLayers?: number;
  rank?: number;
  maskPrompt?: boolean;
  /** Fraction of a single JSONL file held out for validation. */
  validationSplit?: number;
  /** Stops within one step; the last complete checkpoint is kept and usable. */
  signal?: AbortSignal;
}

export type TrainEvent =
  | { type: "start"; adapter: string; path: string; iters: number; trainExamples: number; validExamples: number }
  | {
    /** Exactly one per iteration, in increasing order. */
    type: "progress";
    iteration: number;
    iters: number;
    /** This iteration's training loss. */
    loss: number;
    /** Same as loss (kept for earlier consumers). */
    trainLoss: number;
    /** Tokens trained per second in this iteration. */
    tokensPerSecond: number;
    /** The validation loss, on iterations where a validation pass ran (the first, every iters/4, the last). */
    validLoss?: number;
    /** e.g. "iter 3/10: loss 2.345, 1234 tokens/s". */
    message: string;
  }
  | {
    type: "done";
    adapter: string;
    path: string;
    /** Iterations completed (fewer than asked when cancelled). */
    iters: number;
    trainLoss: number | null;
    validLoss: number | null;
    seconds: number;
    cancelled: boolean;
  };

export type ModelKind = "text" | "vision" | "embedding";

export interface ModelInfo {
  /** The name requests use. */
  id: string;
  kind: ModelKind;
  /** Resident now (false: available to load). */
  loaded: boolean;
  path?: string;
  /** Bytes of weights when loaded. */
  bytes?: number;
  /** Adapters that can be used with it. */
  adapters: string[];
}

export interface BackendStatus {
  kind: "local" | "remote" | "shared";
  models: ModelInfo[];
  /** Requests running and waiting. */
  active: number;
  queued: number;
  /** The shared host's process id (shared backends). */
  pid?: number;
  /** Decode steps run so far over every model and adapter (local and shared backends). */
  decodeSteps?: number;
}

/** What every face uses. Each call may fail with a ServingError (see errors.ts). */
export interface Backend {
  readonly kind: "local" | "remote" | "shared";
  /** Chat or completion, as a stream of events that ends with one "done". */
  generate(req: GenerateRequest): AsyncIterable<GenerateEvent>;
  embed(req: EmbedRequest): Promise<EmbedResult>;
  describeImage(req: DescribeRequest): AsyncIterable<GenerateEvent>;
  /** LoRA fine-tuning; the remote backend refuses it with code "unsupported". */
  train(req: TrainRequest): AsyncIterable<TrainEvent>;
  models(): Promise<ModelInfo[]>;
  load(model: string, kind?: ModelKind): Promise<ModelInfo>;
  unload(model: string): Promise<void>;
  status(): Promise<BackendStatus>;
  close(): Promise<void>;
}

/** Runs a generate stream to its end: the "done" event (text, finish reason, tool calls, usage). */
export async function collect(events: AsyncIterable<GenerateEvent>): Promise<Extract<GenerateEvent, { type: "done" }>> {
  for await (const e of events) if (e.type === "done") return e;
  throw new Error("[serving] the stream ended without a done event");
}
