#!/usr/bin/env python3
"""Writes tests/data/golden_token_ids.json: the Hugging Face tokenizer's ids
(transformers AutoTokenizer, truncation at 256 as sentence-transformers calls
it) for every golden text plus edge cases (empty, whitespace, control chars,
other scripts, a text far over 256 tokens).

Usage: python3 golden_token_ids.py MODEL_DIR GOLDEN_JSON OUT_JSON
Needs `transformers` (and `tokenizers`) from PyPI; runs offline.
"""
import json
import sys

from transformers import AutoTokenizer

EXTRA = [
    "",
    "   \t\n  ",
    "\u0000\u0001\u0007\u001f",
    "Rechnung über 1.234,56 € — fällig am 03.04.2026",
    "請求書 合計 ¥12,000 お支払い期限",
    "فاتورة رقم ١٢٣ المبلغ الإجمالي",
    "Payment received 👍🏽 thanks 🎉",
    "Ünïcödé àccents çà et là, naïve café",
    " ".join(["invoice total due net 30 days"] * 120),
    "x" * 5000,
]


def main():
    model_dir, golden_path, out_path = sys.argv[1:4]
    tok = AutoTokenizer.from_pretrained(model_dir)
    golden = json.load(open(golden_path))
    texts = [item["text"] for item in golden["items"]] + EXTRA
    enc = tok(texts, truncation=True, max_length=golden.get("max_seq_length", 256))
    out = {
        "produced_by": "transformers AutoTokenizer (fast), truncation=True, max_length=256, "
                       "as sentence-transformers tokenises",
        "max_length": 256,
        "items": [{"text": t, "ids": ids} for t, ids in zip(texts, enc["input_ids"])],
    }
    with open(out_path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
