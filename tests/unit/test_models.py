from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ModelNotFoundError
from workbench.models import is_chat_model, load_embedding_model, resolve_gguf, resolve_hf_model


def test_bundled_generators_resolve_to_files() -> None:
    gemma = resolve_gguf("gemma-3-270m")
    smol = resolve_gguf("smollm2-135m")
    assert gemma.is_file() and gemma.stat().st_size > 100_000_000
    assert smol.suffix == ".gguf" and smol.is_file()
    assert resolve_hf_model("smollm2-135m") == (smol.parent, smol.name)


def test_user_paths(tmp_path: Path) -> None:
    fake = tmp_path / "my.gguf"
    fake.write_bytes(b"GGUF")
    assert resolve_gguf(str(fake)) == fake
    with pytest.raises(ModelNotFoundError, match=r"neither a bundled model"):
        resolve_gguf(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotFoundError, match=r"config.json"):
        resolve_hf_model(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match=r"sentence-transformers folder"):
        load_embedding_model(str(tmp_path / "nope"))


def test_chat_model_detection() -> None:
    assert is_chat_model("smollm2-135m") and not is_chat_model("gemma-3-270m")
    assert is_chat_model("/models/Qwen2.5-0.5B-Instruct.gguf")


@pytest.mark.parametrize("name", ["minilm", "e5-small"])
def test_embedders_are_normalised_and_shared(name: str) -> None:
    m = load_embedding_model(name)
    assert load_embedding_model(name) is m
    q = m.embed_queries(["gold card annual fee"])
    p = m.embed_passages(["The Gold Card annual fee is RMB 600.", "Transfers arrive in 2 hours."])
    assert q.shape == (1, m.dim) and p.shape == (2, m.dim) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    sims = p @ q[0]
    assert sims[0] > sims[1], "the relevant passage must be closer"
    assert m.embed_passages([]).shape == (0, m.dim)


def test_multilingual_model_crosses_languages() -> None:
    m = load_embedding_model("e5-small")
    q = m.embed_queries(["金卡年费多少"])[0]
    p = m.embed_passages(["The Gold Card annual fee is RMB 600 per year.", "ATM withdrawals abroad cost RMB 12."])
    assert p[0] @ q > p[1] @ q
