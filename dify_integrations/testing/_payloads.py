"""Request payload models, named and shaped like Dify's own pydantic payloads.

Validation failures surface as 400 ``invalid_param`` with pydantic's message, as current
Dify builds answer.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from ._errors import invalid_param

M = TypeVar("M", bound=BaseModel)
SearchMethod = Literal["semantic_search", "full_text_search", "hybrid_search", "keyword_search"]


def _uuid_or_none(value: Any, message: str) -> str | None:
    if isinstance(value, str):
        value = value.strip()
    if not value:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ValueError(message) from exc


class ChatRequestPayload(BaseModel):
    """Body of ``POST /chat-messages``."""

    inputs: dict[str, Any]
    query: str
    files: list[dict[str, Any]] | None = None
    response_mode: Literal["blocking", "streaming"] | None = None
    conversation_id: str | None = None
    retriever_from: str = "dev"
    auto_generate_name: bool = True
    workflow_id: str | None = None

    @field_validator("conversation_id", mode="before")
    @classmethod
    def _conversation_id(cls, value: Any) -> str | None:
        return _uuid_or_none(value, "conversation_id must be a valid UUID")


class CompletionRequestPayload(BaseModel):
    """Body of ``POST /completion-messages``."""

    inputs: dict[str, Any]
    query: str = ""
    files: list[dict[str, Any]] | None = None
    response_mode: Literal["blocking", "streaming"] | None = None
    retriever_from: str = "dev"


class WorkflowRunPayload(BaseModel):
    """Body of ``POST /workflows/run``."""

    inputs: dict[str, Any]
    files: list[dict[str, Any]] | None = None
    response_mode: Literal["blocking", "streaming"] | None = None


class ConversationRenamePayload(BaseModel):
    """Body of ``POST /conversations/{id}/name``."""

    name: str | None = None
    auto_generate: bool = False

    @model_validator(mode="after")
    def _name_required(self) -> ConversationRenamePayload:
        if not self.auto_generate and (self.name is None or not self.name.strip()):
            raise ValueError("name is required when auto_generate is false")
        return self


class ConversationListQuery(BaseModel):
    """Query of ``GET /conversations``."""

    last_id: str | None = None
    limit: int = Field(default=20, ge=1, le=100)
    sort_by: Literal["created_at", "-created_at", "updated_at", "-updated_at"] = "-updated_at"

    @field_validator("last_id", mode="before")
    @classmethod
    def _last_id(cls, value: Any) -> str | None:
        return _uuid_or_none(value, "last_id must be a valid UUID")


class MessageListQuery(BaseModel):
    """Query of ``GET /messages``."""

    conversation_id: str | None = None
    first_id: str | None = None
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("first_id", mode="before")
    @classmethod
    def _first_id(cls, value: Any) -> str | None:
        return _uuid_or_none(value, "first_id must be a valid UUID")


class MessageFeedbackPayload(BaseModel):
    """Body of ``POST /messages/{id}/feedbacks``."""

    rating: Literal["like", "dislike"] | None = None
    content: str | None = None


class DatasetListQuery(BaseModel):
    """Query of ``GET /datasets``."""

    page: int = 1
    limit: int = 20
    keyword: str | None = None
    include_all: bool = False
    tag_ids: list[str] = Field(default_factory=list)


class WorkflowLogQuery(BaseModel):
    """Query of ``GET /workflows/logs``."""

    keyword: str | None = None
    status: Literal["succeeded", "failed", "stopped"] | None = None
    page: int = Field(default=1, ge=1, le=99999)
    limit: int = Field(default=20, ge=1, le=100)


class MetadataCondition(BaseModel):
    """One metadata filter condition."""

    name: str
    comparison_operator: str
    value: str | int | float | list[str] | None = None


class MetadataFilteringCondition(BaseModel):
    """``metadata_filtering_conditions`` of a retrieval model."""

    logical_operator: Literal["and", "or"] | None = "and"
    conditions: list[MetadataCondition] | None = None


class RetrievalModel(BaseModel):
    """``retrieval_model`` of a retrieve request."""

    search_method: SearchMethod
    reranking_enable: bool
    reranking_model: dict[str, Any] | None = None
    reranking_mode: str | None = None
    top_k: int
    score_threshold_enabled: bool
    score_threshold: float | None = None
    weights: dict[str, Any] | None = None
    metadata_filtering_conditions: MetadataFilteringCondition | None = None


class HitTestingPayload(BaseModel):
    """Body of ``POST /datasets/{id}/retrieve`` (and ``/hit-testing``)."""

    query: str = Field(default="", max_length=250)
    retrieval_model: RetrievalModel | None = None
    external_retrieval_model: dict[str, Any] | None = None
    attachment_ids: list[str] | None = None


def validate(model: type[M], data: Any) -> M:
    """Validate ``data`` into ``model``; a failure is a 400 ``invalid_param``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_param(str(exc)) from None
    except ValueError as exc:  # pragma: no cover - defensive
        raise invalid_param(str(exc)) from None
