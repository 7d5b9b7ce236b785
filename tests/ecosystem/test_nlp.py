"""PaddleNLP 2.8.1 language models, tiny configs with random weights, built
from config objects (nothing downloaded). Checks: see _harness.py.

Hand-derived contractions added to the Linear hooks (B batch, S sequence):
- attention per layer: Q K^T and weights x V, B x H_q x S x S x D each
  (grouped/multi-query attention is priced by query heads; causal attention
  counted over the whole S x S matrix, causal="full" of docs/conventions.md);
- T5 decoder: self-attention over T x T plus cross-attention over T x S;
- language-model heads that multiply by a weight with paddle.matmul instead of
  an nn.Linear (GPT, LLaMA, BLOOM, QWen, OPT): B x S x hidden x vocab.
"""
import paddle
import pytest

pytest.importorskip("paddlenlp")

from paddlenlp import transformers as T  # noqa: E402

from _harness import Spec, ids, make_tests  # noqa: E402

V, HID, HEADS, LAYERS, B, S = 1000, 64, 4, 2, 1, 16
D = HID // HEADS


def tokens(seq=S):
    return lambda: ((ids(B, seq, V),), {})


def attn(layers, heads=HEADS, d=D, sq=S, sk=S):
    return layers * 2 * B * heads * sq * sk * d


def lm_head(hidden=HID, vocab=V):
    return B * S * hidden * vocab


def nlp(mid, config_cls, model_cls, cfg, hand, inputs=None, **kw):
    return Spec(id=mid, build=lambda: model_cls(config_cls(**cfg)), inputs=inputs or tokens(),
                extra_macs=lambda net, args, kwargs: hand, family="nlp", **kw)


ENC = dict(vocab_size=V, hidden_size=HID, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
           intermediate_size=128, max_position_embeddings=64, hidden_dropout_prob=0.0,
           attention_probs_dropout_prob=0.0)

SPECS = [
    nlp("BERT", T.BertConfig, T.BertModel, ENC, attn(LAYERS)),
    nlp("ERNIE-3.0", T.ErnieConfig, T.ErnieModel, dict(ENC, task_type_vocab_size=3, use_task_id=True),
        attn(LAYERS)),
    # ALBERT: one shared layer group run num_hidden_layers times; embeddings 32 wide
    nlp("ALBERT", T.AlbertConfig, T.AlbertModel, dict(ENC, embedding_size=32, num_hidden_groups=1,
                                                      inner_group_num=1), attn(LAYERS)),
    nlp("GPT-2", T.GPTConfig, T.GPTLMHeadModel,
        dict(vocab_size=V, hidden_size=HID, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
             intermediate_size=256, max_position_embeddings=64, hidden_dropout_prob=0.0,
             attention_probs_dropout_prob=0.0),
        attn(LAYERS) + lm_head()),
    nlp("LLaMA-GQA", T.LlamaConfig, T.LlamaForCausalLM,
        dict(vocab_size=V, hidden_size=HID, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
             num_key_value_heads=2, intermediate_size=128, max_position_embeddings=64),
        attn(LAYERS) + lm_head()),
    nlp("ChatGLMv2-MQA", T.ChatGLMv2Config, T.ChatGLMv2ForCausalLM,
        dict(vocab_size=V, padded_vocab_size=V, hidden_size=HID, num_layers=LAYERS, num_hidden_layers=LAYERS,
             num_attention_heads=HEADS, kv_channels=D, multi_query_attention=True,
             multi_query_group_num=1, ffn_hidden_size=128, seq_length=64),
        attn(LAYERS)),  # its output_layer is an nn.Linear
    nlp("BLOOM", T.BloomConfig, T.BloomForCausalLM,
        dict(vocab_size=V, hidden_size=HID, n_layer=LAYERS, n_head=HEADS),
        attn(LAYERS) + lm_head()),
    nlp("QWen", T.QWenConfig, T.QWenForCausalLM,
        dict(vocab_size=V, hidden_size=HID, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
             intermediate_size=256, seq_length=64, max_position_embeddings=64, kv_channels=D),
        attn(LAYERS) + lm_head()),
    nlp("OPT", T.OPTConfig, T.OPTForCausalLM,
        dict(vocab_size=V, hidden_size=HID, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
             intermediate_size=128, max_position_embeddings=64, word_embed_proj_dim=HID,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
        attn(LAYERS) + lm_head()),
    # T5 encoder-decoder: encoder S=16 tokens, decoder T=8 tokens
    nlp("T5", T.T5Config, T.T5Model,
        dict(vocab_size=V, d_model=HID, d_kv=D, d_ff=128, num_layers=LAYERS,
             num_decoder_layers=LAYERS, num_heads=HEADS, dropout_rate=0.0),
        attn(LAYERS) + attn(LAYERS, sq=8, sk=8) + attn(LAYERS, sq=8, sk=S),
        inputs=lambda: ((), dict(input_ids=ids(B, S, V), decoder_input_ids=ids(B, 8, V, seed=1)))),
]

TRACE_XFAIL: dict = {}   # every model here traces and equals eager
for _s in SPECS:
    if _s.id in TRACE_XFAIL:
        _s.xfail = dict(trace=TRACE_XFAIL[_s.id])

globals().update(make_tests(__name__, SPECS))


def test_config_model_built_lazily_allocates_nothing_and_counts_exactly():
    """PaddleNLP initialises weights in __init__ even under paddle.LazyGuard;
    pfe.lazy_init adds its no_init_weights(), so a LLaMA-7B-shaped config is
    built without weights and counted shape-only (auto mode traces it)."""
    import paddle_flops_ext as pfe

    hidden, layers, heads, inter, vocab = 4096, 32, 32, 11008, 32000
    net = pfe.build_lazily(T.LlamaForCausalLM, T.LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=heads, intermediate_size=inter, max_position_embeddings=2048,
        tie_word_embeddings=False))
    assert not any(p._is_initialized() for p in net.parameters())
    per_layer = 4 * hidden * hidden + 3 * hidden * inter + 2 * hidden
    params = layers * per_layer + 2 * vocab * hidden + hidden
    assert params == 6_738_415_616          # LLaMA-7B
    seq = 128
    r = pfe.profile(net, input_spec=[paddle.static.InputSpec([1, seq], "int64")])
    assert r.mode == "trace" and r.params == params
    assert r.macs == seq * (layers * (per_layer - 2 * hidden) + vocab * hidden) + layers * 2 * heads * seq * seq * (hidden // heads)
