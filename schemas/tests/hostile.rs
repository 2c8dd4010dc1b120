//! Fuzz-style decoding: random bytes, every truncation, every single bit
//! flip, decompression bombs, oversized input and crafted huge-length
//! MessagePack headers. Each must give a value or a typed error, never a
//! panic, and must stay within a memory bound measured by a counting
//! allocator (per thread, so parallel tests do not disturb each other).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use docflow_schemas::*;
use proptest::prelude::*;

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // try_with: during thread teardown the counters may be gone; skip then.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call forwards to `System` unchanged; the bookkeeping only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result with the peak extra heap bytes it held.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - base).max(0) as usize)
}

/// The memory bound every hostile decode must respect: a fixed 1 MiB plus a
/// constant factor of the input (an LZ4 block may honestly expand 255×).
fn bound(input_len: usize) -> usize {
    (1 << 20) + 256 * input_len
}

/// Decodes `bytes` as every envelope type with `codec`; asserts the memory
/// bound and returns the results.
fn hostile(bytes: &[u8], codec: Codec, limits: &Limits) -> Vec<Result<(), CodecError>> {
    let (results, peak) = peak_heap(|| decode_as_every_type(bytes, codec, limits));
    assert!(
        peak <= bound(bytes.len()),
        "{codec}: {peak} bytes held decoding {} input bytes",
        bytes.len()
    );
    results
}

#[test]
fn the_allocator_really_counts() {
    let (v, peak) = peak_heap(|| vec![1u8; 3 << 20]);
    assert_eq!(v.len(), 3 << 20);
    assert!(peak >= 3 << 20, "peak {peak}");
}

#[test]
fn every_truncation_is_an_error() {
    let limits = Limits::default();
    for (name, full) in msgpack_samples() {
        for cut in 0..full.len() {
            for r in hostile(&full[..cut], Codec::MsgPack, &limits) {
                assert_eq!(r.unwrap_err().kind(), "truncated", "{name} cut at {cut}");
            }
        }
        let framed = frame::encode(&full).unwrap();
        for cut in 0..framed.len() {
            for r in hostile(&framed[..cut], Codec::MsgPackLz4, &limits) {
                let kind = r.unwrap_err().kind();
                assert!(
                    ["truncated", "bad_frame", "decompression_bomb"].contains(&kind),
                    "{name} lz4 cut {cut}: {kind}"
                );
            }
        }
    }
    let json = encode_with(&raw(), Codec::Json, &limits).unwrap().bytes;
    for cut in 0..json.len() {
        let r = decode::<RawDocument>(&json[..cut], Codec::Json, &limits);
        assert_eq!(r.unwrap_err().kind(), "truncated", "json cut at {cut}");
    }
}

#[test]
fn every_single_bit_flip_is_survived() {
    let limits = Limits::default();
    let mut decoded_after_flip = 0usize;
    let mut errors = 0usize;
    // The three smallest samples keep this fast (every bit of each, 3 codecs paths).
    let mut samples = msgpack_samples();
    samples.sort_by_key(|(_, b)| b.len());
    for (_, full) in samples.into_iter().take(3) {
        let framed = frame::encode(&full).unwrap();
        for (codec, original) in [(Codec::MsgPack, &full), (Codec::MsgPackLz4, &framed)] {
            for bit in 0..original.len() * 8 {
                let mut m = original.clone();
                m[bit / 8] ^= 1 << (bit % 8);
                for r in hostile(&m, codec, &limits) {
                    match r {
                        Ok(()) => decoded_after_flip += 1,
                        Err(_) => errors += 1,
                    }
                }
            }
        }
    }
    let json = encode_with(&raw(), Codec::Json, &limits).unwrap().bytes;
    for bit in 0..json.len() * 8 {
        let mut m = json.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        let _ = hostile(&m, Codec::Json, &limits);
    }
    // Both outcomes occur: flips inside string payloads still decode.
    assert!(
        decoded_after_flip > 0 && errors > 0,
        "{decoded_after_flip} ok, {errors} err"
    );
}

#[test]
fn four_gib_bomb_frame_is_rejected_without_allocating() {
    let mut bomb = frame::MAGIC.to_vec();
    bomb.extend_from_slice(&u32::MAX.to_le_bytes());
    bomb.extend_from_slice(&[0x1f, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff]);
    let limits = Limits::default();
    let (r, peak) = peak_heap(|| decode::<RawDocument>(&bomb, Codec::MsgPackLz4, &limits));
    match r.unwrap_err() {
        CodecError::DecompressionBomb { claimed, limit } => {
            assert_eq!(claimed, u64::from(u32::MAX));
            assert_eq!(limit, limits.max_decoded_bytes);
        }
        e => panic!("expected a bomb, got {e}"),
    }
    assert!(peak < 4096, "held {peak} bytes");
    // Even with limits that would allow 4 GiB, a 16-byte block cannot honestly
    // expand that far: rejected before allocating.
    let lax = Limits {
        max_decoded_bytes: usize::MAX,
        max_encoded_bytes: usize::MAX,
        ..limits
    };
    let (r, peak) = peak_heap(|| decode::<RawDocument>(&bomb, Codec::MsgPackLz4, &lax));
    assert_eq!(r.unwrap_err().kind(), "decompression_bomb");
    assert!(peak < 4096, "held {peak} bytes");
}

#[test]
fn a_frame_claiming_the_limit_with_a_tiny_block_is_a_bomb() {
    let mut frame_bytes = frame::MAGIC.to_vec();
    frame_bytes.extend_from_slice(&(32u32 << 20).to_le_bytes());
    frame_bytes.extend_from_slice(&[0x10, 0x00]);
    let (r, peak) = peak_heap(|| frame::decode(&frame_bytes, &Limits::default()));
    assert_eq!(r.unwrap_err().kind(), "decompression_bomb");
    assert!(peak < 4096);
}

#[test]
fn honest_maximal_expansion_is_accepted() {
    // 32 MiB of zeros is the most compressible input there is: the ratio guard
    // must not reject it.
    let zeros = vec![0u8; 32 << 20];
    let framed = frame::encode(&zeros).unwrap();
    assert!(framed.len() < 200_000, "{}", framed.len());
    let back = frame::decode(&framed, &Limits::default()).unwrap();
    assert!(back.len() == zeros.len() && back.iter().all(|b| *b == 0));
}

#[test]
fn frame_length_lies_are_bad_frames() {
    let payload = encode_with(&raw(), Codec::MsgPack, &Limits::default())
        .unwrap()
        .bytes;
    let framed = frame::encode(&payload).unwrap();
    for delta in [-1i64, 1, 100] {
        let mut m = framed.clone();
        let claimed = (payload.len() as i64 + delta) as u32;
        m[4..8].copy_from_slice(&claimed.to_le_bytes());
        let e = decode::<RawDocument>(&m, Codec::MsgPackLz4, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), "bad_frame", "delta {delta}: {e}");
    }
    let mut m = framed.clone();
    m[0] = b'X';
    assert_eq!(
        decode::<RawDocument>(&m, Codec::MsgPackLz4, &Limits::default())
            .unwrap_err()
            .kind(),
        "bad_frame"
    );
    // Plain MessagePack handed to the LZ4 path, and a frame handed to the plain path.
    assert_eq!(
        decode::<RawDocument>(&payload, Codec::MsgPackLz4, &Limits::default())
            .unwrap_err()
            .kind(),
        "bad_frame"
    );
    assert!(decode::<RawDocument>(&framed, Codec::MsgPack, &Limits::default()).is_err());
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let limits = Limits {
        max_encoded_bytes: 512,
        max_decoded_bytes: 1024,
        lz4_threshold_bytes: 64,
    };
    let big = vec![0x90u8; 513];
    for codec in ALL_CODECS {
        for r in hostile(&big, codec, &limits) {
            assert!(
                matches!(
                    r,
                    Err(CodecError::TooLarge {
                        what: "encoded",
                        size: 513,
                        limit: 512
                    })
                ),
                "{codec}"
            );
        }
    }
    // Fits the wire but decompresses past the decoded limit.
    let doc = RawDocument {
        body: vec![b'z'; 4000],
        ..raw()
    };
    let enc = encode_with(&doc, Codec::MsgPackLz4, &Limits::default()).unwrap();
    assert!(enc.bytes.len() <= 512);
    let e = decode::<RawDocument>(&enc.bytes, enc.codec, &limits).unwrap_err();
    assert!(
        matches!(e, CodecError::DecompressionBomb { limit: 1024, .. }),
        "{e}"
    );
    // JSON and plain msgpack also honour the decoded limit.
    let tight = Limits {
        max_encoded_bytes: 1 << 20,
        max_decoded_bytes: 100,
        ..limits
    };
    let plain = encode_with(&raw(), Codec::MsgPack, &Limits::default())
        .unwrap()
        .bytes;
    assert_eq!(
        decode::<RawDocument>(&plain, Codec::MsgPack, &tight)
            .unwrap_err()
            .kind(),
        "too_large"
    );
    let json = encode_with(&raw(), Codec::Json, &Limits::default())
        .unwrap()
        .bytes;
    assert_eq!(
        decode::<RawDocument>(&json, Codec::Json, &tight)
            .unwrap_err()
            .kind(),
        "too_large"
    );
}

/// MessagePack headers declaring 2^32-1 elements / bytes, alone and inside
/// otherwise valid envelopes.
#[test]
fn crafted_huge_length_headers_are_truncated_not_allocated() {
    let huge = [0xff, 0xff, 0xff, 0xff];
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("array32", [&[0xdd][..], &huge].concat()),
        ("map32", [&[0xdf][..], &huge].concat()),
        ("str32", [&[0xdb][..], &huge, b"abc"].concat()),
        ("bin32", [&[0xc6][..], &huge, b"abc"].concat()),
        ("ext32", [&[0xc9][..], &huge, &[0x01, 0x02]].concat()),
        (
            "array32 of nils",
            [&[0xdd][..], &huge, &[0xc0; 64]].concat(),
        ),
    ];
    // Inside a RawDocument: `body` (bin32) and `metadata` (map32) lie.
    let mut body_lie = vec![0x83, 0xa2, b'i', b'd', 0xa1, b'x', 0xa4];
    body_lie.extend_from_slice(b"body");
    body_lie.extend_from_slice(&[0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    cases.push(("RawDocument.body bin32", body_lie));
    let mut meta_lie = vec![0x84, 0xa2, b'i', b'd', 0xa1, b'x', 0xa8];
    meta_lie.extend_from_slice(b"metadata");
    meta_lie.extend_from_slice(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'k', 0xa1, b'v']);
    cases.push(("RawDocument.metadata map32", meta_lie));
    // Inside ParsedDocument.fields.line_items: array32.
    let mut items_lie = vec![0x81, 0xa6];
    items_lie.extend_from_slice(b"fields");
    items_lie.extend_from_slice(&[0x81, 0xaa]);
    items_lie.extend_from_slice(b"line_items");
    items_lie.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x80, 0x80]);
    cases.push(("BusinessFields.line_items array32", items_lie));

    let limits = Limits::default();
    for (name, bytes) in &cases {
        for r in hostile(bytes, Codec::MsgPack, &limits) {
            assert_eq!(r.unwrap_err().kind(), "truncated", "{name}");
        }
        let framed = frame::encode(bytes).unwrap();
        for r in hostile(&framed, Codec::MsgPackLz4, &limits) {
            assert_eq!(r.unwrap_err().kind(), "truncated", "{name} (lz4)");
        }
        // A generic target type too (Vec<u64> would pre-allocate if allowed).
        let (r, peak) = peak_heap(|| decode::<Vec<u64>>(bytes, Codec::MsgPack, &limits));
        assert!(r.is_err() && peak < 4096, "{name}: {peak}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let limits = Limits::default();
    let mut deep = vec![0x91u8; 200_000];
    deep.push(0xc0);
    for r in hostile(&deep, Codec::MsgPack, &limits) {
        assert_eq!(r.unwrap_err().kind(), "too_deep");
    }
    let mut deep_map = Vec::new();
    for _ in 0..100_000 {
        deep_map.extend_from_slice(&[0x81, 0xa1, b'k']);
    }
    deep_map.push(0xc0);
    for r in hostile(&deep_map, Codec::MsgPack, &limits) {
        assert_eq!(r.unwrap_err().kind(), "too_deep");
    }
    let json = "[".repeat(100_000);
    for r in hostile(json.as_bytes(), Codec::Json, &limits) {
        assert!(r.is_err());
    }
    // Within the limit, unknown deeply nested fields are skipped fine.
    let mut ok = vec![0x82, 0xa2, b'i', b'd', 0xa1, b'x', 0xa1, b'z'];
    ok.extend(std::iter::repeat_n(0x91u8, MAX_DEPTH - 2));
    ok.push(0xc0);
    let r = decode::<Feedback>(&ok, Codec::MsgPack, &limits);
    assert!(r.unwrap_err().to_string().contains("created_at_ms"));
}

#[test]
fn trailing_bytes_are_malformed() {
    let mut b = encode_with(&raw(), Codec::MsgPack, &Limits::default())
        .unwrap()
        .bytes;
    b.push(0x00);
    let e = decode::<RawDocument>(&b, Codec::MsgPack, &Limits::default()).unwrap_err();
    assert_eq!(e.kind(), "malformed");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let limits = Limits::default();
        for codec in ALL_CODECS {
            let _ = hostile(&bytes, codec, &limits);
        }
        // Random bytes inside a valid frame reach the MessagePack decoder.
        let framed = frame::encode(&bytes).unwrap();
        let _ = hostile(&framed, Codec::MsgPackLz4, &limits);
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(cut in 0usize..200, tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        // Valid structure up to a point, then garbage: reaches deeper decoder states.
        let (_, full) = &msgpack_samples()[1];
        let mut m = full[..cut.min(full.len())].to_vec();
        m.extend_from_slice(&tail);
        let _ = hostile(&m, Codec::MsgPack, &Limits::default());
    }
}
