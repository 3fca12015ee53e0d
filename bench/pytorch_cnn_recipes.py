"""Trains one convolutional recipe in PyTorch on digitlab's MNIST split and reports its accuracies and
times: the search behind bench/results/pytorch-cnn-recipes.md.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/pytorch_cnn_recipes.py \
      (--preset NAME | --layers TEXT) [--epochs 2] [--batch 128] [--optimizer adam|adamw|sgd] [--max-lr 0.005]
      [--momentum 0.9] [--nesterov] [--weight-decay 0] [--schedule onecycle|constant] [--seed 0]
      [--threads 1] [--eval-every N] [--final-only] [--log FILE]

The model is the nn.Sequential digitlab builds from the layer text (bench/pytorch_cnn.py), trained on
the first 50,000 training images with cross-entropy, shuffled each epoch, PyTorch's default init,
OneCycleLR stepped per batch (defaults but max_lr). Validation (the last 10,000 training images) and
test accuracy are measured at the end of each epoch (only the last with --final-only), and test
accuracy also every N batches with --eval-every; evaluation time is excluded from `train_seconds` and
listed apart. One JSON line on stdout (and appended to --log).
"""
import argparse
import json
import time

import torch

import pytorch_cnn as pc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset')
    ap.add_argument('--layers')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--optimizer', default='adam')
    ap.add_argument('--max-lr', type=float, default=0.005)
    ap.add_argument('--momentum', type=float, default=0.9)
    ap.add_argument('--nesterov', action='store_true')
    ap.add_argument('--weight-decay', type=float, default=0.0)
    ap.add_argument('--schedule', default='onecycle')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--eval-every', type=int, default=None)
    ap.add_argument('--final-only', action='store_true', help='evaluate only after the last epoch')
    ap.add_argument('--log')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = pc.PRESETS[a.preset] if a.preset else a.layers
    model = pc.Model(pc.build_spec(pc.parse_layers(text)))
    data = pc.load_mnist()
    history = []
    eval_seconds = [0.0]
    start = time.perf_counter()

    def on_eval(step, epoch, m):
        if a.final_only and epoch < a.epochs - 1e-9:
            return False
        t = time.perf_counter()
        row = {'step': step, 'epoch': round(epoch, 4), 'train_seconds': t - start - eval_seconds[0],
               'test_accuracy': pc.accuracy(m, data['test'], 250)}
        if abs(epoch - round(epoch)) < 1e-9:
            row['val_accuracy'] = pc.accuracy(m, data['validation'], 250)
        eval_seconds[0] += time.perf_counter() - t
        history.append(row)
        print(json.dumps(row), flush=True)
        return False

    pc.train(model, data, a.seed, a.epochs, a.batch, a.optimizer, a.max_lr, a.momentum, a.nesterov, a.weight_decay,
             a.schedule, eval_every=a.eval_every, on_eval=on_eval)
    total = time.perf_counter() - start
    first99 = next((r for r in history if r['test_accuracy'] >= 0.99), None)
    result = {
        'layers': text, 'params': pc.parameter_count(model), 'epochs': a.epochs, 'batch': a.batch,
        'optimizer': a.optimizer, 'max_lr': a.max_lr, 'momentum': a.momentum if a.optimizer == 'sgd' else None,
        'nesterov': a.nesterov, 'weight_decay': a.weight_decay, 'schedule': a.schedule, 'seed': a.seed,
        'threads': a.threads, 'eval_every': a.eval_every,
        'val_accuracy': history[-1].get('val_accuracy'), 'test_accuracy': history[-1]['test_accuracy'],
        'train_seconds': total - eval_seconds[0], 'eval_seconds': eval_seconds[0],
        'first_99': first99, 'history': history, 'torch': torch.__version__, 'blas': pc.blas_libraries(),
    }
    line = json.dumps(result)
    if a.log:
        with open(a.log, 'a') as f:
            f.write(line + '\n')
    print(line)


if __name__ == '__main__':
    main()
