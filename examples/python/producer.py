#!/usr/bin/env python3
"""Publishes documents to docflow's docs.raw.* topics, as an outside producer would.

Text and HTML as JSON, a PDF as base64 JSON, a 10 MiB PDF (which needs
`message.max.bytes` raised: see schemas/README.md "Publishing large
documents"), one document in each codec, and two records docflow must
dead-letter. Prints one JSON line per record: {"id", "expect"} where expect
is "result" or the DLQ error kind.

    python3 producer.py --brokers 127.0.0.1:9092 --topic docs.raw.normal > sent.jsonl
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import Producer

from docflow_codec import raw_json, raw_msgpack, raw_msgpack_lz4

INVOICE = "INVOICE INV-{n}\nACME GmbH\nDate: 2026-01-15\nTotal: 1,234.56 EUR\n"
HTML = "<html><body><h1>Receipt R-{n}</h1><p>Corner Shop Ltd</p><p>Total: $12.50</p></body></html>"


def pdf(text, padding=0):
    """A one-page PDF with `text`, plus an unreferenced JPEG-filtered stream of
    `padding` random bytes (what a scanned attachment adds to the size)."""
    content = f"BT /F1 12 Tf 40 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    if padding:
        blob = os.urandom(padding)
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray"
            b" /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % len(blob) + blob + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default=os.environ.get("DOCFLOW_KAFKA_BROKERS", "127.0.0.1:9092"))
    ap.add_argument("--topic", default="docs.raw.normal")
    ap.add_argument("--run", default=str(int(time.time())), help="suffix making the ids unique")
    args = ap.parse_args()

    producer = Producer({
        "bootstrap.servers": args.brokers,
        "acks": "all",
        "enable.idempotence": True,
        # docflow's topics take records of up to 17 MiB (16 MiB values);
        # librdkafka's own default would refuse anything above 1,000,000 bytes.
        "message.max.bytes": 17825792,
        "compression.type": "lz4",
    })
    now = int(time.time() * 1000)
    run = args.run
    sent = []
    failures = []

    def publish(doc_id, expect, value, headers, key=None):
        def report(err, _msg):
            if err is not None:
                failures.append(f"{doc_id}: {err}")
        producer.produce(args.topic, key=(key if key is not None else doc_id).encode(), value=value, headers=headers, on_delivery=report)
        producer.poll(0)
        sent.append({"id": doc_id, "expect": expect})

    n = 0
    for kind, content_type, body in [
        ("text", "text/plain", INVOICE),
        ("html", "text/html", HTML),
        ("pdf", "application/pdf", pdf("INVOICE INV-77 Total 99.00 EUR")),
    ]:
        n += 1
        doc_id = f"py-{run}-{kind}"
        value, headers = raw_json(doc_id, content_type, body.format(n=n) if isinstance(body, str) else body, now)
        publish(doc_id, "result", value, headers)

    # A 10 MiB PDF: needs message.max.bytes above librdkafka's 1,000,000 default.
    big = pdf("INVOICE INV-10M Total 10.00 EUR", padding=10 * 1024 * 1024 - 2048)
    value, headers = raw_msgpack(f"py-{run}-pdf-10mib", "application/pdf", big, now)
    publish(f"py-{run}-pdf-10mib", "result", value, headers)

    # The same text document in each of the two binary codecs.
    value, headers = raw_msgpack(f"py-{run}-msgpack", "text/plain", INVOICE.format(n=5), now)
    publish(f"py-{run}-msgpack", "result", value, headers)
    long_text = INVOICE.format(n=6) + "Line item: consulting 1 x 100.00 EUR\n" * 200
    value, headers = raw_msgpack_lz4(f"py-{run}-lz4", "text/plain", long_text, now)
    publish(f"py-{run}-lz4", "result", value, headers)

    # Records docflow must dead-letter, with the kind it names.
    publish(f"py-{run}-garbage", "malformed", b"\xc1", [("docflow-codec", b"msgpack")])
    # Large and compressible: its dead letter comes back LZ4-framed (msgpack+lz4).
    publish(f"py-{run}-bad-json", "malformed", b"[" + b"1," * 4000 + b"x]", [("content-type", b"application/json")])
    value, headers = raw_json(f"py-{run}-keyed", "text/plain", INVOICE.format(n=8), now)
    publish(f"py-{run}-keyed", "key_id_mismatch", value, headers, key=f"py-{run}-other-key")

    left = producer.flush(60)
    if left or failures:
        sys.exit(f"producer: {left} records not delivered; failures: {failures}")
    for s in sent:
        print(json.dumps(s))
    print(f"producer: published {len(sent)} records to {args.topic}", file=sys.stderr)


if __name__ == "__main__":
    main()
