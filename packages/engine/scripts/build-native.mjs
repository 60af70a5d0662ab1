// `pnpm run build:native`: compiles the native addon with cmake-js when a C++ toolchain is present. Without
// cmake or a C++ compiler it skips with a message and exits 0: the engine then runs on the WebAssembly build
// that ships in wasm/prebuilt (slower; install cmake and g++ and rerun this for the native one).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return true;
  }
  return false;
}
const compiler = process.env.CXX ?? ["g++", "c++", "clang++"].find(onPath);
const missing = [onPath("cmake") ? null : "cmake", compiler ? null : "a C++ compiler (g++ or clang++)"].filter(Boolean);
if (missing.length > 0) {
  console.log(
    `build:native skipped: ${missing.join(" and ")} not found on PATH. Hearth will use its WebAssembly engine ` +
      `(wasm/prebuilt). For the faster native engine install cmake and g++ (Debian: apt-get install cmake g++) ` +
      `and run: pnpm --filter @hearth/engine run build:native`,
  );
  process.exit(0);
}
const cmakeJs = createRequire(import.meta.url).resolve("cmake-js/bin/cmake-js");
const r = spawnSync(process.execPath, [cmakeJs, "compile", "--out", "build", "--CDCMAKE_BUILD_TYPE=Release"], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
