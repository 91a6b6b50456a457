"""One generator per question language: ``generator.by_language`` (issue 12: the best reader differs by language).

A :class:`LanguageRoutedGenerator` holds a generator per language and a default one; each call goes to the
generator of the question's language (:func:`workbench.text.detect_language`), so a preset can answer
English with one model and Chinese with another::

    gen = LanguageRoutedGenerator({"zh": qwen_1_5b}, default=qwen_0_5b)
    gen.run(prompt=p, messages=m, question="金卡年费多少")["meta"][0]["route"]   # 'zh'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from haystack import component

from workbench.components.generators.protocol import Generator
from workbench.text import detect_language

if TYPE_CHECKING:
    from workbench.config import GeneratorConfig

__all__ = ["LanguageRoutedGenerator"]


@component
class LanguageRoutedGenerator:
    """Sends each question to the generator of its language (see the module docstring).

    ``meta[0]["route"]`` names the language whose generator answered (``default`` when none was configured
    for it).
    """

    def __init__(self, routes: Mapping[str, Generator], *, default: Generator) -> None:
        """
        :param routes: language (``en``, ``zh``) → its generator.
        :param default: the generator of every other language.
        :raises ValueError: a route names a language :func:`~workbench.text.detect_language` never returns.
        """
        unknown = set(routes) - {"en", "zh"}
        if unknown:
            raise ValueError(f"generator.by_language: unknown language(s) {sorted(unknown)}; use 'en' or 'zh'")
        self.routes = dict(routes)
        self.default = default
        # which generators' ``run`` take the question's embedding (looked up once, not per request)
        self._takes_embedding = {id(gen) for gen in self.generators()
                                 if "query_embedding" in inspect.signature(gen.run).parameters}

    @classmethod
    def from_config(cls, g: GeneratorConfig, make: Callable[[GeneratorConfig], Generator]) -> Generator:
        """The generator of a config section: routed when it has ``by_language``, else ``make(g)`` itself.

        :param g: the ``generator`` section.
        :param make: builds one generator from a section without ``by_language`` (the pipeline's factory).
        :returns: a :class:`LanguageRoutedGenerator`, or the plain generator.
        """
        base = g.model_copy(update={"by_language": {}})
        default = make(base)
        if not g.by_language:
            return default
        return cls({lang: make(g.for_language(lang)) for lang in g.by_language}, default=default)

    def route(self, question: str) -> tuple[str, Generator]:
        """The route name (a language, or ``default``) and the generator for ``question``."""
        lang = detect_language(question)
        if lang in self.routes:
            return lang, self.routes[lang]
        return "default", self.default

    def generators(self) -> list[Generator]:
        """Every distinct generator (the default first)."""
        out: list[Generator] = [self.default]
        for gen in self.routes.values():
            if not any(gen is g for g in out):
                out.append(gen)
        return out

    def warm_up(self) -> None:
        """Load every generator's model."""
        for gen in self.generators():
            if hasattr(gen, "warm_up"):
                gen.warm_up()

    @property
    def dense(self) -> bool:
        """Whether a language's generator weighs the question embedding (an extractive answerer with sentence
        vectors): the query pipeline then passes ``query_embedding`` on."""
        return any(getattr(gen, "dense", False) for gen in self.generators())

    def _inputs(self, gen: Generator, query_embedding: Any, **kwargs: Any) -> dict[str, Any]:
        """The chosen generator's inputs: ``query_embedding`` only for one whose ``run`` takes it."""
        if query_embedding is not None and id(gen) in self._takes_embedding:
            kwargs["query_embedding"] = query_embedding
        return kwargs

    @staticmethod
    def _tag(out: dict[str, Any], route: str) -> dict[str, Any]:
        meta = [dict(m) for m in out.get("meta") or [{}]]
        meta[0]["route"] = route
        return {"replies": out["replies"], "meta": meta}

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
            documents: list[Any] | None = None, streaming_callback: Callable[[str], None] | None = None,
            query_embedding: Any = None) -> dict[str, Any]:
        """Answer with the generator of the question's language.

        :param prompt: the prompt of a base model.
        :param messages: the chat messages of a chat model.
        :param question: the question (its language picks the generator).
        :param documents: the passages (extractive answerers read them).
        :param streaming_callback: receives each text piece.
        :param query_embedding: the question's embedding, passed on to a generator that takes it.
        :returns: the chosen generator's ``replies`` and ``meta`` (``meta[0]["route"]`` added).
        :raises GeneratorError: the chosen generator failed.
        """
        route, gen = self.route(question)
        out = gen.run(**self._inputs(gen, query_embedding, prompt=prompt, messages=messages, question=question,
                                     documents=documents or [], streaming_callback=streaming_callback))
        return self._tag(out, route)

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    async def run_async(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
                        documents: list[Any] | None = None, streaming_callback: Callable[[str], None] | None = None,
                        query_embedding: Any = None) -> dict[str, Any]:
        """:meth:`run` on the event loop: the chosen generator's ``run_async`` when it has one."""
        route, gen = self.route(question)
        kwargs = self._inputs(gen, query_embedding, prompt=prompt, messages=messages, question=question,
                              documents=documents or [], streaming_callback=streaming_callback)
        if getattr(gen, "__haystack_supports_async__", False):
            out = await gen.run_async(**kwargs)  # type: ignore[attr-defined]
        else:
            out = gen.run(**kwargs)
        return self._tag(out, route)

    async def aclose(self) -> None:
        """Close every generator (worker threads, HTTP clients)."""
        for gen in self.generators():
            if hasattr(gen, "aclose"):
                await gen.aclose()
            elif hasattr(gen, "close"):
                gen.close()

    def close(self) -> None:
        """Blocking close of every generator that has ``close``."""
        for gen in self.generators():
            if hasattr(gen, "close"):
                gen.close()
