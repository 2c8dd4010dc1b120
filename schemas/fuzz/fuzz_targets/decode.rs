//! Fuzzes `docflow_schemas::decode`: the first input byte picks the codec,
//! the rest is the message, decoded as every envelope type. Any panic, abort,
//! out-of-memory (libFuzzer's -rss_limit_mb / -malloc_limit_mb) or timeout is
//! a finding. Headers are fuzzed too: the bytes also go through
//! `codec_from_headers` as header values.
#![no_main]

use docflow_schemas::*;
use libfuzzer_sys::fuzz_target;

fn all_types(bytes: &[u8], codec: Codec, limits: &Limits) {
    let _ = decode::<RawDocument>(bytes, codec, limits);
    let _ = decode::<ParsedDocument>(bytes, codec, limits);
    let _ = decode::<EmbeddedDocument>(bytes, codec, limits);
    let _ = decode::<ScoredDocument>(bytes, codec, limits);
    let _ = decode::<ResultRecord>(bytes, codec, limits);
    let _ = decode::<DeadLetter>(bytes, codec, limits);
    let _ = decode::<Feedback>(bytes, codec, limits);
    let _ = decode::<ModelUpdate>(bytes, codec, limits);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let limits = Limits::default();
    let codec = match selector % 4 {
        0 => Codec::MsgPack,
        1 => Codec::MsgPackLz4,
        2 => Codec::Json,
        // Random payload inside a valid frame: exercises the MessagePack
        // decoder behind a real decompression.
        _ => {
            if let Ok(framed) = frame::encode(message) {
                all_types(&framed, Codec::MsgPackLz4, &limits);
            }
            return;
        }
    };
    all_types(message, codec, &limits);
    let header = [
        ("docflow-codec", Some(message)),
        ("docflow-schema", Some(message)),
        ("content-type", Some(message)),
    ];
    let _ = codec_from_headers(header);
});
