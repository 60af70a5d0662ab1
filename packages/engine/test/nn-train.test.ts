// End to end: a 2-layer MLP learns a 4-class spiral with nn.valueAndGrad, crossEntropy and AdamW, as the
// contract example writes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mx, nn, optim } from "../src/index.js";
import type { MxArray } from "../src/index.js";
import { rng } from "./helpers/random.js";

/** n points per class on 4 interleaved spiral arms (radius 0.15..1, 4.5 rad of turn), with angular noise. */
function spiral(n: number, seed: number): [MxArray, MxArray] {
  const r = rng(seed);
  const xs: number[] = [], ys: number[] = [];
  for (let c = 0; c < 4; c++)
    for (let i = 0; i < n; i++) {
      const t = r(), rad = 0.15 + 0.85 * t, ang = (c * Math.PI) / 2 + 4.5 * t + 0.3 * (r() - 0.5);
      xs.push(rad * Math.cos(ang), rad * Math.sin(ang));
      ys.push(c);
    }
  return [mx.array(Float32Array.from(xs), mx.float32, [4 * n, 2]), mx.array(Int32Array.from(ys), mx.int32, [4 * n])];
}

class MLP extends nn.Module {
  l1 = new nn.Linear(2, 64);
  l2 = new nn.Linear(64, 4);
  forward(x: MxArray): MxArray {
    return this.l2.forward(nn.relu(this.l1.forward(x)));
  }
}

test("a 2-layer MLP learns a 4-class spiral to > 95% held-out accuracy", () => {
  const [x, y] = spiral(100, 7);
  const [xTest, yTest] = spiral(100, 8);
  const model = new MLP();
  mx.eval(model.parameters());
  const lossAndGrad = nn.valueAndGrad(model, (m: MLP, xx: MxArray, yy: MxArray) =>
    nn.losses.crossEntropy(m.forward(xx), yy, { reduction: "mean" }));
  const opt = new optim.AdamW({ learningRate: 0.02, weightDecay: 0.0 });
  const accuracy = (xx: MxArray, yy: MxArray) => mx.mean(mx.equal(mx.argmax(model.forward(xx), -1), yy)).item() as number;
  let first = NaN, last = NaN;
  for (let step = 0; step < 300; step++) {
    mx.tidy(() => {
      const [loss, grads] = lossAndGrad(model, x, y);
      opt.update(model, grads);
      mx.eval(model.parameters(), opt.state, loss);
      if (step === 0) first = loss.item() as number;
      last = loss.item() as number;
      return [model.parameters(), opt.state];  // what tidy must not dispose: the new weights and moments
    });
  }
  assert.equal(opt.step.item(), 300);
  assert.ok(last < first / 10, `loss ${first} -> ${last}`);
  const acc = accuracy(xTest, yTest);
  assert.ok(acc > 0.95, `held-out accuracy ${acc}`);
});
