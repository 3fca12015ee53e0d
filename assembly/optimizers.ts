// Element-wise optimizer updates, in place over `length` float parameters, following PyTorch's update
// rules (torch.optim.SGD, Adam/AdamW, Adagrad, RMSprop). Scalars that depend only on the step count
// (Adam's bias corrections, Adagrad's decayed rate) come from the caller, computed in float64.
//
// Each update is written once, as an inlined step over one vector; `single` (a compile-time constant
// at each call site) makes it read and write one lane instead of four. The kernels run it over whole
// vectors, then over the length mod 4 leftover elements, so every element sees identical arithmetic.

// @ts-ignore: decorator
@inline function loadLanes(ptr: usize, single: bool): v128 {
  if (single) return f32x4.splat(load<f32>(ptr));
  return v128.load(ptr);
}

// @ts-ignore: decorator
@inline function storeLanes(ptr: usize, value: v128, single: bool): void {
  if (single) store<f32>(ptr, f32x4.extract_lane(value, 0));
  else v128.store(ptr, value);
}

/** g + wd·p, skipped when wd is 0 (so that p = ±inf with wd = 0 cannot turn g into NaN). */
// @ts-ignore: decorator
@inline function withWeightDecay(g: v128, p: v128, weightDecay: f32): v128 {
  return weightDecay != 0 ? f32x4.add(g, f32x4.mul(f32x4.splat(weightDecay), p)) : g;
}

// @ts-ignore: decorator
@inline function sgdStep(
  offset: usize, single: bool, param: usize, grad: usize, momentumBuffer: usize,
  lr: f32, momentum: f32, dampening: f32, weightDecay: f32, nesterov: bool, firstStep: bool,
): void {
  const p = loadLanes(param + offset, single);
  let g = withWeightDecay(loadLanes(grad + offset, single), p, weightDecay);
  if (momentum != 0) {
    const mu = f32x4.splat(momentum);
    const buf = firstStep
      ? g
      : f32x4.add(f32x4.mul(mu, loadLanes(momentumBuffer + offset, single)), f32x4.mul(f32x4.splat(1 - dampening), g));
    storeLanes(momentumBuffer + offset, buf, single);
    g = nesterov ? f32x4.add(g, f32x4.mul(mu, buf)) : buf;
  }
  storeLanes(param + offset, f32x4.sub(p, f32x4.mul(f32x4.splat(lr), g)), single);
}

/**
 * SGD: g = grad + wd·p; with momentum μ: buf = g on the first step, else buf = μ·buf + (1 − dampening)·g;
 * then g = nesterov ? g + μ·buf : buf; p −= lr·g. Arrays are [length].
 */
export function sgdUpdate(
  param: usize, grad: usize, momentumBuffer: usize, length: i32,
  lr: f32, momentum: f32, dampening: f32, weightDecay: f32, nesterov: bool, firstStep: bool,
): void {
  const end = <usize>length << 2;
  const vectorBytes = <usize>(length & ~3) << 2;
  let offset: usize = 0;
  for (; offset < vectorBytes; offset += 16) {
    sgdStep(offset, false, param, grad, momentumBuffer, lr, momentum, dampening, weightDecay, nesterov, firstStep);
  }
  for (; offset < end; offset += 4) {
    sgdStep(offset, true, param, grad, momentumBuffer, lr, momentum, dampening, weightDecay, nesterov, firstStep);
  }
}

// @ts-ignore: decorator
@inline function adamStep(
  offset: usize, single: bool, param: usize, grad: usize, expAvg: usize, expAvgSq: usize, maxExpAvgSq: usize,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32,
  decoupled: bool, amsgrad: bool, stepSize: f32, biasCorrection2Sqrt: f32,
): void {
  let p = loadLanes(param + offset, single);
  let g = loadLanes(grad + offset, single);
  if (decoupled) {
    if (weightDecay != 0) p = f32x4.mul(p, f32x4.splat(1 - lr * weightDecay));
  } else {
    g = withWeightDecay(g, p, weightDecay);
  }
  const m = f32x4.add(
    f32x4.mul(f32x4.splat(beta1), loadLanes(expAvg + offset, single)), f32x4.mul(f32x4.splat(1 - beta1), g));
  let v = f32x4.add(
    f32x4.mul(f32x4.splat(beta2), loadLanes(expAvgSq + offset, single)),
    f32x4.mul(f32x4.splat(1 - beta2), f32x4.mul(g, g)));
  storeLanes(expAvg + offset, m, single);
  storeLanes(expAvgSq + offset, v, single);
  if (amsgrad) {
    v = f32x4.max(v, loadLanes(maxExpAvgSq + offset, single));
    storeLanes(maxExpAvgSq + offset, v, single);
  }
  const denom = f32x4.add(f32x4.div(f32x4.sqrt(v), f32x4.splat(biasCorrection2Sqrt)), f32x4.splat(eps));
  storeLanes(param + offset, f32x4.sub(p, f32x4.div(f32x4.mul(f32x4.splat(stepSize), m), denom)), single);
}

/**
 * Adam / AdamW: decoupled ? p ·= (1 − lr·wd) : g = grad + wd·p;
 * m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²; amsgrad: vmax = max(vmax, v), v̂ = vmax, else v̂ = v;
 * p −= stepSize · m / (√v̂ / biasCorrection2Sqrt + eps). Arrays are [length].
 */
export function adamUpdate(
  param: usize, grad: usize, expAvg: usize, expAvgSq: usize, maxExpAvgSq: usize, length: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32,
  decoupled: bool, amsgrad: bool, stepSize: f32, biasCorrection2Sqrt: f32,
): void {
  const end = <usize>length << 2;
  const vectorBytes = <usize>(length & ~3) << 2;
  let offset: usize = 0;
  for (; offset < vectorBytes; offset += 16) {
    adamStep(offset, false, param, grad, expAvg, expAvgSq, maxExpAvgSq,
      lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, stepSize, biasCorrection2Sqrt);
  }
  for (; offset < end; offset += 4) {
    adamStep(offset, true, param, grad, expAvg, expAvgSq, maxExpAvgSq,
      lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, stepSize, biasCorrection2Sqrt);
  }
}

// @ts-ignore: decorator
@inline function adagradStep(
  offset: usize, single: bool, param: usize, grad: usize, stateSum: usize, clr: f32, weightDecay: f32, eps: f32,
): void {
  const p = loadLanes(param + offset, single);
  const g = withWeightDecay(loadLanes(grad + offset, single), p, weightDecay);
  const sum = f32x4.add(loadLanes(stateSum + offset, single), f32x4.mul(g, g));
  storeLanes(stateSum + offset, sum, single);
  const step = f32x4.div(f32x4.mul(f32x4.splat(clr), g), f32x4.add(f32x4.sqrt(sum), f32x4.splat(eps)));
  storeLanes(param + offset, f32x4.sub(p, step), single);
}

/** Adagrad: g = grad + wd·p; sum += g²; p −= clr · g / (√sum + eps). Arrays are [length]. */
export function adagradUpdate(
  param: usize, grad: usize, stateSum: usize, length: i32, clr: f32, weightDecay: f32, eps: f32,
): void {
  const end = <usize>length << 2;
  const vectorBytes = <usize>(length & ~3) << 2;
  let offset: usize = 0;
  for (; offset < vectorBytes; offset += 16) adagradStep(offset, false, param, grad, stateSum, clr, weightDecay, eps);
  for (; offset < end; offset += 4) adagradStep(offset, true, param, grad, stateSum, clr, weightDecay, eps);
}

// @ts-ignore: decorator
@inline function rmspropStep(
  offset: usize, single: bool, param: usize, grad: usize, squareAvg: usize, gradAvg: usize, momentumBuffer: usize,
  lr: f32, alpha: f32, eps: f32, weightDecay: f32, momentum: f32, centered: bool,
): void {
  const p = loadLanes(param + offset, single);
  const g = withWeightDecay(loadLanes(grad + offset, single), p, weightDecay);
  const alphaV = f32x4.splat(alpha);
  const restV = f32x4.splat(1 - alpha);
  const sq = f32x4.add(f32x4.mul(alphaV, loadLanes(squareAvg + offset, single)), f32x4.mul(restV, f32x4.mul(g, g)));
  storeLanes(squareAvg + offset, sq, single);
  let variance = sq;
  if (centered) {
    const gAvg = f32x4.add(f32x4.mul(alphaV, loadLanes(gradAvg + offset, single)), f32x4.mul(restV, g));
    storeLanes(gradAvg + offset, gAvg, single);
    variance = f32x4.sub(sq, f32x4.mul(gAvg, gAvg));
  }
  const scaled = f32x4.div(g, f32x4.add(f32x4.sqrt(variance), f32x4.splat(eps)));
  let step = scaled;
  if (momentum > 0) {
    step = f32x4.add(f32x4.mul(f32x4.splat(momentum), loadLanes(momentumBuffer + offset, single)), scaled);
    storeLanes(momentumBuffer + offset, step, single);
  }
  storeLanes(param + offset, f32x4.sub(p, f32x4.mul(f32x4.splat(lr), step)), single);
}

/**
 * RMSprop: g = grad + wd·p; sq = α·sq + (1 − α)·g²;
 * centered: gAvg = α·gAvg + (1 − α)·g, avg = √(sq − gAvg²) + eps; else avg = √sq + eps;
 * momentum μ > 0: buf = μ·buf + g/avg, p −= lr·buf; else p −= lr·g/avg. Arrays are [length].
 */
export function rmspropUpdate(
  param: usize, grad: usize, squareAvg: usize, gradAvg: usize, momentumBuffer: usize, length: i32,
  lr: f32, alpha: f32, eps: f32, weightDecay: f32, momentum: f32, centered: bool,
): void {
  const end = <usize>length << 2;
  const vectorBytes = <usize>(length & ~3) << 2;
  let offset: usize = 0;
  for (; offset < vectorBytes; offset += 16) {
    rmspropStep(offset, false, param, grad, squareAvg, gradAvg, momentumBuffer,
      lr, alpha, eps, weightDecay, momentum, centered);
  }
  for (; offset < end; offset += 4) {
    rmspropStep(offset, true, param, grad, squareAvg, gradAvg, momentumBuffer,
      lr, alpha, eps, weightDecay, momentum, centered);
  }
}
