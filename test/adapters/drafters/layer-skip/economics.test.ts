import { describe, expect, it } from 'vitest';
import { BayesLinear } from '../../../../adapters/drafters/layer-skip/bayes-linear.js';
import { Confidence, chainRate, PassCost } from '../../../../adapters/drafters/layer-skip/economics.js';
import { mulberry32 } from '../../../kernels/random.js';

describe('pass cost', () => {
  it('recovers a fixed share plus a per-block share from passes of several sizes', () => {
    const cost = new PassCost();
    expect(cost.estimate(10)).toBeNaN();
    for (let i = 0; i < 200; i++) {
      const blocks = 10 + (i % 11);
      cost.record(blocks, 4 + 0.5 * blocks);
    }
    expect(cost.estimate(12)).toBeCloseTo(10, 0);
    expect(cost.estimate(30)).toBeCloseTo(19, 0);
  });

  it('scales with the blocks run while only one size was measured', () => {
    const cost = new PassCost();
    for (let i = 0; i < 20; i++) cost.record(20, 10);
    expect(cost.estimate(20)).toBeCloseTo(10, 5);
    expect(cost.estimate(10)).toBeLessThan(10);
    expect(cost.estimate(10)).toBeGreaterThan(4);
  });
});

describe('chain rate', () => {
  it('drafts deeper when the drafts are likelier and the passes cheaper', () => {
    expect(chainRate(0.3, 8, 10, 8).depth).toBe(1);
    expect(chainRate(0.9, 1, 10, 8).depth).toBeGreaterThan(4);
    // A pass that costs as much as the rest of the step pays only when α exceeds its cost share.
    expect(chainRate(0.5, 10, 10, 8).rate).toBeLessThan(1 / 10);
    expect(chainRate(0.6, 5, 10, 1).rate).toBeGreaterThan(1 / 10);
  });
});

describe('confidence', () => {
  it('moves from the raw probability towards the agreement observed at it', () => {
    const c = new Confidence();
    expect(c.map(0.9)).toBeCloseTo(0.9, 5);
    for (let i = 0; i < 100; i++) c.record(0.9, i % 4 === 0);
    expect(c.map(0.9)).toBeLessThan(0.35);
    expect(c.map(0.9)).toBeGreaterThan(0.2);
    expect(c.map(0.1)).toBeCloseTo(0.1, 5);
  });
});

describe('Bayesian linear surrogate', () => {
  it('learns which features carry weight from sums over random subsets', () => {
    const truth = [0.01, 0.5, 0.02, 0.3, 0.0, 0.8];
    const random = mulberry32(7);
    const observations = Array.from({ length: 40 }, () => {
      const features = truth.map((_, i) => i).filter(() => random() < 0.5);
      const y = features.reduce((s, i) => s + truth[i], 0) + 0.02 * (random() - 0.5);
      return { features, y, variance: 0.01 };
    });
    const model = new BayesLinear(truth.length, 0.1, 1);
    model.fit(observations);
    for (let i = 0; i < truth.length; i++) expect(model.mean[i]).toBeCloseTo(truth[i], 1);
    const known = model.predict([1, 3]);
    expect(known.mean).toBeCloseTo(0.8, 1);
    expect(known.variance).toBeLessThan(0.01);
  });

  it('draws weights around the posterior, narrower with more data', () => {
    const random = mulberry32(3);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const spread = (n: number) => {
      const model = new BayesLinear(2, 0, 1);
      model.fit(Array.from({ length: n }, () => ({ features: [0], y: 0.4, variance: 0.04 })));
      const draws = Array.from({ length: 400 }, () => model.sample(normal)[0]);
      const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
      return { mean, sd: Math.sqrt(draws.reduce((s, x) => s + (x - mean) ** 2, 0) / draws.length) };
    };
    const few = spread(1);
    const many = spread(100);
    expect(many.mean).toBeCloseTo(0.4, 1);
    expect(many.sd).toBeLessThan(few.sd / 3);
  });
});
