#!/usr/bin/env python3
"""Business-like documents for the GPU benchmark (invoices, purchase orders,
receipts, contracts, support e-mails), one JSON object per line with a
"text" field: the format of peer_bench.py --docs. Deterministic (seeded).
Lengths vary from a line to past the 256-token cut-off, mean about 120
WordPiece tokens.

Usage: gen_docs.py N OUT.jsonl [SEED]
"""
import json
import random
import sys

VENDORS = ["Acme Industrial Supply", "Northwind Traders", "Globex Logistics", "Initech Software", "Umbrella Facilities",
           "Stark Components", "Wayne Office Products", "Hooli Cloud Services", "Vandelay Imports", "Soylent Catering",
           "Cyberdyne Maintenance", "Tyrell Electronics", "Wonka Confectionery", "Gringotts Financial", "Oceanic Freight"]
ITEMS = ["steel brackets", "printer toner cartridges", "ergonomic office chairs", "network switches", "cleaning services",
         "consulting hours", "cloud storage subscription", "forklift maintenance", "safety gloves", "LED panel lights",
         "shipping pallets", "laptop docking stations", "software licences", "catering for quarterly meeting",
         "HVAC filter replacement", "copy paper A4", "security guard services", "freight charges", "hydraulic pumps"]
CITIES = ["Rotterdam", "Chicago", "Lyon", "Osaka", "Toronto", "Leeds", "Austin", "Hamburg", "Melbourne", "Denver"]
NAMES = ["Maria Keller", "John Okafor", "Priya Raman", "Luca Bianchi", "Chen Wei", "Sara Lindqvist", "Tom Becker"]
TERMS = ["Payment is due within 30 days of the invoice date.", "Late payments incur interest of 1.5% per month.",
         "Goods remain the property of the seller until paid in full.", "Please quote the invoice number with payment.",
         "Disputes must be raised within 14 days of receipt.", "Prices exclude VAT unless stated otherwise."]


def money(r):
    return f"{r.uniform(5, 25000):,.2f}"


def invoice(r):
    v = r.choice(VENDORS)
    lines = [f"INVOICE {r.randint(10000, 99999)} from {v}, {r.choice(CITIES)}.",
             f"Bill to: {r.choice(VENDORS)}, attention {r.choice(NAMES)}. Date 2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}."]
    total = 0.0
    for _ in range(r.choice([1, 1, 2, 3, 4, 5, 7, 10, 14])):
        q, p = r.randint(1, 40), r.uniform(3, 900)
        total += q * p
        lines.append(f"{q} x {r.choice(ITEMS)} at {p:,.2f} EUR = {q * p:,.2f} EUR.")
    lines.append(f"Total due: {total:,.2f} EUR. {r.choice(TERMS)}")
    return " ".join(lines)


def purchase_order(r):
    parts = [f"Purchase order PO-{r.randint(1000, 9999)} issued by {r.choice(VENDORS)} to {r.choice(VENDORS)}."]
    for _ in range(r.randint(1, 6)):
        parts.append(f"Item: {r.choice(ITEMS)}, quantity {r.randint(1, 500)}, unit price {money(r)} USD.")
    parts.append(f"Deliver to our {r.choice(CITIES)} warehouse by 2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}.")
    return " ".join(parts)


def receipt(r):
    return (f"Receipt from {r.choice(VENDORS)}: {r.choice(ITEMS)} paid by card ending {r.randint(1000, 9999)}, "
            f"amount {money(r)} GBP.")


def email(r):
    n = r.choice(NAMES)
    body = [f"Hello {n.split()[0]},", f"we received invoice {r.randint(10000, 99999)} from {r.choice(VENDORS)} "
            f"but the amount of {money(r)} does not match the purchase order."]
    for _ in range(r.randint(0, 6)):
        body.append(r.choice([
            "Could you check whether the freight charges were agreed in advance?",
            "The delivery arrived two weeks late and some pallets were damaged.",
            "Our records show a credit note that has not been applied yet.",
            "Please confirm the bank details, as they differ from the ones on file.",
            "The line items list more consulting hours than were approved by the project lead.",
            "We would like to schedule a call with your accounts team next week.",
        ]))
    body.append(f"Best regards, {r.choice(NAMES)}, Accounts Payable")
    return " ".join(body)


def contract(r):
    parts = [f"Service agreement between {r.choice(VENDORS)} (the Supplier) and {r.choice(VENDORS)} (the Customer)."]
    for i in range(r.randint(2, 12)):
        parts.append(f"Clause {i + 1}: the Supplier shall provide {r.choice(ITEMS)} at the {r.choice(CITIES)} site "
                     f"for a monthly fee of {money(r)} EUR. {r.choice(TERMS)}")
    return " ".join(parts)


KINDS = [(invoice, 0.35), (purchase_order, 0.2), (receipt, 0.1), (email, 0.2), (contract, 0.15)]


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
    fns, weights = zip(*KINDS)
    with open(out, "w") as f:
        for i in range(n):
            fn = r.choices(fns, weights)[0]
            f.write(json.dumps({"id": f"doc-{i}", "text": fn(r)}) + "\n")


if __name__ == "__main__":
    main()
