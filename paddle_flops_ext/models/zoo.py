"""Every named model the package builds, in one table (:data:`ZOO`), and the
inputs each one takes (:func:`make_inputs`).

- ``paddle.vision.models`` CNNs, random weights (timing does not depend on
  the weights' values): resnet18, resnet50, mobilenet_v2,
  mobilenet_v3_small, mobilenet_v3_large, shufflenet_v2_x1_0, vgg16;
- transformers with hand-written attention from this package: ``vit_b16``
  (ViT-B/16) and ``swin_t`` (Swin-T);
- language models fed token ids: ``llama_small`` / ``llama_medium``, the
  LLaMA-style decoder of :mod:`.llama` at small sizes (:data:`LLAMA_SIZES`),
  ``gpt2_small`` (GPT-2 small shape, tied head) and ``paddlenlp_llama`` (a
  small PaddleNLP ``LlamaForCausalLM``; needs PaddleNLP).

Who runs which (each tuple in the order its command lists them):
:data:`BENCH_MODELS` is ``paddle-flops bench --thorough``'s sweep
(:data:`QUICK_MODELS` the quick default's), :data:`TRAIN_MODELS`
``paddle-flops bench --train``, :data:`GENERATION_MODELS` ``paddle-flops
bench --generate``.

Importing this module does not import Paddle: each builder imports its model
when called (``paddle-flops --help`` lists these names).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable

CNNS = ("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
        "shufflenet_v2_x1_0", "vgg16")
BENCH_MODELS = CNNS + ("vit_b16", "swin_t", "llama_small")
QUICK_MODELS = ("resnet18", "mobilenet_v3_small")     # the quick default of paddle-flops bench
TRAIN_MODELS = ("resnet50", "vit_b16", "gpt2_small")
GENERATION_MODELS = ("llama_small", "llama_medium", "paddlenlp_llama")

LLAMA_SIZES = {   # the zoo LLaMA at small sizes; built for max_seq_len tokens (the bench: at least 512)
    "small": dict(vocab_size=32000, dim=512, n_layers=8, n_heads=8, n_kv_heads=4, ffn_dim=1408, max_seq_len=1024),
    "medium": dict(vocab_size=32000, dim=1024, n_layers=12, n_heads=16, n_kv_heads=4, ffn_dim=2816,
                   max_seq_len=1024),
}
PADDLENLP_LLAMA = dict(vocab_size=32000, hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                       num_key_value_heads=4, intermediate_size=1408, max_position_embeddings=1024)


TOKENS = 128      # a token model is counted at this sequence length unless told (the bench's default too)


@dataclass(frozen=True)
class InputShape:
    """One input of a forward: its shape (batch first) and dtype."""
    shape: tuple
    dtype: str = "float32"

    def __str__(self) -> str:
        return ",".join(map(str, self.shape)) + ("" if self.dtype == "float32" else f":{self.dtype}")


@dataclass
class ZooEntry:
    name: str
    build: Callable[[int], object]            # size -> Layer: the image side, or the longest sequence
    input_kind: str = "image"                 # image | tokens | custom
    source: str = "zoo"                       # zoo | user (module:callable)
    vocab: int = 0                            # tokens: ids drawn from [0, vocab)
    sample_shape: tuple | None = None         # custom: per-sample shape (no batch dim)
    dtype: str = "float32"
    notes: list = field(default_factory=list)
    kind: str = "custom"                      # vision | transformer | llm | custom
    size: int = 224                           # the default size: image side, or tokens (llm: its context)
    title: str = ""                           # what the model is, for result tables
    config: dict | None = None                # llm: the configuration it is built from


def _vision(name: str, title: str) -> ZooEntry:
    def build(size: int):
        import paddle.vision.models as vm
        return getattr(vm, name)(pretrained=False)
    return ZooEntry(name, build, kind="vision", title=title)


def _vit(size: int):
    from .vit import vit_base_patch16  # local: keeps Paddle out of --help
    return vit_base_patch16(img_size=size)


def _swin(size: int):
    from .swin import swin_tiny  # local: keeps Paddle out of --help
    return swin_tiny(img_size=size)


def _llama(size: str) -> ZooEntry:
    config = LLAMA_SIZES[size]

    def build(seq_len: int):
        from .llama import Llama, LlamaConfig  # local: keeps Paddle out of --help
        return Llama(LlamaConfig(**{**config, "max_seq_len": max(512, seq_len)}))
    return ZooEntry(f"llama_{size}", build, input_kind="tokens", vocab=config["vocab_size"], kind="llm",
                    size=config["max_seq_len"], title=f"LLaMA-style decoder, {size}", config=config)


def _gpt2_small(seq_len: int):
    from .gpt import gpt2_small  # local: keeps Paddle out of --help
    return gpt2_small()


def _paddlenlp_llama(seq_len: int):
    try:
        from paddlenlp.transformers import LlamaConfig as NLPConfig, LlamaForCausalLM
    except Exception as exc:  # noqa: BLE001 - not installed here
        raise ValueError(f"paddlenlp_llama needs PaddleNLP ({type(exc).__name__}: {exc})") from None
    return LlamaForCausalLM(NLPConfig(**PADDLENLP_LLAMA))


def _zoo() -> dict[str, ZooEntry]:
    titles = ("ResNet-18", "ResNet-50", "MobileNetV2", "MobileNetV3-Small", "MobileNetV3-Large",
              "ShuffleNetV2 1.0x", "VGG-16")
    entries = [_vision(n, t) for n, t in zip(CNNS, titles)] + [
        ZooEntry("vit_b16", _vit, kind="transformer", title="ViT-B/16"),
        ZooEntry("swin_t", _swin, kind="transformer", title="Swin-T"),
        _llama("small"), _llama("medium"),
        ZooEntry("gpt2_small", _gpt2_small, input_kind="tokens", vocab=50257, kind="llm", size=512,
                 title="GPT-2 small shape (tied head)"),
        ZooEntry("paddlenlp_llama", _paddlenlp_llama, input_kind="tokens", vocab=PADDLENLP_LLAMA["vocab_size"],
                 kind="llm", size=PADDLENLP_LLAMA["max_position_embeddings"],
                 title="PaddleNLP LlamaForCausalLM, small", config=PADDLENLP_LLAMA),
    ]
    return {e.name: e for e in entries}


ZOO = _zoo()


def default_inputs(entry: ZooEntry, batch: int = 1) -> list[InputShape]:
    """What a zoo model is counted at unless told: ``batch`` images of its
    default side, or ``batch`` sequences of :data:`TOKENS` token ids."""
    if entry.input_kind == "tokens":
        return [InputShape((batch, TOKENS), "int64")]
    if entry.input_kind == "custom":
        return [InputShape((batch, *entry.sample_shape), entry.dtype)]
    return [InputShape((batch, 3, entry.size, entry.size))]


def size_of(entry: ZooEntry, inputs: list[InputShape]) -> int:
    """The size to build ``entry`` at for ``inputs``: the image side, or the
    sequence length (a token model is built for at least that many)."""
    shape = inputs[0].shape
    if entry.input_kind == "tokens":
        return max(shape[1] if len(shape) > 1 else shape[0], entry.size)
    return shape[-1] if len(shape) == 4 else entry.size


def suggestions(name: str, also=()) -> list[str]:
    """Zoo names (and ``also``) close to a misspelled ``name``, best first."""
    return difflib.get_close_matches(name, list(ZOO) + list(also), n=3, cutoff=0.6)


def make_inputs(entry: ZooEntry, batch: int, size: int | None = None, seed: int | None = 0) -> list:
    """Inputs for ``entry`` on the current device: ``batch`` images of side
    ``size`` or sequences of ``size`` token ids (default: ``entry.size``), or
    ``batch`` samples of ``entry.sample_shape``; drawn after ``paddle.seed(seed)``
    (``seed=None``: from the generator as it stands)."""
    import paddle
    size = entry.size if size is None else size
    if seed is not None:
        paddle.seed(seed)
    if entry.input_kind == "tokens":
        return [paddle.randint(0, entry.vocab, [batch, size], dtype="int64")]
    if entry.input_kind == "custom":
        shape = [batch, *entry.sample_shape]
        if "int" in entry.dtype:
            return [paddle.randint(0, 2, shape, dtype=entry.dtype)]
        return [paddle.randn(shape, dtype=entry.dtype)]
    return [paddle.randn([batch, 3, size, size], dtype="float32")]
