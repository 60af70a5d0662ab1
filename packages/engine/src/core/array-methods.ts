// Attaches MLX's array methods and properties to the native array class. Methods call the free functions,
// so each op is defined once.
import { ArrayClass, item, tolist, toFloat32Array, toTypedArray, type MxArray } from "./array.js";
import { dtypeFromId } from "./dtype.js";
import * as ew from "./ops-elementwise.js";
import * as layout from "./ops-layout.js";
import * as red from "./ops-reduce.js";
import * as linalg from "./ops-linalg.js";
import * as scan from "./ops-sort-scan.js";
import * as indexing from "./ops-indexing.js";

const proto = ArrayClass.prototype as unknown as Record<string, unknown>;

function method(name: string, fn: ((a: MxArray, ...args: any[]) => unknown) | undefined): void {
  if (!fn) return;  // a family not built yet
  Object.defineProperty(proto, name, {
    value: function (this: MxArray, ...args: unknown[]) { return fn(this, ...args); },
    writable: true, configurable: true,
  });
}
function getter(name: string, fn: (a: MxArray) => unknown): void {
  Object.defineProperty(proto, name, { get: function (this: MxArray) { return fn(this); }, configurable: true });
}

getter("shape", (a) => a._shape());
getter("dtype", (a) => dtypeFromId(a._dtype()));
getter("size", (a) => a._size());
getter("ndim", (a) => a._ndim());
getter("nbytes", (a) => a._nbytes());
getter("itemsize", (a) => dtypeFromId(a._dtype()).size);
getter("disposed", (a) => a._disposed());
getter("T", (a) => layout.transpose(a));
method("item", item);
method("tolist", tolist);
method("toTypedArray", toTypedArray);
method("toFloat32Array", toFloat32Array);
method("dispose", (a) => a._dispose());

for (const name of [
  "add", "subtract", "multiply", "divide", "floorDivide", "remainder", "power", "maximum", "minimum", "equal",
  "notEqual", "less", "lessEqual", "greater", "greaterEqual", "logicalAnd", "logicalOr", "logicalNot", "abs",
  "negative", "sign", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "square", "reciprocal",
  "sin", "cos", "tanh", "sigmoid", "erf", "floor", "ceil", "round", "isnan", "isinf", "clip",
] as const)
  method(name, (ew as Record<string, any>)[name]);
for (const name of [
  "astype", "reshape", "flatten", "transpose", "swapaxes", "moveaxis", "expandDims", "squeeze", "broadcastTo",
] as const)
  method(name, (layout as Record<string, any>)[name]);
for (const name of ["sum", "mean", "prod", "max", "min", "all", "any", "argmax", "argmin", "logsumexp", "std", "softmax"])
  method(name, (red as Record<string, any>)[name]);
method("var", red.variance);
method("matmul", (linalg as Record<string, any>).matmul);
method("cumsum", (scan as Record<string, any>).cumsum);
method("cumprod", (scan as Record<string, any>).cumprod);
method("cummax", (scan as Record<string, any>).cummax);
method("cummin", (scan as Record<string, any>).cummin);
method("take", (indexing as Record<string, any>).take);
method("split", (indexing as Record<string, any>).split);
for (const name of ["slice", "sliceUpdate", "takeAlongAxis", "putAlongAxis", "diag", "diagonal", "pad", "repeat"])
  method(name, (indexing as Record<string, any>)[name]);

Object.defineProperty(proto, Symbol.for("nodejs.util.inspect.custom"), {
  value: function (this: MxArray) {
    if (this._disposed()) return "array(<disposed>)";
    const body = this.size <= 1000 ? JSON.stringify(this.tolist()) : `<${this.size} elements>`;
    return `array(${body}, shape=[${this.shape.join(", ")}], dtype=${this.dtype.name})`;
  },
});
