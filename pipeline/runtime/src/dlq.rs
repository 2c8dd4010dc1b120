//! Dead letters: a record the stage gave up on, as a `docs.dlq` record.
//!
//! The value is a [`DeadLetter`] envelope (stage, error domain/kind/message,
//! original topic/partition/offset, key and bytes). The same facts travel in
//! headers so tools can filter without decoding: `docflow-dlq-stage`,
//! `docflow-dlq-error-domain`, `docflow-dlq-error-kind`,
//! `docflow-dlq-original-topic`, `docflow-dlq-original-partition`,
//! `docflow-dlq-original-offset`. The key is the original key.

use crate::stage::RawRecord;
use docflow_core::StageError;
use crate::config::OutputCodec;
use docflow_schemas::{encode, CodecError, DeadLetter, Encoded, Limits, HEADER_CODEC, HEADER_SCHEMA};

pub const HEADER_STAGE: &str = "docflow-dlq-stage";
pub const HEADER_ERROR_DOMAIN: &str = "docflow-dlq-error-domain";
pub const HEADER_ERROR_KIND: &str = "docflow-dlq-error-kind";
pub const HEADER_ORIGINAL_TOPIC: &str = "docflow-dlq-original-topic";
pub const HEADER_ORIGINAL_PARTITION: &str = "docflow-dlq-original-partition";
pub const HEADER_ORIGINAL_OFFSET: &str = "docflow-dlq-original-offset";

/// Original values up to the wire limit (16 MiB) are kept whole, so any
/// record a producer could publish can be replayed; only a larger one (a
/// topic configured above docflow's limits) is cut, and the message says so.
/// The dead letter itself fits `docs.dlq`'s `max.message.bytes`
/// ([`docflow_schemas::MAX_MESSAGE_BYTES`]).
pub const MAX_ORIGINAL_BYTES: usize = Limits::DEFAULT.max_encoded_bytes;
/// Longest error message kept.
const MAX_MESSAGE_CHARS: usize = 4_096;

/// Build the dead letter for `record` failed with `err` in `stage`.
pub fn dead_letter(stage: &str, record: &RawRecord, err: &StageError, now_ms: i64) -> DeadLetter {
    let payload = record.payload.as_deref().unwrap_or_default();
    let mut message: String = err.message.chars().take(MAX_MESSAGE_CHARS).collect();
    let original_value = if payload.len() > MAX_ORIGINAL_BYTES {
        message.push_str(&format!(" [original value truncated to {MAX_ORIGINAL_BYTES} of {} bytes]", payload.len()));
        payload[..MAX_ORIGINAL_BYTES].to_vec()
    } else {
        payload.to_vec()
    };
    DeadLetter {
        stage: stage.to_owned(),
        error_domain: err.domain.as_str().to_owned(),
        error_kind: err.kind.clone(),
        error_message: message,
        original_topic: record.meta.topic.to_string(),
        original_partition: record.meta.partition,
        original_offset: record.meta.offset,
        original_key: record.key.clone(),
        original_value,
        failed_at_ms: now_ms,
        original_headers: record
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), String::from_utf8(v.clone()?).ok()?)))
            .collect(),
    }
}

/// Kafka headers as (name, value) pairs.
pub type HeaderList = Vec<(&'static str, Vec<u8>)>;

/// The encoded dead letter and its headers, in `codec` (JSON falls back to
/// MessagePack when the base64 value would not fit the record limit).
pub fn encode_dead_letter(dl: &DeadLetter, codec: OutputCodec) -> Result<(Encoded, HeaderList), StageError> {
    let encoded = match codec.encode(dl, &Limits::DEAD_LETTER) {
        Err(CodecError::TooLarge { .. }) if codec == OutputCodec::Json => encode(dl, &Limits::DEAD_LETTER),
        other => other,
    }
    .map_err(crate::stage::codec_error)?;
    let headers = vec![
        (HEADER_CODEC, encoded.codec.header_value().as_bytes().to_vec()),
        (HEADER_SCHEMA, docflow_schemas::schema_header_value().into_bytes()),
        (HEADER_STAGE, dl.stage.as_bytes().to_vec()),
        (HEADER_ERROR_DOMAIN, dl.error_domain.as_bytes().to_vec()),
        (HEADER_ERROR_KIND, dl.error_kind.as_bytes().to_vec()),
        (HEADER_ORIGINAL_TOPIC, dl.original_topic.as_bytes().to_vec()),
        (HEADER_ORIGINAL_PARTITION, dl.original_partition.to_string().into_bytes()),
        (HEADER_ORIGINAL_OFFSET, dl.original_offset.to_string().into_bytes()),
    ];
    Ok((encoded, headers))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::RecordMeta;

    fn raw(len: usize) -> RawRecord {
        RawRecord {
            meta: RecordMeta { topic: "docs.raw.normal".into(), partition: 3, offset: 42, timestamp_ms: None },
            key: Some(b"doc-1".to_vec()),
            payload: Some(vec![7u8; len]),
            headers: vec![],
        }
    }

    #[test]
    fn dead_letter_names_stage_error_and_origin_and_round_trips() {
        let err = StageError::user_input("malformed", "bad bytes");
        let dl = dead_letter("parse", &raw(10), &err, 1234);
        assert_eq!((dl.stage.as_str(), dl.error_kind.as_str(), dl.error_domain.as_str()), ("parse", "malformed", "user_input"));
        assert_eq!((dl.original_topic.as_str(), dl.original_partition, dl.original_offset), ("docs.raw.normal", 3, 42));
        assert_eq!(dl.original_value, vec![7u8; 10]);
        let (enc, headers) = encode_dead_letter(&dl, OutputCodec::Msgpack).unwrap();
        let back: DeadLetter = docflow_schemas::decode(&enc.bytes, enc.codec, &Limits::DEAD_LETTER).unwrap();
        assert_eq!(back, dl);
        let get = |n: &str| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| String::from_utf8(v.clone()).unwrap());
        assert_eq!(get(HEADER_ERROR_KIND).as_deref(), Some("malformed"));
        assert_eq!(get(HEADER_ORIGINAL_OFFSET).as_deref(), Some("42"));
        assert_eq!(get(HEADER_STAGE).as_deref(), Some("parse"));
    }

    #[test]
    fn originals_up_to_the_wire_limit_are_kept_whole() {
        let err = StageError::user_input("too_large", "big");
        let dl = dead_letter("parse", &raw(MAX_ORIGINAL_BYTES), &err, 0);
        assert_eq!(dl.original_value.len(), MAX_ORIGINAL_BYTES);
        assert!(!dl.error_message.contains("truncated"));
        let (enc, _) = encode_dead_letter(&dl, OutputCodec::Msgpack).unwrap();
        assert!(enc.bytes.len() <= docflow_schemas::MAX_MESSAGE_BYTES);
        // JSON would need 4/3 of it in base64: MessagePack instead, said by the codec.
        let (enc, _) = encode_dead_letter(&dl, OutputCodec::Json).unwrap();
        assert_ne!(enc.codec, docflow_schemas::Codec::Json);
    }

    #[test]
    fn json_dead_letters_carry_base64_and_round_trip() {
        let dl = dead_letter("parse", &raw(10), &StageError::user_input("malformed", "bad"), 7);
        let (enc, headers) = encode_dead_letter(&dl, OutputCodec::Json).unwrap();
        assert_eq!(enc.codec, docflow_schemas::Codec::Json);
        let json: serde_json::Value = serde_json::from_slice(&enc.bytes).unwrap();
        assert_eq!(json["original_value"], "BwcHBwcHBwcHBw==");
        assert_eq!(json["original_key"], "ZG9jLTE=");
        assert!(headers.iter().any(|(k, v)| *k == HEADER_CODEC && v == b"json"));
        let back: DeadLetter = docflow_schemas::decode(&enc.bytes, enc.codec, &Limits::DEAD_LETTER).unwrap();
        assert_eq!(back, dl);
    }

    #[test]
    fn huge_originals_are_truncated_and_say_so() {
        let err = StageError::user_input("too_large", "big");
        let dl = dead_letter("parse", &raw(MAX_ORIGINAL_BYTES + 5), &err, 0);
        assert_eq!(dl.original_value.len(), MAX_ORIGINAL_BYTES);
        assert!(dl.error_message.contains("truncated"));
    }
}
