// model_type → model module, imported lazily so loading one model does not load the others.
import { UnsupportedModelError } from "../../core/errors.js";
import type { Json } from "../config.js";
import type { LanguageModel } from "../model.js";

type Factory = (config: Json) => Promise<LanguageModel>;

const registry: Record<string, Factory> = {
  gemma3_text: async (config) => {
    const m = await import("./gemma3-text.js");
    return new m.Model(m.modelArgs(config));
  },
  // Gemma3ForConditionalGeneration: SigLIP vision tower + projector + the text model (text-only input runs the
  // text model unchanged).
  gemma3: async (config) => {
    const m = await import("./gemma3.js");
    return new m.Model(m.modelArgs(config));
  },
};

export const supportedModelTypes = (): string[] => Object.keys(registry);

export async function createModel(config: Json): Promise<LanguageModel> {
  const type = config.model_type;
  const make = registry[type];
  if (!make)
    throw new UnsupportedModelError(
      String(type),
      `Unsupported model_type '${type}': Hearth supports ${supportedModelTypes().join(", ")}`,
    );
  return make(config);
}
