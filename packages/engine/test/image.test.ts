// Image preprocessing: Gemma3ImageProcessor's pixel values (transformers, 896×896) on PNG and JPEG inputs, the
// input forms and formats, EXIF orientation, alpha, the uint8 bilinear resampler, pan-and-scan, and bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { mx } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import {
  preprocessImage, preprocessImageWithCrops, decodeImage, resizeBilinearRgb, panAndScanCrops, imageProcessorConfig, ImageError,
} from "../src/lm/image.js";
import { findFixture } from "./helpers/fixtures.js";

const dir = findFixture("image-preprocess");
const ref = mx.load(join(dir, "reference.safetensors")) as Record<string, MxArray>;
const PNG = join(dir, "input.png"), JPG = join(dir, "input.jpg");

function diffs(a: Float32Array, b: Float32Array): { mean: number; max: number } {
  assert.equal(a.length, b.length);
  let s = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    s += d;
    if (d > m) m = d;
  }
  return { mean: s / a.length, max: m };
}

for (const [file, key] of [[PNG, "pixel_values_png"], [JPG, "pixel_values_jpg"]] as const) {
  test(`preprocessImage(${file.split("/").pop()}) matches Gemma3ImageProcessor at 896×896`, async (t) => {
    const pv = await preprocessImage(file, { size: 896, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    assert.deepEqual(pv.shape, [1, 3, 896, 896]);
    assert.equal(pv.dtype, mx.float32);
    const { mean, max } = diffs(pv.toFloat32Array(), ref[key].astype(mx.float32).toFloat32Array());
    t.diagnostic(`mean abs diff ${mean.toExponential(3)}, max ${max.toExponential(3)} (normalised units)`);
    assert.ok(mean <= 0.02, `mean abs diff ${mean}`);
    assert.ok(max <= 0.25, `max abs diff ${max}`);
    // In fact within one uint8 level (2/255 in these units) everywhere.
    assert.ok(max < 2 / 255 + 1e-3, `max abs diff ${max} is more than one uint8 level`);
  });
}

test("a path, a Buffer, a Uint8Array and a data: URL give the same pixels", async () => {
  const want = (await preprocessImage(PNG, { size: 64 })).toFloat32Array();
  const bytes = readFileSync(PNG);
  for (const input of [bytes, new Uint8Array(bytes), `data:image/png;base64,${bytes.toString("base64")}`]) {
    assert.deepEqual((await preprocessImage(input, { size: 64 })).toFloat32Array(), want);
  }
});

test("WebP, GIF (first frame), AVIF and TIFF decode; lossless ones equal the PNG", async () => {
  const base = await decodeImage(PNG);
  const lossless = [
    await sharp(PNG).webp({ lossless: true }).toBuffer(),
    await sharp(PNG).tiff({ compression: "lzw" }).toBuffer(),
  ];
  for (const b of lossless) assert.deepEqual((await decodeImage(b)).data, base.data);
  const avif = await decodeImage(await sharp(PNG).avif({ quality: 90 }).toBuffer());
  assert.equal(avif.width, 640);
  assert.equal(avif.height, 480);
  let err = 0;
  for (let i = 0; i < base.data.length; i++) err += Math.abs(avif.data[i] - base.data[i]);
  assert.ok(err / base.data.length < 8, `AVIF mean error ${err / base.data.length} levels`);
  const frame = (r: number, b: number) => sharp({ create: { width: 8, height: 6, channels: 3, background: { r, g: 0, b } } }).png().toBuffer();
  const gif = await sharp([await frame(255, 0), await frame(0, 255)], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const g = await decodeImage(gif);
  assert.deepEqual([g.width, g.height], [8, 6]);
  assert.deepEqual([...g.data.subarray(0, 3)], [255, 0, 0], "the first frame");
});

test("EXIF orientation is applied; alpha is composited on white; grayscale becomes RGB", async () => {
  const rotated = await sharp({ create: { width: 4, height: 2, channels: 3, background: "#00ff00" } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const r = await decodeImage(rotated);
  assert.deepEqual([r.width, r.height], [2, 4]);
  // Left column black, right column white, then orientation 6 (rotate 90° clockwise): top row black, bottom white.
  const raw = Buffer.from([0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]);
  const lr = await sharp(raw, { raw: { width: 2, height: 2, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
  const o = await decodeImage(lr);
  assert.deepEqual([...o.data], [0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
  const rgba = Buffer.from([255, 0, 0, 0, /**/ 0, 0, 255, 255, /**/ 0, 0, 0, 128]);
  const alpha = await decodeImage(await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } }).png().toBuffer());
  assert.deepEqual([...alpha.data.subarray(0, 6)], [255, 255, 255, 0, 0, 255]);
  for (const v of alpha.data.subarray(6, 9)) assert.ok(Math.abs(v - 127) <= 1, `half-transparent black on white: ${v}`);
  const gray = await decodeImage(await sharp(Buffer.from([10, 200]), { raw: { width: 2, height: 1, channels: 1 } }).png().toBuffer());
  assert.deepEqual([...gray.data], [10, 10, 10, 200, 200, 200]);
});

test("the bilinear resampler: pixel centres at (i + 0.5)·scale, uint8 rounding, antialiasing when shrinking", () => {
  const row = (vals: number[]) => ({ data: Uint8Array.from(vals.flatMap((v) => [v, v, v])), width: vals.length, height: 1 });
  assert.deepEqual([...resizeBilinearRgb(row([0, 255]), 4, 1).data].filter((_, i) => i % 3 === 0), [0, 64, 191, 255]);
  const same = row([3, 7, 250]);
  assert.deepEqual(resizeBilinearRgb(same, 3, 1).data, same.data);
  // Shrinking 4 → 2 widens the triangle to ±2 px around centres 1 and 3 (weights 3:3:1 and 1:3:3, clipped at the border).
  const half = resizeBilinearRgb(row([0, 80, 160, 240]), 2, 1);
  assert.deepEqual([...half.data].filter((_, i) => i % 3 === 0), [Math.round((3 * 0 + 3 * 80 + 1 * 160) / 7), Math.round((1 * 80 + 3 * 160 + 3 * 240) / 7)]);
  const col = { data: Uint8Array.from([0, 0, 0, 255, 255, 255]), width: 1, height: 2 };
  assert.deepEqual([...resizeBilinearRgb(col, 1, 4).data].filter((_, i) => i % 3 === 0), [0, 64, 191, 255]);
});

test("rescale and normalise with the given mean/std; preprocessor_config.json is read when present", async () => {
  const img = Buffer.from([0, 51, 255]);
  const png = await sharp(img, { raw: { width: 1, height: 1, channels: 3 } }).png().toBuffer();
  const a = (await preprocessImage(png, { size: 1, mean: 0, std: 1 })).toFloat32Array();
  assert.deepEqual([...a].map((v) => +v.toFixed(6)), [0, 0.2, 1]);
  const b = (await preprocessImage(png, { size: 1, mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2] })).toFloat32Array();
  [(0 - 0.1) / 0.5, (0.2 - 0.2) / 0.25, (1 - 0.3) / 2].forEach((v, i) => assert.ok(Math.abs(b[i] - v) < 1e-6));
  const folder = mkdtempSync(join(tmpdir(), "hearth-pp-"));
  assert.deepEqual(imageProcessorConfig(folder, 56), { size: 56, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], rescaleFactor: 1 / 255, panAndScan: false });
  writeFileSync(join(folder, "preprocessor_config.json"), JSON.stringify({
    size: { height: 448, width: 448 }, image_mean: [0.4, 0.4, 0.4], image_std: [0.2, 0.2, 0.2], do_pan_and_scan: true, pan_and_scan_max_num_crops: 3,
  }));
  const c = imageProcessorConfig(folder);
  assert.equal(c.size, 448);
  assert.deepEqual(c.mean, [0.4, 0.4, 0.4]);
  assert.deepEqual(c.panAndScan, { minCropSize: 256, maxNumCrops: 3, minRatioToActivate: 1.2 });
  await assert.rejects(preprocessImage(png, { mean: [1, 2] }), /mean must be a number or three numbers/);
  await assert.rejects(preprocessImage(png, { std: 0 }), /std must not contain 0/);
  await assert.rejects(preprocessImage(png, { size: 0 }), /size must be an integer/);
});

test("pan-and-scan: crops as Gemma3ImageProcessor (none for near-square or small images)", async () => {
  const blank = (width: number, height: number) => ({ data: new Uint8Array(width * height * 3), width, height });
  assert.equal(panAndScanCrops(blank(640, 480)).length, 2);
  assert.deepEqual(panAndScanCrops(blank(640, 480)).map((c) => [c.width, c.height]), [[320, 480], [320, 480]]);
  assert.equal(panAndScanCrops(blank(500, 480)).length, 0, "ratio below 1.2");
  assert.deepEqual(panAndScanCrops(blank(300, 1500)).map((c) => [c.width, c.height]), [[300, 375], [300, 375], [300, 375], [300, 375]]);
  assert.equal(panAndScanCrops(blank(400, 200)).length, 0, "crops would be under 256 px");
  assert.equal(panAndScanCrops(blank(2000, 500), { maxNumCrops: 3 }).length, 3);
  const r = await preprocessImageWithCrops(PNG, { size: 32, panAndScan: true });
  assert.equal(r.numCrops, 2);
  assert.deepEqual(r.pixelValues.shape, [3, 3, 32, 32]);
  assert.deepEqual(r.originalSize, { width: 640, height: 480 });
});

/** A PNG whose header claims the given size but whose data holds one row's worth: it could never decode. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const idat = deflateSync(Buffer.alloc(1 + Math.min(width, 64) * 3));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}

test("bad input: clear ImageErrors, no crash", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "hearth-bad-img-"));
  const expectErr = async (input: Parameters<typeof preprocessImage>[0], re: RegExp, opts = {}) => {
    await assert.rejects(preprocessImage(input, opts), (e: unknown) => e instanceof ImageError && re.test((e as Error).message));
  };
  await expectErr(join(tmp, "missing.png"), /Image file not found: .*missing\.png/);
  await expectErr(tmp, /Not a file/);
  const txt = join(tmp, "notes.png");
  writeFileSync(txt, "this is not an image at all");
  await expectErr(txt, /not a supported image/);
  const png = readFileSync(PNG);
  const truncated = join(tmp, "truncated.png");
  writeFileSync(truncated, png.subarray(0, png.length >> 1));
  await expectErr(truncated, /Cannot decode .*truncated\.png \(png\)/);
  const jpg = readFileSync(JPG);
  await expectErr(jpg.subarray(0, jpg.length >> 1), /Cannot decode image buffer \(jpeg\)/);
  await expectErr(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'), /Unsupported image format 'svg'/);
  const bmp = Buffer.alloc(64);
  bmp.write("BM", 0);
  await expectErr(bmp, /not a supported image/);
  // 30000×30000 (9·10⁸ pixels): refused from the header, before any pixel is decoded (there are none to decode).
  const huge = join(tmp, "huge.png");
  writeFileSync(huge, pngHeaderOnly(30000, 30000));
  const t0 = performance.now();
  await expectErr(huge, /is 30000×30000 = 900000000 pixels, over the limit of 178956970/);
  assert.ok(performance.now() - t0 < 2000);
  await expectErr(PNG, /over the limit of 1000 \(option maxPixels\)/, { maxPixels: 1000 });
  await expectErr(Buffer.alloc(0), /Empty image buffer/);
  await expectErr("data:image/png;base64,", /no image data/);
  await expectErr("data:text/plain;base64,aGVsbG8=", /media type 'text\/plain', not an image/);
  await expectErr("data:image/png,rawtext", /Only base64 data URLs/);
  await expectErr("data:nonsense", /Malformed data URL/);
  await expectErr(42 as never, /An image is a file path/);
});
