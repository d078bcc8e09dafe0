"""The toy tokenizer round-trips any text; a saved model and tokenizer reload to the same behaviour."""
import pytest
import torch

from stepwiser_core.models import default_device, load_model, save_model
from stepwiser_core.tokenizer import CHUNK_CLOSE, CHUNK_OPEN, load_tokenizer

TEXTS = ["Ann gets 15 more.\n\n7+15=22\n\nThe answer is \\boxed{22}.", "garbage ✓ 日本語 \t\n  x  ",
         "<chunk>Multiply by 3.\n12*3=36</chunk>\n<chunk>The answer is \\boxed{36}.</chunk>", "", "   "]


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(toy_tokenizer, text):
    ids = toy_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert toy_tokenizer.decode(ids) == text


def test_world_numbers_are_single_tokens_and_chunk_tags_are_one_token_each(toy_tokenizer):
    # The toy world's values are at most 19: learned on a realistic corpus, each is one token in an
    # equation, so copying and arithmetic work on whole numbers (see the tokenizer module docstring).
    from stepwiser_core.base_policy import build_mixture, tokenizer_corpus
    from stepwiser_core.tokenizer import build_tokenizer
    from stepwiser_core.world.problems import generate_problems

    tok = build_tokenizer(tokenizer_corpus(build_mixture(generate_problems(0, 500), 0, 0.04, 0.65, 0.33, 0.7, 0.3)))
    whole = [a for a in range(20) if tok.tokenize(str(a)) == [str(a)]]
    assert len(whole) >= 16, whole  # BPE with 512 tokens merges most two-digit values, not all (e.g. "11")
    assert tok.tokenize("12+5=17") == ["12", "+", "5", "=", "17"]
    assert len(toy_tokenizer.tokenize(CHUNK_OPEN)) == len(toy_tokenizer.tokenize(CHUNK_CLOSE)) == 1


def test_chat_template_is_chatml(toy_tokenizer):
    text = toy_tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                             add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert toy_tokenizer.eos_token == "<|im_end|>" and toy_tokenizer.padding_side == "left"


def test_save_load_round_trip(tmp_path, tiny_model, toy_tokenizer):
    save_model(tiny_model, toy_tokenizer, tmp_path / "m")
    model, tok = load_model(tmp_path / "m", device="cpu")  # the fixture's model is on the CPU, on a GPU machine too
    ids = torch.tensor([toy_tokenizer(TEXTS[0])["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, tiny_model.eval()(ids).logits)
    for text in TEXTS:
        assert tok(text)["input_ids"] == toy_tokenizer(text)["input_ids"]
    assert tok.chat_template == toy_tokenizer.chat_template


def test_load_tokenizer_avoids_the_autotokenizer_trap(tmp_path, tiny_model, toy_tokenizer):
    # Next to a qwen2 config.json, AutoTokenizer builds Qwen2Tokenizer (reference/ecosystem.md §3), which can
    # re-tokenise text differently; load_tokenizer must return the tokenizer we trained, unchanged.
    save_model(tiny_model, toy_tokenizer, tmp_path / "m")
    loaded = load_tokenizer(tmp_path / "m")
    assert type(loaded) is type(toy_tokenizer) and "Qwen2" not in type(loaded).__name__
    for text in TEXTS:
        assert loaded(text)["input_ids"] == toy_tokenizer(text)["input_ids"]


def test_a_loaded_model_goes_to_this_processs_gpu_when_there_is_one(monkeypatch, tmp_path, tiny_model, toy_tokenizer):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # nothing is moved: only the choice is checked
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert default_device() == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "3")  # the fourth process of an accelerate or torchrun launch
    assert default_device() == torch.device("cuda", 3)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # found on a GPU: 2 processes on 1 GPU
    with pytest.raises(RuntimeError, match="LOCAL_RANK=3 has no GPU of its own: this machine has 1"):
        default_device()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    save_model(tiny_model, toy_tokenizer, tmp_path / "m")
    moved = []
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: moved.append(a) or self)
    load_model(tmp_path / "m")
    assert moved == [(torch.device("cuda", 3),)]
    moved.clear()
    load_model(tmp_path / "m", device="cpu")  # an explicit device wins
    assert moved == [("cpu",)]


def test_load_model_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model at"):
        load_model(tmp_path / "nothing")


def test_same_seed_same_weights(toy_tokenizer, tiny_shape):
    from stepwiser_core.models import build_model
    a, b = build_model(toy_tokenizer, tiny_shape, 3), build_model(toy_tokenizer, tiny_shape, 3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
