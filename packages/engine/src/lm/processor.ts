// Gemma3Processor: a tokenizer plus the image preprocessing. Each `<start_of_image>` of a prompt becomes
// "\n\n<start_of_image>" + mm_tokens_per_image × "<image_soft_token>" + "<end_of_image>\n\n" (after the
// pan-and-scan rewrite when crops are on), and the images become pixel values [n, 3, size, size].
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";
import { readJson, type Json } from "./config.js";
import { resolveModelPath } from "./hub.js";
import { loadTokenizer, type Tokenizer, type ChatMessage, type ChatContentPart } from "./tokenizer.js";
import { imageProcessorConfig, preprocessImageWithCrops, ImageError, type ImageInput, type ImageProcessorSettings, type PanAndScanOptions } from "./image.js";

export interface ProcessorOptions {
  /** Image side (default: preprocessor_config.json, else the vision tower's image_size, else 896). */
  size?: number;
  mean?: number[];
  std?: number[];
  rescaleFactor?: number;
  /** Pan-and-scan crops (default: preprocessor_config.json's do_pan_and_scan, else off). */
  panAndScan?: boolean | PanAndScanOptions;
  /** Image soft tokens per image (default: config.json's mm_tokens_per_image, else 256). */
  mmTokensPerImage?: number;
  maxPixels?: number;
}

export interface ProcessedInputs {
  /** Token ids [1, L]. */
  inputIds: MxArray;
  /** [n, 3, size, size] for the n image views (each image, then its crops), or undefined without images. */
  pixelValues?: MxArray;
  /** The prompt after image-token expansion. */
  prompt: string;
  /** Crops per image (0 unless pan-and-scan). */
  numCrops: number[];
}

/** An image part of a chat message: `{type: "image", image}` (also `url`/`path`), or OpenAI's image_url. */
function imageOfPart(part: ChatContentPart): ImageInput | undefined {
  if (part.type === "image") {
    const src = part.image ?? part.url ?? part.path;
    return src as ImageInput | undefined;
  }
  if (part.type === "image_url") {
    const u = part.image_url as { url?: string } | string | undefined;
    return typeof u === "string" ? u : u?.url;
  }
  return undefined;
}

export class Gemma3Processor {
  readonly boiToken: string;
  readonly eoiToken: string;
  readonly imageToken: string;
  readonly imageTokenId: number;
  readonly mmTokensPerImage: number;
  readonly imageOptions: ImageProcessorSettings & { maxPixels?: number };

  constructor(readonly tokenizer: Tokenizer, opts: ProcessorOptions & { imageDefaults?: ImageProcessorSettings } = {}) {
    const extra = tokenizer.specialTokens.extra;
    this.boiToken = extra.boi_token ?? "<start_of_image>";
    this.eoiToken = extra.eoi_token ?? "<end_of_image>";
    this.imageToken = extra.image_token ?? "<image_soft_token>";
    const id = tokenizer.tokenToId(this.imageToken);
    if (id === undefined) throw new Error(`The tokenizer has no image token ${this.imageToken}: not a Gemma 3 vision tokenizer`);
    if (tokenizer.tokenToId(this.boiToken) === undefined) throw new Error(`The tokenizer has no ${this.boiToken} token`);
    this.imageTokenId = id;
    this.mmTokensPerImage = opts.mmTokensPerImage ?? 256;
    const d = opts.imageDefaults ?? { size: 896, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], rescaleFactor: 1 / 255, panAndScan: false };
    const pas = opts.panAndScan === undefined ? d.panAndScan : opts.panAndScan === true ? {} : opts.panAndScan;
    this.imageOptions = {
      size: opts.size ?? d.size,
      mean: opts.mean ?? d.mean,
      std: opts.std ?? d.std,
      rescaleFactor: opts.rescaleFactor ?? d.rescaleFactor,
      panAndScan: pas || false,
      maxPixels: opts.maxPixels,
    };
  }

  /** What one `<start_of_image>` expands to. */
  get fullImageSequence(): string {
    return `\n\n${this.boiToken}${this.imageToken.repeat(this.mmTokensPerImage)}${this.eoiToken}\n\n`;
  }

  /**
   * Expands the image placeholders of a prompt: with crops, `<start_of_image>` first becomes Gemma3Processor's
   * "Here is the original image ... and here are some crops ..." text; then every `<start_of_image>` becomes the
   * full image sequence.
   */
  expandImageTokens(prompt: string, numCrops: number[]): string {
    const starts: number[] = [];
    for (let i = prompt.indexOf(this.boiToken); i >= 0; i = prompt.indexOf(this.boiToken, i + this.boiToken.length)) starts.push(i);
    if (starts.length !== numCrops.length)
      throw new Error(`The prompt has ${starts.length} ${this.boiToken} placeholder(s) for ${numCrops.length} image(s)`);
    for (let k = starts.length - 1; k >= 0; k--) {
      const n = numCrops[k];
      if (!n) continue;
      const text = `Here is the original image ${this.boiToken} and here are some crops to help you see better ` + Array(n).fill(this.boiToken).join(" ");
      prompt = prompt.slice(0, starts[k]) + text + prompt.slice(starts[k] + this.boiToken.length);
    }
    return prompt.split(this.boiToken).join(this.fullImageSequence);
  }

  /** Preprocesses images: pixel values of every view (each image then its crops) and crops per image. */
  async processImages(images: readonly ImageInput[]): Promise<{ pixelValues: MxArray; numCrops: number[] }> {
    if (!images.length) throw new ImageError("No images to process");
    const done = [];
    for (const img of images) done.push(await preprocessImageWithCrops(img, this.imageOptions));
    const pixelValues = done.length === 1 ? done[0].pixelValues : mx.concatenate(done.map((d) => d.pixelValues), 0);
    return { pixelValues, numCrops: done.map((d) => d.numCrops) };
  }

  /**
   * Chat messages whose content parts may be images ({type: "image", image: path | Buffer | data URL}) →
   * the prompt rendered with the chat template (generation prompt added) and the images in order.
   */
  renderMessages(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean; images?: readonly ImageInput[] } = {}): { prompt: string; images: ImageInput[] } {
    const images: ImageInput[] = [];
    // Parts without a source ({type: "image"}, as HF processors take them) use opts.images in order.
    const pending = [...(opts.images ?? [])];
    const clean = messages.map((m) => {
      if (!Array.isArray(m.content)) return m;
      return {
        ...m,
        content: m.content.map((part) => {
          if (part.type !== "image" && part.type !== "image_url") return part;
          const src = imageOfPart(part) ?? pending.shift();
          if (src === undefined) throw new ImageError(`An image part of a '${m.role}' message has no image (give {type: "image", image: path | Buffer | data URL}, or pass images)`);
          images.push(src);
          return { type: "image" };
        }),
      };
    });
    if (pending.length) throw new ImageError(`${pending.length} image(s) given beyond the image parts of the messages`);
    const prompt = this.tokenizer.applyChatTemplate(clean, { addGenerationPrompt: opts.addGenerationPrompt ?? true, tokenize: false });
    return { prompt, images };
  }

  /**
   * Text (with one `<start_of_image>` per image; without any, one placeholder per image is put first) or chat
   * messages, plus images → token ids and pixel values ready for model.forward.
   */
  async process(input: { text?: string; messages?: readonly ChatMessage[]; images?: readonly ImageInput[] }): Promise<ProcessedInputs> {
    let prompt: string;
    let images = [...(input.images ?? [])];
    if (input.messages) {
      const r = this.renderMessages(input.messages, { images });
      prompt = r.prompt;
      images = r.images;
    } else {
      prompt = input.text ?? "";
      if (images.length && !prompt.includes(this.boiToken)) prompt = Array(images.length).fill(this.boiToken).join(" ") + prompt;
    }
    let pixelValues: MxArray | undefined;
    let numCrops: number[] = [];
    if (images.length) {
      ({ pixelValues, numCrops } = await this.processImages(images));
    }
    const expanded = this.expandImageTokens(prompt, numCrops);
    // A rendered chat template already starts with <bos>; plain text gets it from the tokenizer.
    const bos = this.tokenizer.specialTokens.bos;
    const ids = this.tokenizer.encode(expanded, { addSpecialTokens: !(bos && expanded.startsWith(bos)) });
    return { inputIds: mx.array([ids], mx.int32), pixelValues, prompt: expanded, numCrops };
  }
}

/** A model folder (or hub id) → its Gemma3Processor: tokenizer, config.json and preprocessor_config.json. */
export async function loadProcessor(pathOrHubId: string, opts: ProcessorOptions = {}): Promise<Gemma3Processor> {
  const path = resolveModelPath(pathOrHubId);
  const cfgPath = join(path, "config.json");
  const config: Json = existsSync(cfgPath) ? readJson(cfgPath) : {};
  const tokenizer = await loadTokenizer(path);
  const imageDefaults = imageProcessorConfig(path, config.vision_config?.image_size);
  const processor = new Gemma3Processor(tokenizer, { mmTokensPerImage: config.mm_tokens_per_image, ...opts, imageDefaults });
  const want = config.image_token_index ?? config.image_token_id;
  if (want !== undefined && want !== processor.imageTokenId)
    throw new Error(`The tokenizer's ${processor.imageToken} is id ${processor.imageTokenId} but config.json says image_token_index ${want}`);
  return processor;
}
