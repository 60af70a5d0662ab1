// Image arguments: a path inside a root, a data: URL, or base64 with a mime type. Each is read into bytes here
// (so the backend never opens a path the face did not confine) and checked against the byte and pixel caps.
import { open } from "node:fs/promises";
import { lm } from "@hearth/engine";
import { ServingError } from "@hearth/serving";
import type { RootSet } from "./roots.js";

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
}

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

function decodeBase64(s: string, param: string, limits: ImageLimits): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  if (!BASE64.test(clean) || clean.length % 4 === 1)
    throw new ServingError("bad_image", `${param}: not valid base64. Send a data: URL (data:image/png;base64,…), base64 with mimeType, or a path inside a root`, { param });
  if (clean.length * 3 / 4 > limits.maxImageBytes + 3)
    throw new ServingError("too_large", `${param}: the image is over ${limits.maxImageBytes} bytes (the server's --max-image-bytes); send a smaller image`, { param });
  return new Uint8Array(Buffer.from(clean, "base64"));
}

/** Bytes of the image argument, after confinement and the byte cap; the pixel cap and decodability are checked too. */
export async function readImageArg(image: string, mimeType: string | undefined, roots: RootSet, limits: ImageLimits, param = "image"): Promise<{ data: Uint8Array; mimeType?: string }> {
  let data: Uint8Array;
  let mime = mimeType;
  if (image.startsWith("data:")) {
    const m = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(image);
    if (!m || !m[2]) throw new ServingError("bad_image", `${param}: only base64 data: URLs are accepted (data:image/png;base64,…)`, { param });
    mime = m[1] || mime;
    data = decodeBase64(m[3]!, param, limits);
  } else if (mimeType !== undefined || (image.length > 512 && BASE64.test(image))) {
    data = decodeBase64(image, param, limits);
  } else {
    const path = await roots.resolve(image, param);
    const fh = await open(path, "r").catch(() => {
      throw new ServingError("invalid_request", `${param}: cannot open ${image}`, { param });
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ServingError("bad_image", `${param}: ${image} is not a file`, { param });
      if (st.size > limits.maxImageBytes)
        throw new ServingError("too_large", `${param}: ${image} is ${st.size} bytes, over the server's --max-image-bytes ${limits.maxImageBytes}; send a smaller image`, { param });
      data = new Uint8Array(await fh.readFile());
    } finally {
      await fh.close();
    }
  }
  if (data.length === 0) throw new ServingError("bad_image", `${param}: the image is empty`, { param });
  try {
    // The header's size is checked before any pixel is decoded, so a decompression bomb costs nothing.
    await lm.decodeImage(data, { maxPixels: limits.maxImagePixels });
  } catch (e) {
    const msg = (e as Error).message;
    if (/over the limit/.test(msg))
      throw new ServingError("too_large", `${param}: ${msg.replace(/\(option maxPixels\)/, "(the server's --max-image-pixels)")}; downscale the image and retry`, { param });
    throw new ServingError("bad_image", `${param}: the image cannot be decoded (${msg.split("\n")[0]}). Send a PNG, JPEG, WebP or GIF`, { param });
  }
  return mime !== undefined ? { data, mimeType: mime } : { data };
}
