/** Errors raised by the engine. Messages start with `[op]` and say what was expected. */
export class EngineError extends Error {
  /** EINVAL (bad argument), ERANGE, ENOMEM (memory limit), EDISPOSED (use after dispose), EENGINE. */
  code: string;
  constructor(message: string, code = "EINVAL") {
    super(message);
    this.name = "EngineError";
    this.code = code;
  }
}

/** A checkpoint whose `model_type` the LLM layer does not implement. */
export class UnsupportedModelError extends Error {
  readonly modelType: string;
  constructor(modelType: string, message?: string) {
    super(message ?? `Unsupported model type '${modelType}'`);
    this.name = "UnsupportedModelError";
    this.modelType = modelType;
  }
}
