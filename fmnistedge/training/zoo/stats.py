"""Parameter and multiply-accumulate counts of a built Keras model."""

from __future__ import annotations

import math


def _spatial(shape) -> int:
    return int(math.prod(d for d in shape[1:-1] if d is not None))


def count_macs(model) -> int:
    """Multiply-accumulates per image of the layers that do arithmetic work.

    Conv2D: out_h*out_w*k_h*k_w*c_in*c_out; DepthwiseConv2D: out_h*out_w*k_h*k_w*c;
    Dense and the RBF layer: in*out. Pooling, activations and normalization are
    left out (they are not MACs and are folded or cheap), as most papers do.
    """
    from fmnistedge.training.mirror import is_flip_averaged

    # A flip-averaged model runs its network twice (fmnistedge.training.mirror).
    return (2 if is_flip_averaged(model) else 1) * sum(_layer_macs(layer) for layer in model.layers)


def _layer_macs(layer) -> int:
    total = 0
    kind = type(layer).__name__
    if kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        kernel = layer.depthwise_kernel if kind != "Conv2D" else layer.kernel
        k_h, k_w, c_in, mult = (int(d) for d in kernel.shape)
        out_spatial = _spatial(layer.output.shape)
        total += out_spatial * k_h * k_w * c_in * mult
        if kind == "SeparableConv2D":
            total += out_spatial * c_in * mult * int(layer.filters)
    elif kind in ("Dense", "RBF"):
        weight = layer.kernel if kind == "Dense" else layer.codes
        total += _spatial(layer.output.shape) * int(weight.shape[0]) * int(weight.shape[1])
    return total
