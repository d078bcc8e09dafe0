"""Shared fixtures: a tokenizer and a tiny model, built once per session (seconds, not minutes)."""

import pytest
import torch

from stepwiser_core.base_policy import build_mixture, tokenizer_corpus
from stepwiser_core.models import ModelShape, build_model
from stepwiser_core.tokenizer import build_tokenizer
from stepwiser_core.world.problems import generate_problems


@pytest.fixture(scope="session")
def toy_tokenizer():
    examples = build_mixture(generate_problems(0, 30), 0, 0.1, 0.65, 0.5, 0.7, 0.3)
    return build_tokenizer(tokenizer_corpus(examples), vocab_size=400)


@pytest.fixture(scope="session")
def tiny_shape():
    return ModelShape(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64)


@pytest.fixture()
def tiny_model(toy_tokenizer, tiny_shape):
    return build_model(toy_tokenizer, tiny_shape, seed=0)


@pytest.fixture()
def varied_model(tiny_model):
    """The tiny model with larger random weights: its greedy text varies with the context (at the
    default init it repeats one token), and its next-token distribution is far from uniform."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in tiny_model.parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return tiny_model
