#!/usr/bin/env python3
"""Reads docs.results and docs.dlq, decoding every docflow codec (msgpack,
msgpack+lz4, json), and accounts for the ids a producer sent: each must end
as a result or as a dead letter of the expected kind. Exits non-zero if any
is missing or unexpected by the deadline.

    python3 consumer.py --results docs.results --dlq docs.dlq --expect sent.jsonl
"""

import argparse
import collections
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError

from docflow_codec import codec_of, decode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default=os.environ.get("DOCFLOW_KAFKA_BROKERS", "127.0.0.1:9092"))
    ap.add_argument("--results", default="docs.results")
    ap.add_argument("--dlq", default="docs.dlq")
    ap.add_argument("--expect", required=True, help="JSON lines {id, expect} from producer.py")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()

    expected = {}
    with open(args.expect) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                expected[row["id"]] = row["expect"]
    # Dead letters are keyed by the original record key, which for the
    # key/id-mismatch case is not the id: match those by the original value.
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"docflow-python-example-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([args.results, args.dlq])
    outcome = {}
    codecs = collections.Counter()
    deadline = time.time() + args.timeout
    while time.time() < deadline and len(outcome) < len(expected):
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            sys.exit(f"consumer: {msg.error()}")
        codec = codec_of(msg.headers())
        codecs[f"{msg.topic()}:{codec}"] += 1
        doc = decode(msg.value(), msg.headers())
        if msg.topic() == args.results:
            doc_id = doc["id"]
            got = "result"
            detail = f"class={doc.get('class')} status={doc.get('status')} total={doc.get('fields', {}).get('total')}"
        else:
            doc_id = msg.key().decode("utf-8", "replace") if msg.key() else None
            if doc_id not in expected:
                # A key the producer set wrongly: the id is in the original value.
                doc_id = next((i for i in expected if i.encode() in doc["original_value"]), doc_id)
            got = doc["error_kind"]
            detail = f"stage={doc['stage']} original={len(doc['original_value'])} bytes: {doc['error_message'][:80]}"
        if doc_id in expected and doc_id not in outcome:
            outcome[doc_id] = got
            print(f"{doc_id}: {got} ({codec}) {detail}")
    consumer.close()

    missing = sorted(set(expected) - set(outcome))
    wrong = {i: (expected[i], outcome[i]) for i in outcome if outcome[i] != expected[i]}
    print(f"consumer: {len(outcome)}/{len(expected)} accounted for; codecs seen: {dict(codecs)}")
    if missing or wrong:
        sys.exit(f"consumer: missing {missing}; unexpected (want, got) {wrong}")


if __name__ == "__main__":
    main()
