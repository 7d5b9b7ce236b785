"""PPDiffusers 0.29.0: a small UNet2DConditionModel (the Stable Diffusion UNet
structure: ResNet blocks, cross-attention transformer blocks, time embedding)
with random weights; sample 1 x 4 x 16 x 16, 8 text tokens of width 32.
Checks: see _harness.py.

Hand-derived attention products: every ppdiffusers ``Attention`` block computes
Q K^T and weights x V over its to_q outputs (Lq tokens) and to_k outputs (Lk
tokens, the text for cross-attention): 2 x B x Lq x Lk x inner_dim. We read Lq
and Lk from our own post-hooks on to_q / to_k in a separate forward.
"""
import pytest

pytest.importorskip("ppdiffusers")

import paddle  # noqa: E402

from _harness import Spec, make_tests, randn  # noqa: E402


def build_unet():
    from ppdiffusers import UNet2DConditionModel
    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
        attention_head_dim=8, norm_num_groups=32)


def unet_inputs():
    return ((randn(1, 4, 16, 16), paddle.to_tensor([10], dtype="int64"), randn(1, 8, 32, seed=1)), {})


def attention_products(net, args, kwargs):
    from ppdiffusers.models.attention_processor import Attention
    seen, handles, total = {}, [], [0]

    def rec(key):
        def hook(layer, inputs, output):
            seen[key] = output.shape
        return hook

    def done(layer, inputs, output):
        bq, lq, inner = seen.pop((id(layer), "q"))
        _, lk, _ = seen.pop((id(layer), "k"))
        total[0] += 2 * bq * lq * lk * inner

    for layer in net.sublayers():
        if isinstance(layer, Attention):
            handles.append(layer.to_q.register_forward_post_hook(rec((id(layer), "q"))))
            handles.append(layer.to_k.register_forward_post_hook(rec((id(layer), "k"))))
            handles.append(layer.register_forward_post_hook(done))
    try:
        with paddle.no_grad():
            net(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return total[0]


SPECS = [
    Spec(id="UNet2DCondition-SD-small", build=build_unet, inputs=unet_inputs,
         extra_macs=attention_products, family="diffusion"),
]

globals().update(make_tests(__name__, SPECS))
