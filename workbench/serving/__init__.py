"""Serving: the OpenAI-compatible LLM service (and, later, the async RAG engine and HTTP app)."""

from workbench.serving.llm_server import LlamaCppBackend, SimulatedBackend, SimulatedLLM, create_llm_app

__all__ = ["LlamaCppBackend", "SimulatedBackend", "SimulatedLLM", "create_llm_app"]
