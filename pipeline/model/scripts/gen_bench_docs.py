#!/usr/bin/env python3
"""Writes N generated business documents (invoices, receipts, agreements,
letters) as JSON lines {"id", "text"} for `docflow bench encode` and the
PyTorch peer. Deterministic for a seed; about 120 MiniLM tokens on average.

Usage: python3 gen_bench_docs.py [N=2000] [OUT=-] [SEED=7]
"""
import json
import random
import sys

COMPANIES = ["Northwind Traders", "Stark Components", "Hooli Cloud", "Soylent Foods", "Umbrella Logistics",
             "Tyrell Systems", "Vandelay Industries", "Initech", "Globex", "Acme Supplies", "Wayne Freight"]
PEOPLE = ["Emil Okafor", "Hana Larsen", "Priya Nair", "Jonas Weber", "Maria Rossi", "Chen Wei", "Olga Petrova"]
ITEMS = ["software license", "packaging foam", "cloud storage", "toner cartridge", "travel reimbursement",
         "catering service", "laptop stand", "consulting hours", "office chairs", "shipping pallets"]
SENTENCES = [
    "Please note that payment terms are thirty days from the invoice date.",
    "Thank you for your business.",
    "All prices exclude value added tax unless stated otherwise.",
    "Late payments may incur interest as agreed in the framework contract.",
    "Goods remain our property until paid in full.",
    "Either party may terminate this agreement with ninety days written notice.",
    "Deliveries are made to the address stated in the purchase order.",
    "Questions about this document can be sent to our accounts team.",
]
CURRENCIES = ["EUR", "GBP", "USD", "CHF"]


def date(r):
    return f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def invoice(r):
    cur = r.choice(CURRENCIES)
    lines = [f"{r.randint(1, 20)} x {r.choice(ITEMS)} @ {r.uniform(5, 400):.2f} {cur}" for _ in range(r.randint(2, 8))]
    notes = " ".join(r.choice(SENTENCES) for _ in range(r.randint(1, 4)))
    return (f"INVOICE INV-{r.randint(10000, 99999)}\nFrom: {r.choice(COMPANIES)}\nDate: {date(r)}\n"
            f"Bill to: {r.choice(PEOPLE)}, {r.choice(COMPANIES)}\n\n" + "\n".join(lines) +
            f"\n\nTotal due: {r.uniform(100, 20000):.2f} {cur}\nIBAN: DE{r.randint(10**19, 10**20 - 1)}\n{notes}")


def receipt(r):
    cur = r.choice(CURRENCIES)
    lines = [f"{r.choice(ITEMS)} {r.uniform(2, 90):.2f}" for _ in range(r.randint(1, 4))]
    return (f"RECEIPT\n{r.choice(COMPANIES)}\n{date(r)} {r.randint(8, 20)}:{r.randint(0, 59):02d}\n" +
            "\n".join(lines) + f"\nTOTAL {r.uniform(5, 300):.2f} {cur}\nPaid by card ****{r.randint(1000, 9999)}")


def agreement(r):
    clauses = [f"{i + 1}. " + " ".join(r.choice(SENTENCES) for _ in range(r.randint(1, 4)))
               for i in range(r.randint(2, 7))]
    return (f"SERVICE AGREEMENT\nbetween {r.choice(COMPANIES)} and {r.choice(COMPANIES)}\n"
            f"Effective date: {date(r)}\nContract value: {r.uniform(1000, 500000):.2f} {r.choice(CURRENCIES)}\n\n" +
            "\n".join(clauses))


def letter(r):
    body = " ".join(r.choice(SENTENCES) for _ in range(r.randint(3, 14)))
    return (f"Dear {r.choice(PEOPLE)},\n\nregarding order {r.randint(1000, 9999)} of {date(r)}: {body}\n\n"
            f"Kind regards,\n{r.choice(PEOPLE)}\n{r.choice(COMPANIES)}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    out = sys.argv[2] if len(sys.argv) > 2 else "-"
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    kinds = [invoice, invoice, receipt, agreement, letter]
    f = sys.stdout if out == "-" else open(out, "w")
    for i in range(n):
        f.write(json.dumps({"id": f"doc-{i}", "text": r.choice(kinds)(r)}) + "\n")


if __name__ == "__main__":
    main()
