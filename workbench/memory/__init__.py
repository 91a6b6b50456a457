"""Conversation memory: a window of recent turns under a token cap, a summary hook, durable session stores.

```python
memory = ConversationMemory.from_config(cfg.memory, tokenizer=generator.tokenize)
view = await memory.aload("acme", "s1")
standalone = rewrite_followup(view, "and for the platinum one?")
await memory.aappend("acme", "s1", question, answer, meta={META_STANDALONE: standalone})
```
"""

from workbench.memory.conversation import ConversationMemory, MemoryView
from workbench.memory.errors import SessionIdError, SessionImportError, SessionNotFoundError, SessionStoreError
from workbench.memory.records import ANY_OWNER, SessionExport, Summary, Turn
from workbench.memory.rewrite import (
    META_STANDALONE,
    FollowupRewriter,
    LLMRewriter,
    RuleBasedRewriter,
    rewrite_followup,
)
from workbench.memory.stores import (
    InProcessSessionStore,
    PostgresSessionStore,
    RedisSessionStore,
    SessionStore,
    SQLiteSessionStore,
    make_session_store,
)
from workbench.memory.summary import ExtractiveSummarizer, LocalModelSummarizer, Summarizer

__all__ = [
    "ANY_OWNER",
    "ConversationMemory",
    "ExtractiveSummarizer",
    "FollowupRewriter",
    "InProcessSessionStore",
    "LLMRewriter",
    "LocalModelSummarizer",
    "META_STANDALONE",
    "MemoryView",
    "PostgresSessionStore",
    "RedisSessionStore",
    "RuleBasedRewriter",
    "SQLiteSessionStore",
    "SessionExport",
    "SessionIdError",
    "SessionImportError",
    "SessionNotFoundError",
    "SessionStore",
    "SessionStoreError",
    "Summarizer",
    "Summary",
    "Turn",
    "make_session_store",
    "rewrite_followup",
]
