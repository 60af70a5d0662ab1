// Images in chat messages: data URLs are decoded here, paths only under --allowed-path, remote URLs never fetched
// (the server would become a proxy into the operator's network). Each image's size is read from its header and
// checked against the pixel cap before any decoding.
import sharp from "sharp";
import type { ImageSource } from "@hearth/serving";
import { HttpError, badParam } from "./errors.js";
import { allowedPath } from "./security.js";
import type { ServerSettings } from "./options.js";

const DATA_URL = /^data:(image\/[a-z0-9.+-]+)?(;[^,;]*)*?(;base64)?,/i;

async function checkPixels(input: Buffer | string, param: string, maxPixels: number): Promise<void> {
  let meta: { width?: number; height?: number };
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new HttpError(400, `${param} is not an image that can be decoded (${(e as Error).message})`, { param, code: "bad_image" });
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new HttpError(400, `${param} has no size in its header`, { param, code: "bad_image" });
  if (w * h > maxPixels)
    throw new HttpError(400, `${param} is ${w}x${h} = ${w * h} pixels, over this server's cap of ${maxPixels} (--max-image-pixels)`, {
      param, code: "too_large",
    });
}

/** An `image_url` part's URL as an ImageSource the backend can load. */
export async function imageSource(url: unknown, param: string, s: ServerSettings): Promise<ImageSource> {
  if (typeof url !== "string" || url === "") throw badParam(param, `'${param}' must be a data URL string`);
  const m = DATA_URL.exec(url);
  if (m) {
    if (!m[3]) throw badParam(param, `'${param}' must be a base64 data URL (data:image/png;base64,...)`);
    const payload = url.slice(m[0].length);
    if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw new HttpError(400, `'${param}' has invalid base64`, { param, code: "bad_image" });
    const data = Buffer.from(payload, "base64");
    if (data.length === 0) throw new HttpError(400, `'${param}' is empty`, { param, code: "bad_image" });
    await checkPixels(data, param, s.maxImagePixels);
    return { kind: "bytes", data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ...(m[1] ? { mimeType: m[1].toLowerCase() } : {}) };
  }
  if (/^https?:\/\//i.test(url))
    throw badParam(param, `remote image URLs are not fetched by this server; send the image as a data URL (data:image/png;base64,...)`);
  if (url.startsWith("file://") || url.startsWith("/") || url.startsWith(".") || url.startsWith("~")) {
    const path = allowedPath(url, s.allowedPaths, param);
    await checkPixels(path, param, s.maxImagePixels);
    return { kind: "path", path };
  }
  throw badParam(param, `'${param}' must be a data URL (data:image/png;base64,...)`);
}
