// Conv1d and Conv2d in MLX's channels-last layouts, through mx.conv1d / mx.conv2d.
import * as mx from "../../core/mx.js";
import type { MxArray } from "../../core/array.js";
import { EngineError } from "../../core/errors.js";
import { Module } from "../module.js";
import { randomUniform, requireOp } from "../engine-ops.js";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

function checkGroups(inChannels: number, outChannels: number, groups: number, op: string): void {
  if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0)
    throw new EngineError(`[${op}] inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
}

/**
 * 1-D convolution over [N, L, C_in] inputs. weight [C_out, K, C_in / groups] and bias [C_out]; weights drawn from
 * U(-s, s) with s = sqrt(1 / (C_in·K)) as MLX.
 */
export class Conv1d extends Module {
  weight: MxArray;
  declare bias?: MxArray;
  constructor(inChannels: number, outChannels: number, kernelSize: number,
              public stride = 1, public padding = 0, public dilation = 1, public groups = 1, bias = true) {
    super();
    checkGroups(inChannels, outChannels, groups, "Conv1d");
    const scale = Math.sqrt(1 / (inChannels * kernelSize));
    this.weight = randomUniform(-scale, scale, [outChannels, kernelSize, inChannels / groups]);
    if (bias) this.bias = mx.zeros([outChannels]);
  }
  forward(x: MxArray): MxArray {
    const y = requireOp("conv1d", "Conv1d")(x, this.weight, this.stride, this.padding, this.dilation, this.groups) as MxArray;
    return this.bias ? mx.add(y, this.bias) : y;
  }
  protected override describe(): string {
    const [o, k, i] = this.weight.shape;
    return `${i * this.groups}, ${o}, kernelSize=${k}, stride=${this.stride}, padding=${this.padding}`;
  }
}

/**
 * 2-D convolution over [N, H, W, C_in] inputs. weight [C_out, KH, KW, C_in / groups] and bias [C_out]; weights drawn
 * from U(-s, s) with s = sqrt(1 / (C_in·KH·KW)) as MLX. stride, padding, dilation: a number or [h, w].
 */
export class Conv2d extends Module {
  weight: MxArray;
  declare bias?: MxArray;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  constructor(inChannels: number, outChannels: number, kernelSize: Pair,
              stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1, public groups = 1, bias = true) {
    super();
    checkGroups(inChannels, outChannels, groups, "Conv2d");
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(stride);
    this.padding = pair(padding);
    this.dilation = pair(dilation);
    const scale = Math.sqrt(1 / (inChannels * kh * kw));
    this.weight = randomUniform(-scale, scale, [outChannels, kh, kw, inChannels / groups]);
    if (bias) this.bias = mx.zeros([outChannels]);
  }
  forward(x: MxArray): MxArray {
    const y = requireOp("conv2d", "Conv2d")(x, this.weight, this.stride, this.padding, this.dilation, this.groups) as MxArray;
    return this.bias ? mx.add(y, this.bias) : y;
  }
  protected override describe(): string {
    const [o, kh, kw, i] = this.weight.shape;
    return `${i * this.groups}, ${o}, kernelSize=[${kh}, ${kw}], stride=[${this.stride}], padding=[${this.padding}]`;
  }
}
