"""How close the offline token estimate is to a real tokenizer (cl100k_base).

Run: ``.venv/bin/python -m benchmarks.token_estimate``. The reference is LlamaIndex's own
tokenizer (``cl100k_base`` from the tiktoken file bundled with llama-index-core): nothing
is downloaded. Prints, per sample, both counts and the ratio estimate/actual.
"""

from __future__ import annotations

from pathlib import Path

from dify_integrations.core.tokens import estimate_tokens

ROOT = Path(__file__).resolve().parent.parent


def samples() -> dict[str, str]:
    """English prose and docs, code, JSON, several languages and emoji."""
    handbook = sorted((ROOT / "dify_integrations/demo/handbook").glob("*.md"))
    return {
        "handbook (32 docs)": "\n".join(p.read_text() for p in handbook),
        "README.md": (ROOT / "README.md").read_text(),
        "core/client.py": (ROOT / "dify_integrations/core/client.py").read_text(),
        "json": '{"query": "hello", "inputs": {"a": 1, "b": [1,2,3]}, "user": "u-123"}' * 10,
        "zh": "退款将在5个工作日内退回原支付方式。配送通常需要3到7天。" * 20,
        "ja": "払い戻しは5営業日以内に元のお支払い方法に返金されます。" * 20,
        "de": "Rückerstattungen werden innerhalb von fünf Werktagen auf die ursprüngliche "
        "Zahlungsmethode überwiesen. " * 20,
        "fr": "Les remboursements sont effectués sous cinq jours ouvrés sur le moyen de "
        "paiement d'origine. " * 20,
        "ru": "Возврат средств производится в течение пяти рабочих дней на исходный способ "
        "оплаты. " * 20,
        "emoji": "ok 🙂👍 done ✅ " * 30,
    }


def main() -> None:
    from llama_index.core.utils import get_tokenizer

    tokenize = get_tokenizer()
    print(f"{'sample':<20} {'cl100k':>7} {'estimate':>9} {'ratio':>6}")
    for name, text in samples().items():
        actual = len(tokenize(text))
        estimate = estimate_tokens(text)
        print(f"{name:<20} {actual:>7} {estimate:>9} {estimate / actual:>6.2f}")


if __name__ == "__main__":
    main()
