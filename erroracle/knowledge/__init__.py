"""The bundled cold-start knowledge base."""

from erroracle.knowledge.base import KnowledgeEntry, knowledge_records, load_entries, seed_lake

__all__ = ["KnowledgeEntry", "knowledge_records", "load_entries", "seed_lake"]
