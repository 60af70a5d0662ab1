// Learning-rate schedules as mlx.optimizers: functions of the step counter, usable as an optimizer's learningRate.
import * as mx from "../core/mx.js";
import { isArray, type MxArray } from "../core/array.js";
import { EngineError } from "../core/errors.js";

/** A schedule: step (array or number) → value (float32 scalar array). */
export type ScheduleFn = (step: MxArray | number) => MxArray;

const asStep = (step: MxArray | number): MxArray => (isArray(step) ? step : mx.array(step, mx.float32));

/** init · rate^step. */
export function exponentialDecay(init: number, decayRate: number): ScheduleFn {
  return (step) => mx.multiply(mx.power(decayRate, asStep(step)), init);
}

/** init · rate^floor(step / stepSize). */
export function stepDecay(init: number, decayRate: number, stepSize: number): ScheduleFn {
  if (!(stepSize > 0)) throw new EngineError(`[stepDecay] stepSize must be positive, got ${stepSize}`);
  return (step) => mx.multiply(mx.power(decayRate, mx.floorDivide(asStep(step), stepSize)), init);
}

/** Half a cosine from init down to end over decaySteps, then end. */
export function cosineDecay(init: number, decaySteps: number, end = 0.0): ScheduleFn {
  if (!(decaySteps > 0)) throw new EngineError(`[cosineDecay] decaySteps must be positive, got ${decaySteps}`);
  return (step) => {
    const s = mx.astype(mx.minimum(asStep(step), decaySteps), mx.float32);
    const decay = mx.multiply(mx.add(mx.cos(mx.multiply(s, Math.PI / decaySteps)), 1), 0.5);
    return mx.add(mx.multiply(decay, init - end), end);
  };
}

/** From init to end linearly over `steps` steps, then end. */
export function linearSchedule(init: number, end: number, steps: number): ScheduleFn {
  if (!(steps >= 1)) throw new EngineError(`[linearSchedule] steps must be greater than 0, got ${steps}`);
  return (step) => {
    const s = mx.astype(mx.minimum(asStep(step), steps), mx.float32);
    return mx.add(mx.multiply(s, (end - init) / steps), init);
  };
}

/**
 * Runs schedules one after another: schedules[0] until boundaries[0], then schedules[1] (counting its steps from
 * that boundary), and so on. Needs one boundary fewer than schedules.
 */
export function joinSchedules(schedules: ScheduleFn[], boundaries: number[]): ScheduleFn {
  if (schedules.length === 0) throw new EngineError("[joinSchedules] must provide at least 1 schedule to join");
  if (schedules.length !== boundaries.length + 1)
    throw new EngineError(`[joinSchedules] received ${boundaries.length} boundaries but expected ${schedules.length - 1}`);
  return (step) => {
    // Steps as float32 so that step - boundary cannot wrap around for an unsigned step counter.
    const s = mx.astype(asStep(step), mx.float32);
    let out = schedules[0](s);
    boundaries.forEach((b, i) => {
      out = mx.where(mx.less(s, b), out, schedules[i + 1](mx.subtract(s, b)));
    });
    return out;
  };
}
