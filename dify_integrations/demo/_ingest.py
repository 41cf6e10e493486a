"""Demo step: load the shipped handbook into a new knowledge base, then query it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dify_integrations.demo._handbook import handbook_articles

if TYPE_CHECKING:
    from dify_integrations.demo._runner import _Demo

INGEST_QUESTION = "How do I restore files from a snapshot?"


def knowledge_ingest(demo: _Demo, number: int) -> None:
    """``DifyVectorStore.from_documents`` on the handbook (progress bar on a terminal),
    a re-run that adds nothing, then a search of the new knowledge base."""
    from langchain_core.documents import Document

    from dify_integrations.demo._runner import StepResult
    from dify_integrations.langchain import DifyVectorStore

    t, term = demo.target, demo.term
    term.heading(number, "Knowledge base ingestion: DifyVectorStore.from_documents")
    docs = [
        Document(
            page_content=a.text,
            metadata={"source": a.name, "title": a.title, "category": a.category},
        )
        for a in handbook_articles()
    ]
    name = f"Handbook {time.strftime('%Y-%m-%d %H%M%S')}"  # Dify: at most 40 characters
    start = time.perf_counter()
    store = DifyVectorStore.from_documents(
        docs, dataset_name=name, api_key=t.dataset_api_key, base_url=t.base_url
    )
    report = store.last_report
    assert report is not None
    term.kv("Knowledge base", f"{name} ({store.dataset_id})")
    term.line(f"   {report.created} documents created and indexed, {len(report.failures)} failed")
    again = store.ingest(docs)
    term.line(f"   re-run: {again.created} created, {again.skipped} skipped (no duplicates)")
    found = store.similarity_search_with_score(INGEST_QUESTION, k=3)
    term.line(f"   {term.style('Q:', 'bold')} {INGEST_QUESTION}")
    for i, (doc, score) in enumerate(found, 1):
        term.line(
            f"     [{i}] {doc.metadata.get('source')} — {doc.metadata.get('title')}"
            f"  score {score:.2f}"
        )
    elapsed = time.perf_counter() - start
    if not t.local:
        store.client.delete_dataset(store.dataset_id)
        term.line("   " + term.style("(removed the demo knowledge base again)", "dim"))
    demo._usage_line(None, elapsed)
    demo.results.append(
        StepResult("Knowledge base ingestion", f"{report.created} documents", None, elapsed)
    )
