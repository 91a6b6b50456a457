"""Haystack components of the workbench, one per file, grouped by family.

Importing this package adds ``workbench.components`` (and nothing wider) to Haystack's deserialization
allowlist, so ``Pipeline.from_dict`` can rebuild pipelines made of these components.
"""

from haystack.core.serialization_security import allow_deserialization_module

from workbench.components.builders.prompt_builder import PromptBuilder
from workbench.components.embedders.document_embedder import DocumentEmbedder
from workbench.components.embedders.query_embedder import QueryEmbedder
from workbench.components.generators.extractive import ExtractiveAnswerer
from workbench.components.generators.grounding_guard import GroundingGuard
from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator
from workbench.components.generators.openai_generator import OpenAICompatibleGenerator
from workbench.components.generators.transformers_generator import TransformersGenerator
from workbench.components.loaders.dataset_loader import DatasetLoader
from workbench.components.loaders.file_loader import FileLoader
from workbench.components.rankers.cross_encoder_reranker import CrossEncoderReranker
from workbench.components.rankers.embedding_reranker import EmbeddingReranker
from workbench.components.retrievers.bm25_retriever import BM25Retriever
from workbench.components.retrievers.faiss_retriever import FaissRetriever
from workbench.components.retrievers.index_writer import IndexWriter
from workbench.components.retrievers.rank_fusion import RankFusion
from workbench.components.splitters.sentence_splitter import SentenceSplitter

__all__ = [
    "BM25Retriever",
    "CrossEncoderReranker",
    "DatasetLoader",
    "DocumentEmbedder",
    "EmbeddingReranker",
    "ExtractiveAnswerer",
    "FaissRetriever",
    "FileLoader",
    "GroundingGuard",
    "IndexWriter",
    "LlamaCppGenerator",
    "OpenAICompatibleGenerator",
    "PromptBuilder",
    "QueryEmbedder",
    "RankFusion",
    "SentenceSplitter",
    "TransformersGenerator",
]

allow_deserialization_module("workbench.components")
