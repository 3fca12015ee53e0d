/** Small SVG charts (no chart library: the page makes no request outside its own server). */
const NS = 'http://www.w3.org/2000/svg';

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
}

function element(name: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Margins of every chart; the y-axis title sits in the top one, clear of the tick labels. */
const PAD = { left: 48, right: 12, top: 40, bottom: 34 };

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
}

function axes(svg: SVGSVGElement, xs: number[], ys: number[], labels: { x: string; y: string }, logX = false): Frame {
  const width = 420;
  const height = 220;
  const pad = PAD;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const fx = (v: number) => (logX ? Math.log10(v) : v);
  let [x0, x1] = [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 0.01, y0 + 0.01];
  const frame: Frame = {
    x: (v) => pad.left + ((fx(v) - x0) / (x1 - x0)) * (width - pad.left - pad.right),
    y: (v) => height - pad.bottom - ((v - y0) / (y1 - y0)) * (height - pad.top - pad.bottom),
  };
  svg.append(element('line', { x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom, class: 'axis' }));
  svg.append(element('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom, class: 'axis' }));
  for (const v of [y0, (y0 + y1) / 2, y1]) svg.append(element('text', { x: pad.left - 4, y: frame.y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toPrecision(3)));
  for (const t of [x0, (x0 + x1) / 2, x1]) {
    const v = logX ? 10 ** t : t;
    // the last label ends at the axis' end, so that it stays inside the chart
    const anchor = t === x1 ? 'end' : 'middle';
    svg.append(element('text', { x: frame.x(v), y: height - pad.bottom + 14, 'text-anchor': anchor, class: 'tick' }, logX ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(3)))));
  }
  svg.append(element('text', { x: (width + pad.left) / 2, y: height - 4, 'text-anchor': 'middle', class: 'label' }, labels.x));
  svg.append(element('text', { x: 4, y: 12, class: 'label' }, labels.y));
  return frame;
}

export function lineChart(svg: SVGSVGElement, series: Series[], labels: { x: string; y: string }): void {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    svg.replaceChildren();
    return;
  }
  const frame = axes(svg, all.map((p) => p[0]), all.map((p) => p[1]), labels);
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${frame.x(x).toFixed(1)},${frame.y(y).toFixed(1)}`).join(' ');
    svg.append(element('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'data-series': s.name }));
    for (const [x, y] of s.points) svg.append(element('circle', { cx: frame.x(x), cy: frame.y(y), r: 2.5, fill: s.color }));
    svg.append(element('text', { x: 420 - PAD.right - 4, y: 12 + 11 * i, 'text-anchor': 'end', fill: s.color, class: 'legend' }, s.name));
  });
}

export interface Dot {
  x: number;
  y: number;
  label: string;
  highlight: boolean;
}

export function scatterChart(svg: SVGSVGElement, dots: Dot[], labels: { x: string; y: string }): void {
  if (dots.length === 0) {
    svg.replaceChildren();
    return;
  }
  const frame = axes(svg, dots.map((d) => d.x), dots.map((d) => d.y), labels, true);
  for (const dot of dots) {
    const circle = element('circle', { cx: frame.x(dot.x), cy: frame.y(dot.y), r: dot.highlight ? 5 : 3.5, class: dot.highlight ? 'dot pareto' : 'dot' });
    circle.append(element('title', {}, dot.label));
    svg.append(circle);
  }
}
