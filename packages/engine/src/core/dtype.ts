/** A dtype, as MLX's `mx.float32` etc. Compare with `===` (one instance per type). */
export class Dtype {
  constructor(
    readonly name: string,
    /** Index in the native enum. */
    readonly id: number,
    /** Bytes per element. */
    readonly size: number,
    readonly kind: "bool" | "uint" | "int" | "float",
  ) {}
  toString(): string {
    return `mlx.core.${this.name}`;
  }
}

// The order matches native/core/dtype.h.
export const bool_ = new Dtype("bool", 0, 1, "bool");
export const uint8 = new Dtype("uint8", 1, 1, "uint");
export const uint16 = new Dtype("uint16", 2, 2, "uint");
export const uint32 = new Dtype("uint32", 3, 4, "uint");
export const uint64 = new Dtype("uint64", 4, 8, "uint");
export const int8 = new Dtype("int8", 5, 1, "int");
export const int16 = new Dtype("int16", 6, 2, "int");
export const int32 = new Dtype("int32", 7, 4, "int");
export const int64 = new Dtype("int64", 8, 8, "int");
export const float16 = new Dtype("float16", 9, 2, "float");
export const bfloat16 = new Dtype("bfloat16", 10, 2, "float");
export const float32 = new Dtype("float32", 11, 4, "float");
export const float64 = new Dtype("float64", 12, 8, "float");

export const dtypes: readonly Dtype[] = [
  bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16, float32, float64,
];

export function dtypeFromId(id: number): Dtype {
  return dtypes[id];
}

/** Accepts a Dtype or its name ("float32", "bfloat16", "bool", ...). */
export function toDtype(d: Dtype | string): Dtype {
  if (d instanceof Dtype) return d;
  const found = dtypes.find((t) => t.name === d || (d === "bool_" && t === bool_));
  if (!found) throw new TypeError(`[dtype] unknown dtype '${String(d)}'`);
  return found;
}

export const isFloating = (d: Dtype) => d.kind === "float";
export const isInteger = (d: Dtype) => d.kind === "int" || d.kind === "uint";

type TypedArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

/** The TypedArray class that holds a dtype's raw elements (bool as Uint8Array, half types as Uint16Array). */
export function typedArrayFor(d: Dtype): { new (b: ArrayBuffer): TypedArray } {
  switch (d) {
    case bool_: case uint8: return Uint8Array;
    case uint16: case float16: case bfloat16: return Uint16Array;
    case uint32: return Uint32Array;
    case uint64: return BigUint64Array;
    case int8: return Int8Array;
    case int16: return Int16Array;
    case int32: return Int32Array;
    case int64: return BigInt64Array;
    case float32: return Float32Array;
    default: return Float64Array;
  }
}
export type { TypedArray };
