"""Cache keys: a hash of everything that changes an answer.

Keys are ``{prefix}:{layer}:{kb}:{ns}:{digest}``: ``kb`` hashes the knowledge-base version (so one
version can be purged by pattern), ``ns`` hashes tenant, knowledge-base version and config hash (a
tenant's namespace), ``digest`` hashes the normalized query::

    ns = namespace("acme", kb_version="v1", config_hash="ab12")
    exact_key("wb", ns, "gold card annual fee")     # 'wb:exact:…:…:…'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from workbench.config import PipelineConfig

__all__ = ["Namespace", "answer_config_hash", "citing_key", "citing_namespaces_key", "digest", "exact_key", "namespace",
           "semantic_key", "user_key"]


def digest(*parts: str, size: int = 32) -> str:
    """Hex sha256 of the parts, separated unambiguously (length-prefixed)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()[:size]


@dataclass(frozen=True, slots=True)
class Namespace:
    """A tenant's slice of the cache for one knowledge-base version and config."""

    tenant: str
    kb_version: str
    config_hash: str
    kb: str
    """Hash of the knowledge-base version."""
    ns: str
    """Hash of tenant, knowledge-base version and config hash."""

    @property
    def tag(self) -> str:
        """``{kb}:{ns}``, the part of every key that names the namespace."""
        return f"{self.kb}:{self.ns}"


def namespace(tenant: str, *, kb_version: str, config_hash: str) -> Namespace:
    """The namespace of a tenant under a knowledge-base version and config hash."""
    return Namespace(tenant, kb_version, config_hash, digest(kb_version, size=12),
                     digest(tenant, kb_version, config_hash, size=16))


def exact_key(prefix: str, ns: Namespace, normalized: str) -> str:
    """Key of an exact-cache entry."""
    return f"{prefix}:exact:{ns.tag}:{digest(normalized)}"


def semantic_key(prefix: str, ns: Namespace, normalized: str) -> str:
    """Key of a semantic-cache payload (one per normalized question per namespace)."""
    return f"{prefix}:sem:{ns.tag}:{digest(normalized)}"


def user_key(prefix: str, ns: Namespace, user: str, name: str) -> str:
    """Key of a per-user entry: the user is part of the key, so no other user can reach it."""
    return f"{prefix}:user:{ns.tag}:{digest(user, size=24)}:{digest(name)}"


def citing_key(prefix: str, layer: str, tag: str, doc_id: str) -> str:
    """Key of the set of a layer's entries (their keys) in one namespace (``tag``) that cite document ``doc_id``."""
    return f"{prefix}:cites:{layer}:{tag}:{digest(doc_id)}"


def citing_namespaces_key(prefix: str, layer: str, kb: str) -> str:
    """Key of the set of a layer's namespace tags, under knowledge-base hash ``kb``, that hold citing entries."""
    return f"{prefix}:cites:{layer}:{kb}"


def answer_config_hash(cfg: PipelineConfig) -> str:
    """Hash of the config parts that change answers (everything but the cache section, name and paths)."""
    data = cfg.to_dict()
    for key in ("name", "description", "index_dir", "cache"):
        data.pop(key, None)
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
