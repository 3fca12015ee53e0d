/**
 * A canvas to write on with mouse, pen or finger (pointer events), keeping the strokes so the last one
 * can be undone. Ink is black on white, like pen on paper; the reader handles either polarity.
 */
import { toGrayscale, type GrayImage } from '../../src/browser.js';

type Point = [number, number];

export class DrawingPad {
  private readonly strokes: Point[][] = [];
  private current: Point[] | null = null;
  private readonly context: CanvasRenderingContext2D;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly lineWidth: number,
    private readonly onChange: (final: boolean) => void,
  ) {
    this.context = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
    canvas.style.touchAction = 'none'; // a finger draws instead of scrolling the page
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture(event.pointerId);
      this.current = [this.point(event)];
      this.strokes.push(this.current);
      this.render();
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.current) return;
      this.current.push(this.point(event));
      this.render();
      this.onChange(false);
    });
    const end = () => {
      if (!this.current) return;
      this.current = null;
      this.onChange(true);
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    this.render();
  }

  /** Canvas coordinates of a pointer event (the canvas may be drawn smaller than its pixel size). */
  private point(event: PointerEvent): Point {
    const box = this.canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * this.canvas.width) / box.width, ((event.clientY - box.top) * this.canvas.height) / box.height];
  }

  get empty(): boolean {
    return this.strokes.length === 0;
  }

  clear(): void {
    this.strokes.length = 0;
    this.current = null;
    this.render();
    this.onChange(true);
  }

  undo(): void {
    this.strokes.pop();
    this.current = null;
    this.render();
    this.onChange(true);
  }

  /** Replaces the drawing with a picture (an uploaded file), scaled to fit. */
  drawImage(image: CanvasImageSource & { width: number; height: number }): void {
    this.strokes.length = 0;
    this.render();
    const scale = Math.min(this.canvas.width / image.width, this.canvas.height / image.height);
    const w = image.width * scale;
    const h = image.height * scale;
    this.context.drawImage(image, (this.canvas.width - w) / 2, (this.canvas.height - h) / 2, w, h);
  }

  private render(): void {
    const c = this.context;
    c.fillStyle = '#fff';
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    c.strokeStyle = '#000';
    c.fillStyle = '#000';
    c.lineWidth = this.lineWidth;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    for (const stroke of this.strokes) {
      if (stroke.length === 1) {
        c.beginPath();
        c.arc(stroke[0][0], stroke[0][1], this.lineWidth / 2, 0, 2 * Math.PI);
        c.fill();
        continue;
      }
      c.beginPath();
      c.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke.slice(1)) c.lineTo(x, y);
      c.stroke();
    }
  }

  gray(): GrayImage {
    const { width, height } = this.canvas;
    const data = this.context.getImageData(0, 0, width, height).data;
    return toGrayscale({ width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
}

/**
 * Draws a network input of `shape` ([height, width], values in [0, 1], ink bright) on a canvas, white
 * ink on black as MNIST shows it; the canvas takes the input's size.
 */
export function showInput(canvas: HTMLCanvasElement, pixels: Float32Array, shape: readonly [number, number]): void {
  const [height, width] = shape;
  if (pixels.length !== width * height) throw new RangeError(`showInput: ${pixels.length} values for a ${height}×${width} input`);
  const context = canvas.getContext('2d') as CanvasRenderingContext2D;
  canvas.width = width;
  canvas.height = height;
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = Math.round(255 * pixels[i]);
    image.data.set([v, v, v, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
}
