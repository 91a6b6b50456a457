"""Indexing and query pipelines built from a :class:`~workbench.config.PipelineConfig`."""

from workbench.pipelines.knowledge_base import KnowledgeBase, build_indexing_pipeline, load_knowledge_base
from workbench.pipelines.query import (
    QueryPipeline,
    RAGAnswer,
    Source,
    build_query_pipeline,
    make_generator,
    validate_question,
)

__all__ = [
    "KnowledgeBase",
    "QueryPipeline",
    "RAGAnswer",
    "Source",
    "build_indexing_pipeline",
    "build_query_pipeline",
    "load_knowledge_base",
    "make_generator",
    "validate_question",
]
