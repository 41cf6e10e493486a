"""Records with metadata of every kind, for the filter tests."""

from __future__ import annotations

from typing import Any

DOCS: list[dict[str, Any]] = [
    {
        "content": "Returns are accepted within 30 days.",
        "title": "returns.md",
        "metadata": {
            "category": "policy",
            "tags": ["returns", "refunds"],
            "year": 2024,
            "published": "2024-03-01T00:00:00Z",
            "owner": "",
        },
    },
    {
        "content": "Shipping takes five business days.",
        "title": "shipping.md",
        "metadata": {
            "category": "logistics",
            "tags": ["shipping"],
            "year": 2022,
            "published": 1640995200,  # 2022-01-01 as a unix timestamp
            "owner": "ops",
        },
    },
    {
        "content": "Warranty covers two years of use.",
        "title": "warranty.md",
        "metadata": {"category": "policy-extra", "year": "2023", "published": "2023-06-15"},
    },
    {"content": "Contact support by email.", "title": "contact.md", "metadata": {}},
]
