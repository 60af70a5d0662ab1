// Image preprocessing for vision-language models (Gemma3ImageProcessor's steps): decode with sharp (EXIF
// orientation, alpha flattened on white, RGB uint8), resize to size×size with our own uint8 bilinear resampler
// (the fixed-point, separable, horizontal-then-vertical scheme of Pillow's BILINEAR, which transformers uses, so
// the values land on the same uint8 levels), rescale by 1/255, normalise with mean/std, NCHW float32.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as mx from "../core/mx.js";
import type { MxArray } from "../core/array.js";

/** A decode or validation failure: missing file, not an image, unsupported or oversized, truncated. */
export class ImageError extends Error {
  override name = "ImageError";
  /** Stable code the faces map (e.g. HTTP 400). */
  readonly code = "bad_image";
}

export type ImageInput = string | Buffer | Uint8Array;

export interface PreprocessOptions {
  /** Output side in pixels (Gemma 3: 896). Default 896. */
  size?: number;
  /** Per-channel mean (default 0.5 each). A number applies to all three channels. */
  mean?: number | number[];
  /** Per-channel std (default 0.5 each). */
  std?: number | number[];
  /** Multiplies the uint8 values before normalising (default 1/255). */
  rescaleFactor?: number;
  /** Refuse images with more pixels than this, from the header, before decoding (default 178,956,970 as Pillow). */
  maxPixels?: number;
  /** Gemma 3 pan-and-scan: extra crops of elongated images after the full view. Default off. */
  panAndScan?: boolean | PanAndScanOptions;
}

export interface PanAndScanOptions {
  minCropSize?: number;
  maxNumCrops?: number;
  minRatioToActivate?: number;
}

/** The raw decode: RGB uint8, height × width × 3. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export const DEFAULT_MAX_PIXELS = 178_956_970;
const SUPPORTED = new Set(["png", "jpeg", "webp", "gif", "heif", "avif", "tiff"]);

// sharp is loaded on first use, so the engine works (without image support) where it is not installed.
type SharpModule = (typeof import("sharp"))["default"];
let sharpModule: Promise<SharpModule> | undefined;
async function getSharp(): Promise<SharpModule> {
  sharpModule ??= import("sharp").then((m) => m.default).catch((e) => {
    sharpModule = undefined;
    throw new ImageError(`Image support needs the 'sharp' package, which could not be loaded: ${(e as Error).message}`);
  });
  return sharpModule;
}

/** A path, a Buffer, or a data: URL → the encoded bytes (or the path for sharp to read). */
function resolveInput(image: ImageInput): Buffer | string {
  if (typeof image === "string") {
    if (image.startsWith("data:")) {
      const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(image);
      if (!m) throw new ImageError("Malformed data URL: expected data:image/<type>;base64,<data>");
      if (m[1] && !m[1].startsWith("image/")) throw new ImageError(`data URL has media type '${m[1]}', not an image`);
      if (!m[2].split(";").includes("base64")) throw new ImageError("Only base64 data URLs are supported for images");
      const bytes = Buffer.from(m[3], "base64");
      if (!bytes.length) throw new ImageError("data URL holds no image data");
      return bytes;
    }
    if (!existsSync(image)) throw new ImageError(`Image file not found: ${image}`);
    if (!statSync(image).isFile()) throw new ImageError(`Not a file: ${image}`);
    return readFileSync(image);
  }
  if (image instanceof Uint8Array) {
    if (!image.length) throw new ImageError("Empty image buffer");
    return Buffer.isBuffer(image) ? image : Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  }
  throw new ImageError("An image is a file path, a Buffer/Uint8Array or a data:image/...;base64 URL");
}

function describe(image: ImageInput): string {
  if (typeof image === "string") return image.startsWith("data:") ? "data URL" : image;
  return "image buffer";
}

/**
 * Decodes an image to RGB uint8: EXIF orientation applied, first frame of animations, alpha composited on white.
 * The dimensions are checked against maxPixels from the header before any pixel is decoded.
 */
export async function decodeImage(image: ImageInput, opts: { maxPixels?: number } = {}): Promise<RgbImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const input = resolveInput(image);
  const sharp = await getSharp();
  const what = describe(image);
  let meta;
  try {
    meta = await sharp(input, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (e) {
    throw new ImageError(`Cannot read ${what}: not a supported image (${(e as Error).message})`);
  }
  const format = String(meta.format ?? "unknown");
  if (!SUPPORTED.has(format))
    throw new ImageError(`Unsupported image format '${format}' in ${what}: supported are PNG, JPEG, WebP, GIF, AVIF and TIFF`);
  const w = meta.width ?? 0, h = meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new ImageError(`Cannot read ${what}: the header gives no image size`);
  if (w * h > maxPixels)
    throw new ImageError(`Image ${what} is ${w}×${h} = ${w * h} pixels, over the limit of ${maxPixels} (option maxPixels)`);
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, pages: 1, failOn: "error", sequentialRead: true })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3)
      throw new Error(`unexpected decode layout (${info.channels} channels, ${data.length} bytes)`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`Cannot decode ${what} (${format}): ${(e as Error).message}`);
  }
}

// Pillow's fixed-point resampling: weights scaled by 2^22, rounding bias of half a unit, clip to uint8.
const PRECISION_BITS = 22;

interface Coeffs {
  bounds: Int32Array;  // [xmin, count] per output index
  weights: Int32Array;  // ksize per output index
  ksize: number;
}

/** Triangle-filter weights for inSize → outSize (support widened by the scale when shrinking, as Pillow). */
function bilinearCoeffs(inSize: number, outSize: number, in0 = 0, in1 = inSize): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? k[x] / ww : 0;
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

const clip8 = (v: number): number => {
  const r = v >> PRECISION_BITS;  // sums stay below 2^31: 255 · 2^22 · (1 + rounding)
  return r < 0 ? 0 : r > 255 ? 255 : r;
};

/**
 * Bilinear resize of an RGB uint8 image (pixel centres at (i + 0.5)·scale; antialiased when shrinking), in two
 * uint8 passes, horizontal then vertical, as Pillow's Image.resize(..., BILINEAR).
 */
export function resizeBilinearRgb(img: RgbImage, outW: number, outH: number): RgbImage {
  const { width: inW, height: inH } = img;
  let src = img.data;
  let curW = inW;
  if (outW !== inW) {
    const { bounds, weights, ksize } = bilinearCoeffs(inW, outW);
    const tmp = new Uint8Array(outW * inH * 3);
    const half = 1 << (PRECISION_BITS - 1);
    for (let y = 0; y < inH; y++) {
      const row = y * inW * 3, orow = y * outW * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2], n = bounds[xx * 2 + 1], kb = xx * ksize;
        let s0 = half, s1 = half, s2 = half;
        for (let x = 0; x < n; x++) {
          const w = weights[kb + x], p = row + (xmin + x) * 3;
          s0 += src[p] * w;
          s1 += src[p + 1] * w;
          s2 += src[p + 2] * w;
        }
        const o = orow + xx * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    curW = outW;
  }
  if (outH !== inH) {
    const { bounds, weights, ksize } = bilinearCoeffs(inH, outH);
    const out = new Uint8Array(curW * outH * 3);
    const half = 1 << (PRECISION_BITS - 1);
    const stride = curW * 3;
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bounds[yy * 2], n = bounds[yy * 2 + 1], kb = yy * ksize;
      const orow = yy * stride;
      for (let i = 0; i < stride; i++) {
        let s = half;
        for (let y = 0; y < n; y++) s += src[(ymin + y) * stride + i] * weights[kb + y];
        out[orow + i] = clip8(s);
      }
    }
    src = out;
  }
  return { data: src, width: curW, height: outH };
}

function channelTriple(v: number | number[] | undefined, fallback: number, name: string): number[] {
  if (v === undefined) return [fallback, fallback, fallback];
  const arr = typeof v === "number" ? [v, v, v] : v;
  if (arr.length !== 3 || arr.some((x) => typeof x !== "number" || !Number.isFinite(x)))
    throw new ImageError(`${name} must be a number or three numbers, got ${JSON.stringify(v)}`);
  if (name === "std" && arr.some((x) => x === 0)) throw new ImageError("std must not contain 0");
  return arr;
}

/** Writes RGB uint8 HWC as normalised float32 CHW into out at offset. */
function normalizeInto(img: RgbImage, out: Float32Array, offset: number, mean: number[], std: number[], rescale: number): void {
  const plane = img.width * img.height;
  const lut = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (Math.fround(v * rescale) - mean[c]) / std[c]));
  const d = img.data;
  const l0 = lut[0], l1 = lut[1], l2 = lut[2];
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[offset + i] = l0[d[p]];
    out[offset + plane + i] = l1[d[p + 1]];
    out[offset + 2 * plane + i] = l2[d[p + 2]];
  }
}

function cropRgb(img: RgbImage, x0: number, y0: number, w: number, h: number): RgbImage {
  const cw = Math.min(w, img.width - x0), ch = Math.min(h, img.height - y0);
  const data = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++)
    data.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + cw) * 3), y * cw * 3);
  return { data, width: cw, height: ch };
}

/** Gemma3ImageProcessor.pan_and_scan: crops of an elongated image (none when it is close to square or small). */
export function panAndScanCrops(img: RgbImage, opts: PanAndScanOptions = {}): RgbImage[] {
  const { minCropSize = 256, maxNumCrops = 4, minRatioToActivate = 1.2 } = opts;
  const { width, height } = img;
  let nw: number, nh: number;
  if (width >= height) {
    if (width / height < minRatioToActivate) return [];
    nw = Math.floor(width / height + 0.5);
    nw = Math.min(Math.floor(width / minCropSize), nw);
    nw = Math.min(maxNumCrops, Math.max(2, nw));
    nh = 1;
  } else {
    if (height / width < minRatioToActivate) return [];
    nh = Math.floor(height / width + 0.5);
    nh = Math.min(Math.floor(height / minCropSize), nh);
    nh = Math.min(maxNumCrops, Math.max(2, nh));
    nw = 1;
  }
  const cw = Math.ceil(width / nw), ch = Math.ceil(height / nh);
  if (Math.min(cw, ch) < minCropSize) return [];
  const crops: RgbImage[] = [];
  for (let i = 0; i < nh; i++) for (let j = 0; j < nw; j++) crops.push(cropRgb(img, j * cw, i * ch, cw, ch));
  return crops;
}

export interface PreprocessedImage {
  /** float32 [1 + numCrops, 3, size, size]: the full image, then the pan-and-scan crops. */
  pixelValues: MxArray;
  numCrops: number;
  /** The decoded size before resizing. */
  originalSize: { width: number; height: number };
}

/** Decode, (pan-and-scan), resize, rescale and normalise one image; see preprocessImage. */
export async function preprocessImageWithCrops(image: ImageInput, opts: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const size = opts.size ?? 896;
  if (!Number.isInteger(size) || size < 1 || size > 8192) throw new ImageError(`size must be an integer in [1, 8192], got ${size}`);
  const mean = channelTriple(opts.mean, 0.5, "mean"), std = channelTriple(opts.std, 0.5, "std");
  const rescale = opts.rescaleFactor ?? 1 / 255;
  const rgb = await decodeImage(image, { maxPixels: opts.maxPixels });
  const pas = opts.panAndScan;
  const crops = pas ? panAndScanCrops(rgb, typeof pas === "object" ? pas : {}) : [];
  const views = [rgb, ...crops];
  const plane = 3 * size * size;
  const out = new Float32Array(views.length * plane);
  views.forEach((v, i) => normalizeInto(resizeBilinearRgb(v, size, size), out, i * plane, mean, std, rescale));
  return {
    pixelValues: mx.array(out, mx.float32, [views.length, 3, size, size]),
    numCrops: crops.length,
    originalSize: { width: rgb.width, height: rgb.height },
  };
}

/**
 * An image (path, Buffer, or data:image/...;base64 URL; PNG, JPEG, WebP, GIF first frame, AVIF, TIFF) →
 * float32 pixel values [1, 3, size, size] (NCHW, as transformers' pixel_values); with panAndScan the crops
 * follow the full view: [1 + crops, 3, size, size].
 */
export async function preprocessImage(image: ImageInput, opts: PreprocessOptions = {}): Promise<MxArray> {
  return (await preprocessImageWithCrops(image, opts)).pixelValues;
}

/** The preprocessing settings of a model folder (preprocessor_config.json when present, else Gemma 3's). */
export interface ImageProcessorSettings {
  size: number;
  mean: number[];
  std: number[];
  rescaleFactor: number;
  panAndScan: false | PanAndScanOptions;
}

export function imageProcessorConfig(folder: string, fallbackSize?: number): ImageProcessorSettings {
  const p = join(folder, "preprocessor_config.json");
  let cfg: Record<string, any> = {};
  if (existsSync(p)) {
    try {
      cfg = JSON.parse(readFileSync(p, "utf8"));
    } catch (e) {
      throw new ImageError(`Malformed JSON in ${p}: ${(e as Error).message}`);
    }
  }
  const s = cfg.size;
  const size = typeof s === "number" ? s : s?.height ?? s?.shortest_edge ?? fallbackSize ?? 896;
  return {
    size,
    mean: cfg.do_normalize === false ? [0, 0, 0] : cfg.image_mean ?? [0.5, 0.5, 0.5],
    std: cfg.do_normalize === false ? [1, 1, 1] : cfg.image_std ?? [0.5, 0.5, 0.5],
    rescaleFactor: cfg.do_rescale === false ? 1 : cfg.rescale_factor ?? 1 / 255,
    panAndScan: cfg.do_pan_and_scan
      ? {
          minCropSize: cfg.pan_and_scan_min_crop_size ?? 256,
          maxNumCrops: cfg.pan_and_scan_max_num_crops ?? 4,
          minRatioToActivate: cfg.pan_and_scan_min_ratio_to_activate ?? 1.2,
        }
      : false,
  };
}
