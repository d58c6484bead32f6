"""Train the detector head on cached backbone features.

    python -m training.train --data training/data/synth1 --run training/runs/det --epochs 12
    python -m training.train ... --resume          # carry on from the last finished epoch

Several ``--data`` folders may be given (each cached by ``training.features``). Every epoch
writes ``RUN/last.weights.h5``, ``RUN/ema.weights.h5`` (an exponential moving average of the
weights, which is what gets exported: single epochs of a head trained on synthetic pixels
swing a lot on real photos, the average much less), the optimiser state and
``RUN/state.json``; ``--resume`` reloads them, so a stopped session loses at most one epoch.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from training import model

log = logging.getLogger(__name__)
# About 1.4 epochs of 1400 steps: long enough to smooth the epoch-to-epoch swings. Without
# bias correction the initial weights keep decay**steps of the average: use a smaller decay
# for short runs (0.999 after 4000 steps leaves 2 %).
EMA_DECAY = 0.9995


def load_cache(folders: list[Path]) -> dict[str, np.ndarray]:
    """Concatenates the cached arrays of the folders (only the rows actually written)."""
    parts: dict[str, list[np.ndarray]] = {"c4": [], "c5": [], "heat": [], "reg": []}
    for f in folders:
        done = int((f / "cache" / "done.txt").read_text())
        for k in parts:
            parts[k].append(np.load(f / "cache" / f"{k}.npy", mmap_mode="r")[:done])
    return {k: np.concatenate(v) if len(v) > 1 else np.asarray(v[0]) for k, v in parts.items()}


def make_loss(classes: int):
    import tensorflow as tf

    def loss_fn(logits, heat, reg):
        cls = logits[..., :classes]
        p = tf.sigmoid(cls)
        pos = tf.cast(heat >= 0.999, tf.float32)
        n_pos = tf.maximum(1.0, tf.reduce_sum(pos))
        pos_l = -tf.pow(1 - p, 2) * tf.math.log_sigmoid(cls) * pos
        neg_l = -tf.pow(1 - heat, 4) * tf.pow(p, 2) * tf.math.log_sigmoid(-cls) * (1 - pos)
        cls_loss = (tf.reduce_sum(pos_l) + tf.reduce_sum(neg_l)) / n_pos
        box = tf.sigmoid(logits[..., classes:])
        tgt, w = reg[..., :4], reg[..., 4]
        w_sum = tf.maximum(1e-3, tf.reduce_sum(w))
        l1 = tf.reduce_sum(tf.reduce_sum(tf.abs(box - tgt), -1) * w) / w_sum
        l, t, r, b = tf.unstack(box, axis=-1)
        tl, tt, tr, tb = tf.unstack(tgt, axis=-1)
        inter = (tf.minimum(l, tl) + tf.minimum(r, tr)) * (tf.minimum(t, tt) + tf.minimum(b, tb))
        union = (l + r) * (t + b) + (tl + tr) * (tt + tb) - inter
        hull = (tf.maximum(l, tl) + tf.maximum(r, tr)) * (tf.maximum(t, tt) + tf.maximum(b, tb))
        giou = inter / (union + 1e-7) - (hull - union) / (hull + 1e-7)
        giou_loss = tf.reduce_sum((1 - giou) * w) / w_sum
        return cls_loss, 5.0 * l1 + 2.0 * giou_loss

    return loss_fn


def train(folders: list[Path], run: Path, epochs: int, batch: int, lr: float, resume: bool,
          ema_decay: float = EMA_DECAY) -> None:
    import keras
    import tensorflow as tf

    data = load_cache(folders)
    n = len(data["c4"])
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    n_val = max(batch, n // 20)
    val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
    log.info("%d training and %d validation images from %s", len(train_idx), n_val, ", ".join(map(str, folders)))

    net = model.head()
    logits_model = keras.Model(net.inputs, net.get_layer("logits").output)
    drop4, drop5 = keras.layers.Dropout(0.2), keras.layers.Dropout(0.2)
    steps_per_epoch = math.ceil(len(train_idx) / batch)
    total = steps_per_epoch * epochs
    schedule = keras.optimizers.schedules.CosineDecay(lr * 0.1, total, alpha=0.02, warmup_target=lr,
                                                      warmup_steps=min(300, total // 10))
    opt = keras.optimizers.AdamW(schedule, weight_decay=1e-4)
    opt.build(logits_model.trainable_variables)
    trainable = logits_model.trainable_variables
    ema = [tf.Variable(v, trainable=False) for v in trainable]
    loss_fn = make_loss(len(model.CLASSES))
    run.mkdir(parents=True, exist_ok=True)
    state = {"epoch": 0, "history": []}
    if resume and (run / "state.json").exists():
        state = json.loads((run / "state.json").read_text())
        net.load_weights(run / "last.weights.h5")
        saved = np.load(run / "optimizer.npz")
        for i, v in enumerate(opt.variables):
            v.assign(saved[f"v{i}"])
        for i, e in enumerate(ema):
            e.assign(saved[f"ema{i}"] if f"ema{i}" in saved else trainable[i])
        log.info("resumed after epoch %d", state["epoch"])

    @tf.function(jit_compile=False)
    def step(c4, c5, heat, reg):
        with tf.GradientTape() as tape:
            out = logits_model([drop4(c4, training=True), drop5(c5, training=True)], training=True)
            cls_l, box_l = loss_fn(out, heat, reg)
            loss = cls_l + box_l
        grads = tape.gradient(loss, trainable)
        opt.apply_gradients(zip(grads, trainable))
        for e, v in zip(ema, trainable):
            e.assign(ema_decay * e + (1.0 - ema_decay) * v)
        return cls_l, box_l

    def save_ema(path: Path) -> None:
        current = [v.numpy() for v in trainable]
        for v, e in zip(trainable, ema):
            v.assign(e)
        net.save_weights(path)
        for v, c in zip(trainable, current):
            v.assign(c)

    @tf.function
    def evaluate(c4, c5, heat, reg):
        return loss_fn(logits_model([c4, c5], training=False), heat, reg)

    def rows(idx: np.ndarray):
        idx = np.sort(idx)
        return (data["c4"][idx].astype(np.float32), data["c5"][idx].astype(np.float32),
                data["heat"][idx], data["reg"][idx])

    from tqdm import tqdm
    for epoch in range(state["epoch"], epochs):
        perm = np.random.default_rng(epoch + 1).permutation(train_idx)
        sums = np.zeros(2)
        start = time.time()
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", mininterval=10)
        for k in bar:
            c, b = step(*rows(perm[k * batch:(k + 1) * batch]))
            sums += [float(c), float(b)]
            if k % 20 == 0:
                bar.set_postfix(cls=f"{sums[0] / (k + 1):.3f}", box=f"{sums[1] / (k + 1):.3f}")
        val = np.zeros(2)
        for k in range(0, n_val, batch):
            c, b = evaluate(*rows(val_idx[k:k + batch]))
            val += [float(c), float(b)]
        val /= math.ceil(n_val / batch)
        record = {"epoch": epoch + 1, "train_cls": sums[0] / steps_per_epoch, "train_box": sums[1] / steps_per_epoch,
                  "val_cls": float(val[0]), "val_box": float(val[1]), "seconds": round(time.time() - start, 1)}
        state["history"].append(record)
        state["epoch"] = epoch + 1
        net.save_weights(run / "last.weights.h5")
        save_ema(run / "ema.weights.h5")
        np.savez(run / "optimizer.npz", **{f"v{i}": v.numpy() for i, v in enumerate(opt.variables)},
                 **{f"ema{i}": e.numpy() for i, e in enumerate(ema)})
        (run / "state.json").write_text(json.dumps(state, indent=1))
        log.info("epoch %d: %s", epoch + 1, record)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--run", type=Path, default=Path("training/runs/det"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--ema-decay", type=float, default=EMA_DECAY)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.data, args.run, args.epochs, args.batch, args.lr, args.resume, args.ema_decay)


if __name__ == "__main__":
    main()
