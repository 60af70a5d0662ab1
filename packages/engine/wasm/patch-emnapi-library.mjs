// emnapi's JS library (library_napi.js) is written for emscripten >= 3.1.3x; Debian ships emscripten 3.1.6,
// whose macro set lacks a few things the library uses. This rewrites those spots into forms 3.1.6 knows, so
// the unmodified node-addon-api binding links against emnapi there. Usage: node patch-emnapi-library.mjs IN OUT
import { readFileSync, writeFileSync } from "node:fs";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node patch-emnapi-library.mjs <library_napi.js> <out.js>");
  process.exit(2);
}
let s = readFileSync(input, "utf8");
const rules = [
  // 3.1.6 has no unsigned heap types in makeGetValue/makeSetValue; for stores the bits are the same, and the
  // loads of 'u8' only test a byte against 0.
  [/'u32'\)/g, "'i32')"],
  [/'u8'\)/g, "'i8')"],
  // POINTER_WASM_TYPE is newer than 3.1.6: wasm32 pointers are i32.
  [/POINTER_WASM_TYPE/g, "'i32'"],
  // getUnsharedTextDecoderView() is newer too: TextDecoder rejects views of a SharedArrayBuffer, so copy then.
  [
    /\{\{\{ getUnsharedTextDecoderView\('HEAPU8', 'ptr', 'end'\) \}\}\}/g,
    "(HEAPU8.buffer instanceof ArrayBuffer ? HEAPU8.subarray(ptr, end) : HEAPU8.slice(ptr, end))",
  ],
  // 3.1.6 reads a plain string value as an alias of another library symbol; '=' marks a literal initializer.
  [/^(\s+\$[A-Za-z]+): "(undefined|0)",$/gm, '$1: "=$2",'],
];
for (const [re, to] of rules) {
  if (!re.test(s)) {
    console.error(`patch-emnapi-library: pattern ${re} not found (emnapi version changed?)`);
    process.exit(1);
  }
  re.lastIndex = 0;
  s = s.replace(re, to);
}
writeFileSync(output, s);
