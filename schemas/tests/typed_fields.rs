//! `ParsedDocument::priority` and `ResultRecord::status` are enums in code
//! and strings on the wire, as they were when the fields were `String`s:
//! a record encoded with the old string form decodes, the typed record
//! encodes to the very same bytes, and a name that is not a lane or a
//! status is a decode error (which a stage dead-letters) rather than a
//! value passed on.

mod common;

use common::*;
use docflow_schemas::*;
use serde::{Deserialize, Serialize};

/// `ParsedDocument` as it was, with `priority: String`.
#[derive(Serialize, Deserialize)]
struct OldParsedDocument {
    id: String,
    content_type: String,
    text: String,
    fields: BusinessFields,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    created_at_ms: i64,
    priority: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
}

/// `ResultRecord` as it was, with `status: String`.
#[derive(Serialize, Deserialize)]
struct OldResultRecord {
    id: String,
    class: String,
    class_confidence: f64,
    fields: BusinessFields,
    anomaly_score: f64,
    #[serde(default)]
    anomaly_reasons: Vec<AnomalyReason>,
    status: String,
    model_version: u64,
    created_at_ms: i64,
    persisted_at_ms: i64,
}

fn old_parsed(priority: &str) -> OldParsedDocument {
    let p = parsed();
    OldParsedDocument {
        id: p.id,
        content_type: p.content_type,
        text: p.text,
        fields: p.fields,
        warnings: p.warnings,
        created_at_ms: p.created_at_ms,
        priority: priority.to_owned(),
        locale: p.locale,
    }
}

fn old_result(status: &str) -> OldResultRecord {
    let r = result();
    OldResultRecord {
        id: r.id,
        class: r.class,
        class_confidence: r.class_confidence,
        fields: r.fields,
        anomaly_score: r.anomaly_score,
        anomaly_reasons: r.anomaly_reasons,
        status: status.to_owned(),
        model_version: r.model_version,
        created_at_ms: r.created_at_ms,
        persisted_at_ms: r.persisted_at_ms,
    }
}

const CODECS: [Codec; 3] = [Codec::MsgPack, Codec::MsgPackLz4, Codec::Json];

#[test]
fn every_lane_decodes_from_the_old_string_form_and_encodes_to_the_same_bytes() {
    let limits = Limits::default();
    for lane in Priority::ALL {
        for codec in CODECS {
            let old = encode_with(&old_parsed(lane.as_str()), codec, &limits).unwrap();
            let doc: ParsedDocument = decode(&old.bytes, codec, &limits).unwrap();
            assert_eq!(doc.priority, lane, "{codec:?}");
            assert_eq!(encode_with(&doc, codec, &limits).unwrap().bytes, old.bytes, "{lane} over {codec:?}: the wire form changed");
        }
    }
}

#[test]
fn every_status_decodes_from_the_old_string_form_and_encodes_to_the_same_bytes() {
    let limits = Limits::default();
    for status in ResultStatus::ALL {
        for codec in CODECS {
            let old = encode_with(&old_result(status.as_str()), codec, &limits).unwrap();
            let rec: ResultRecord = decode(&old.bytes, codec, &limits).unwrap();
            assert_eq!(rec.status, status, "{codec:?}");
            assert_eq!(encode_with(&rec, codec, &limits).unwrap().bytes, old.bytes, "{status} over {codec:?}: the wire form changed");
        }
    }
}

#[test]
fn an_unknown_lane_or_status_is_a_decode_error() {
    let limits = Limits::default();
    for codec in CODECS {
        for bad in ["urgent", "", "Critical", "normal "] {
            let enc = encode_with(&old_parsed(bad), codec, &limits).unwrap();
            let err = decode::<ParsedDocument>(&enc.bytes, codec, &limits).unwrap_err();
            assert!(err.to_string().contains("priority lane"), "{bad:?} over {codec:?}: {err}");
        }
        for bad in ["approved", "", "OK", "pending"] {
            let enc = encode_with(&old_result(bad), codec, &limits).unwrap();
            let err = decode::<ResultRecord>(&enc.bytes, codec, &limits).unwrap_err();
            assert!(err.to_string().contains("result status"), "{bad:?} over {codec:?}: {err}");
        }
    }
}
