"""docflow's value codec for Python clients (the contract is schemas/README.md).

Decoding follows the `docflow-codec` header: `msgpack`, `msgpack+lz4` (an LZ4
*block* behind the 8-byte "DFL4" header, not the LZ4 frame format) or `json`.
Encoding writes JSON or MessagePack `RawDocument`s for `docs.raw.*`.
"""

import base64
import json
import struct

import lz4.block
import msgpack

MAX_DECODED = 32 << 20  # the contract's decoded-payload limit


def header(headers, name):
    """Last value of a Kafka header (names compare case-insensitively), as str."""
    value = None
    for key, v in headers or []:
        if key.lower() == name and v is not None:
            value = v.decode("utf-8")
    return value


def codec_of(headers):
    """The codec of a record: `docflow-codec`, else JSON by content-type, else msgpack."""
    codec = header(headers, "docflow-codec")
    if codec:
        return codec.strip().lower()
    content_type = header(headers, "content-type") or ""
    if content_type.split(";")[0].strip().lower() == "application/json":
        return "json"
    return "msgpack"


def unframe_lz4(value):
    """The MessagePack bytes inside a `msgpack+lz4` value."""
    if value[:4] != b"DFL4":
        raise ValueError("not a DFL4 value")
    (n,) = struct.unpack_from("<I", value, 4)
    if n > MAX_DECODED or n > 255 * (len(value) - 8) + 64:
        raise ValueError(f"LZ4 block claims {n} bytes: refused")
    out = lz4.block.decompress(value[8:], uncompressed_size=n)
    if len(out) != n:
        raise ValueError("LZ4 block length differs from its header")
    return out


def decode(value, headers):
    """A docflow record value as a Python dict, whatever its codec."""
    codec = codec_of(headers)
    if codec == "msgpack":
        return msgpack.unpackb(value, raw=False)
    if codec == "msgpack+lz4":
        return msgpack.unpackb(unframe_lz4(value), raw=False)
    if codec == "json":
        doc = json.loads(value)
        # JSON dead letters carry the original key and value as base64.
        for field in ("original_key", "original_value"):
            if isinstance(doc.get(field), str):
                doc[field] = base64.b64decode(doc[field])
        return doc
    raise ValueError(f"unknown docflow-codec {codec!r}")


def raw_json(doc_id, content_type, body, created_at_ms):
    """A RawDocument as JSON: text as `body`, binary (PDF) as `body_base64`."""
    doc = {"id": doc_id, "content_type": content_type, "created_at_ms": created_at_ms}
    if isinstance(body, bytes):
        doc["body_base64"] = base64.b64encode(body).decode("ascii")
    else:
        doc["body"] = body
    return json.dumps(doc).encode("utf-8"), [("content-type", b"application/json")]


def raw_msgpack(doc_id, content_type, body, created_at_ms):
    """A RawDocument as MessagePack (a map keyed by field name, body as bin)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    doc = {"id": doc_id, "content_type": content_type, "body": body, "created_at_ms": created_at_ms}
    return msgpack.packb(doc, use_bin_type=True), [("docflow-codec", b"msgpack"), ("docflow-schema", b"docflow.v1")]


def raw_msgpack_lz4(doc_id, content_type, body, created_at_ms):
    """The same, in an LZ4 block behind the DFL4 header (for large, compressible bodies)."""
    packed, _ = raw_msgpack(doc_id, content_type, body, created_at_ms)
    block = lz4.block.compress(packed, store_size=False)
    value = b"DFL4" + struct.pack("<I", len(packed)) + block
    return value, [("docflow-codec", b"msgpack+lz4"), ("docflow-schema", b"docflow.v1")]
