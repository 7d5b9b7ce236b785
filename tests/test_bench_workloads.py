"""``paddle-flops bench --train`` / ``--generate``: argument errors before any
work, and the generation loop's one-step adapter for both cache protocols."""
import paddle

from paddle_flops_ext.bench import generation
from paddle_flops_ext.cli.benchmarks import main


def test_train_with_an_unknown_model_is_refused(tmp_path, capsys):
    assert main(["--train", "--models", "nope", "--out", str(tmp_path)]) == 2
    assert "--models: with --train one of resnet50, vit_b16, gpt2_small" in capsys.readouterr().err


def test_train_and_generate_together_are_refused(tmp_path, capsys):
    assert main(["--train", "--generate", "4,2", "--out", str(tmp_path)]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_generate_needs_two_numbers(tmp_path, capsys):
    assert main(["--generate", "4", "--out", str(tmp_path)]) == 2
    assert "--generate: give P,T" in capsys.readouterr().err


def test_one_step_adapter_drives_the_zoo_llama_cache():
    from paddle_flops_ext.models.llama import Llama, LlamaConfig
    model = Llama(LlamaConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=32,
                              max_seq_len=16))
    model.eval()
    ids = paddle.randint(0, 50, [1, 4])
    with paddle.no_grad():
        logits, cache = generation._step(model, ids, None)
        assert logits.shape == [1, 4, 50]
        logits2, cache2 = generation._step(model, ids[:, :1], cache)
    assert logits2.shape == [1, 1, 50]
    assert generation._vocab(model) == 50


def test_one_step_adapter_reads_model_outputs_with_logits_and_past_key_values():
    class Output:                       # what PaddleNLP's causal LMs return with return_dict
        def __init__(self, logits, past):
            self.logits, self.past_key_values = logits, past

    class TinyLM(paddle.nn.Layer):
        def forward(self, ids, past_key_values=None, use_cache=False):
            past = (past_key_values or 0) + ids.shape[1]
            return Output(paddle.zeros([ids.shape[0], ids.shape[1], 7]), past)

    logits, past = generation._step(TinyLM(), paddle.ones([1, 3], "int64"), None)
    assert logits.shape == [1, 3, 7] and past == 3
    _, past = generation._step(TinyLM(), paddle.ones([1, 1], "int64"), past)
    assert past == 4
