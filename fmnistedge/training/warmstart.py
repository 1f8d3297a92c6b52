"""Rebuild a trainable Keras model from a shipped fp32 ONNX file (fine-tuning a shipped model).

A shipped model directory holds exported files, not the ``model.keras`` it was
exported from. Its fp32 ONNX file keeps every weight at full precision with the
batch normalization folded into the convolutions (``W' = W * gamma / sigma``,
``b' = beta - mean * gamma / sigma``). tf2onnx names each initializer after the
Keras layer it came from (``edge-r_1/res1aa_1/convolution/merged_input:0``,
``edge-r_1/res1aa_bn_1/batchnorm/sub:0``), so the zoo architecture can be
rebuilt and filled in:

* each convolution gets the folded kernel;
* each batch normalization after it is set so that, at inference, it adds the
  folded bias and nothing else, with moving statistics equal to the per-channel
  mean and variance of the convolution's output on real images
  (``gamma = sqrt(var + eps)``, ``beta = bias + mean``): training mode, which
  normalizes with batch statistics, then starts from (nearly) the same function;
* the dense head is copied as is (an 11-way head with a "none of these" class,
  ``probs_none``, rebuilds the model with :func:`fmnistedge.training.phototrain.add_none_output`).

The result computes the same outputs as the ONNX file (checked on the images
passed in; for a flip-averaged file, the mean over each image and its mirror image does)
and fine-tunes like the original model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fmnistedge.errors import UsageError

CONV = re.compile(r"^[^/]+/(?P<layer>[^/]+?)(?:_\d+)?/convolution/merged_input:0$")
BIAS = re.compile(r"^[^/]+/(?P<layer>[^/]+?)_bn(?:_\d+)?/batchnorm/sub:0$")
DENSE_W = re.compile(r"^[^/]+/(?P<layer>[^/]+?)(?:_\d+)?/Cast/ReadVariableOp:0$")
DENSE_B = re.compile(r"^[^/]+/(?P<layer>[^/]+?)(?:_\d+)?/BiasAdd/ReadVariableOp:0$")


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others for a bad file
        raise UsageError(f"--init-from {path} is not a readable ONNX file: {exc}") from None
    return {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}


def input_side(onnx_path: Path) -> int:
    """The image side an ONNX file takes (its input is (N, S, S, 1))."""
    import onnx

    try:
        dims = onnx.load(str(onnx_path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
        return int(dims[1].dim_value)
    except Exception as exc:  # onnx raises DecodeError and others for a bad file
        raise UsageError(f"--init-from {onnx_path} is not a readable ONNX model: {exc}") from None


def keras_from_onnx(arch: str, onnx_path: Path, images: np.ndarray):
    """The zoo model ``arch`` with the weights of the fp32 ONNX file ``onnx_path``, the largest
    probability difference from the file, and whether the file is flip-averaged (its answer
    the mean over each image and its mirror image; the returned model is the plain network).

    ``images`` (float32, N x 28 x 28 x 1, a few thousand training images) set the
    batch-normalization statistics and check that the rebuilt model matches the file.
    """
    import keras
    import onnxruntime as ort

    from fmnistedge.training import zoo

    inits = _initializers(onnx_path)
    conv, bias, dense_w, dense_b = {}, {}, {}, {}
    for name, arr in inits.items():
        for pattern, into in ((CONV, conv), (BIAS, bias), (DENSE_W, dense_w), (DENSE_B, dense_b)):
            m = pattern.match(name)
            if m:
                into[m.group("layer")] = arr
                break
    model = zoo.build(arch)
    if "probs_none" in dense_w:  # a photo model with a "none of these" output
        from fmnistedge.training.phototrain import add_none_output

        model = add_none_output(model)
    bn_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    missing = [c.name for c in conv_layers if c.name not in conv or f"{c.name}" not in bias]
    missing += [d.name for d in dense_layers if d.name not in dense_w or d.name not in dense_b]
    if missing or len(bn_layers) != len(conv_layers):
        raise UsageError(f"--init-from {onnx_path} is not an fp32 ONNX export of {arch!r} with folded "
                         f"batch normalization (no weights for: {', '.join(missing) or 'its BN layers'})")
    for c in conv_layers:
        kernel = np.transpose(conv[c.name], (2, 3, 1, 0))  # ONNX OIHW -> Keras HWIO
        if kernel.shape != tuple(c.kernel.shape):
            raise UsageError(f"--init-from {onnx_path}: {c.name} has shape {kernel.shape}, "
                             f"expected {tuple(c.kernel.shape)} for {arch!r}")
        c.kernel.assign(kernel)
    for d in dense_layers:
        d.set_weights([dense_w[d.name], dense_b[d.name]])
    # First pass: every BN adds its folded bias only (mean 0, var 1 - eps, gamma 1).
    for c in conv_layers:
        bn = model.get_layer(f"{c.name}_bn")
        n = bias[c.name].shape[0]
        bn.set_weights([np.ones(n, np.float32), bias[c.name].astype(np.float32),
                        np.zeros(n, np.float32), np.full(n, 1.0 - bn.epsilon, np.float32)])
    # Second pass: measure each convolution's output and move it into the BN statistics.
    probe = keras.Model(model.input, [c.output for c in conv_layers])
    outs = probe.predict(images, batch_size=500, verbose=0)
    for c, out in zip(conv_layers, outs):
        bn = model.get_layer(f"{c.name}_bn")
        mean = out.mean(axis=(0, 1, 2)).astype(np.float32)
        var = out.var(axis=(0, 1, 2)).astype(np.float32)
        bn.set_weights([np.sqrt(var + bn.epsilon), bias[c.name].astype(np.float32) + mean, mean, var])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = session.run(None, {session.get_inputs()[0].name: images[:1000]})[0]
    ours = model.predict(images[:1000], batch_size=500, verbose=0)
    diff = float(np.abs(ref - ours).max())
    flip_averaged = False
    if diff > 1e-3:
        # A flip-averaged file (fmnistedge.training.mirror) answers with the mean over the mirror image;
        # the network inside it is the plain architecture, which is what fine-tuning starts from.
        mirrored = model.predict(images[:1000, :, ::-1], batch_size=500, verbose=0)
        flip_diff = float(np.abs(ref - (ours + mirrored) / 2).max())
        flip_averaged, diff = flip_diff < diff, min(diff, flip_diff)
    if diff > 1e-3:
        raise UsageError(f"--init-from {onnx_path}: the rebuilt {arch!r} differs from the file by up to "
                         f"{diff:.2g} in probability; it is not an fp32 export of this architecture")
    return model, diff, flip_averaged
