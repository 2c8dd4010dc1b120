//! Message envelopes, one per topic. Field meanings are documented here and
//! in `schemas/README.md`; a producer in any language follows that file.
//! Money is `rust_decimal::Decimal`, serialised as a string ("1234.56"),
//! never a float.

use crate::topology::Priority;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

mod bytes_text;
mod raw_wire;

/// `docs.raw.{critical,high,normal,low}`: a document as a producer publishes it.
///
/// Serde is hand-written (`envelope/raw_wire.rs`) only so that JSON producers
/// can send `body` as a UTF-8 string or `body_base64`; on MessagePack the
/// fields and their encoding are exactly what `derive` would give (`body` is
/// `bin`; a `str` body is accepted too).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "raw_wire::RawDocumentWire")]
pub struct RawDocument {
    /// Document id, also the Kafka key. Unique per document.
    pub id: String,
    /// MIME type (`text/plain`, `text/html`, `application/json`,
    /// `message/rfc822`, `application/pdf`); sniffed from the body when absent.
    pub content_type: Option<String>,
    /// The document bytes.
    pub body: Vec<u8>,
    /// Producer-side metadata (source system, locale hint such as `en-US`, …).
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Milliseconds since the Unix epoch when the producer created the event.
    pub created_at_ms: i64,
}

/// One line of an invoice or receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LineItem {
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
}

/// Business fields extracted by the parse stage; every field is optional and
/// absent when not found. A field found with little evidence is still
/// reported; `field_confidence` says how sure the extractor is, and
/// `field_source` how it was found, so that downstream can tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BusinessFields {
    /// `invoice | receipt | email | contract | other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_type_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    /// ISO 8601 `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Decimal>,
    /// ISO 4217 code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
    /// Mod-97 valid IBAN, normalised (no spaces, upper case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_ibans: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    /// Contract parties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<String>,
    /// Email subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Whether the line items agree with themselves and the totals
    /// (quantity × unit price = amount on every line that states all three,
    /// and the amounts add up to the net or gross total); absent without items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_items_consistent: Option<bool>,
    /// Field name → confidence in [0, 1] for the fields above that were found
    /// (schema v1.1).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub field_confidence: std::collections::BTreeMap<String, f64>,
    /// Field name → how it was found: `einvoice` (embedded or attached
    /// e-invoice XML), `header` (e-mail headers), `label` (after a label on
    /// its line), `layout` (a label above it), `ranker` (the learned ranker
    /// on position and format alone) (schema v1.1).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub field_source: std::collections::BTreeMap<String, String>,
}

impl BusinessFields {
    /// Records how a field was found.
    pub fn set_provenance(&mut self, field: &str, confidence: f64, source: &str) {
        self.field_confidence.insert(field.to_string(), (confidence.clamp(0.0, 1.0) * 1000.0).round() / 1000.0);
        self.field_source.insert(field.to_string(), source.to_string());
    }

    /// The confidence of `field`, 0 when it was not found or carries none.
    pub fn confidence(&self, field: &str) -> f64 {
        self.field_confidence.get(field).copied().unwrap_or(0.0)
    }
}

/// `docs.parsed`: normalised text plus fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedDocument {
    pub id: String,
    /// The content type actually used to parse (after sniffing).
    pub content_type: String,
    /// Normalised visible text.
    pub text: String,
    pub fields: BusinessFields,
    /// Non-fatal findings (`invalid_utf8`, `truncated_pages`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Copied from [`RawDocument::created_at_ms`] so end-to-end latency is measurable.
    pub created_at_ms: i64,
    /// The raw lane it came from (`critical`, `high`, `normal`, `low`).
    pub priority: Priority,
    /// The raw document's `locale` hint (how ambiguous dates were read),
    /// kept so a later stage reads the text as the parser did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// `docs.embedded`: the parsed document plus its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedDocument {
    pub parsed: ParsedDocument,
    /// L2-normalised sentence embedding, little-endian f32 bytes
    /// (384 × 4 = 1,536 bytes for MiniLM): compact in MessagePack.
    #[serde(with = "serde_bytes")]
    pub embedding_f32le: Vec<u8>,
    /// Encoder model name and version (`all-MiniLM-L6-v2@<sha256 prefix>`).
    pub encoder_version: String,
}

/// One reason behind an anomaly score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReason {
    /// `amount_outlier | total_mismatch | duplicate_invoice_number | duplicate_content | unusual_for_class`.
    pub reason: String,
    /// The measured value (distance, z-score, difference…).
    pub value: f64,
    /// Its contribution to the score, in [0, 1].
    pub contribution: f64,
    /// What the reason compared and what it expected (schema v1.2; absent
    /// from older producers and from reasons that compare nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<ReasonEvidence>,
}

impl AnomalyReason {
    /// A reason without evidence.
    pub fn new(reason: impl Into<String>, value: f64, contribution: f64) -> Self {
        Self { reason: reason.into(), value, contribution, evidence: None }
    }
}

/// The evidence behind one [`AnomalyReason`] (schema v1.2): the values it
/// compared, the range a normal document stays in, and the fields it read
/// with the parser's confidence in each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasonEvidence {
    /// Named values that were compared (`items_sum`, `stated_total`,
    /// `vendor_median_unit_price`, …). Money as decimal strings.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub compared: std::collections::BTreeMap<String, Decimal>,
    /// The quantity the expected range is about (`stated_total`, `unit_price`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// Lowest normal value of `observed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_low: Option<Decimal>,
    /// Highest normal value of `observed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_high: Option<Decimal>,
    /// Field name → the parser's confidence, for every field the reason read.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, f64>,
    /// One sentence for the auditor.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub explanation: String,
}

/// `docs.scored`: class and anomaly score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredDocument {
    pub embedded: EmbeddedDocument,
    pub class: String,
    pub class_confidence: f64,
    /// In [0, 1]; > 0.7 opens an audit.
    pub anomaly_score: f64,
    #[serde(default)]
    pub anomaly_reasons: Vec<AnomalyReason>,
    /// Version of the classifier/anomaly model that produced this record.
    pub model_version: u64,
}

/// `docs.results`: published only after the row is durable in the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub id: String,
    pub class: String,
    pub class_confidence: f64,
    pub fields: BusinessFields,
    pub anomaly_score: f64,
    #[serde(default)]
    pub anomaly_reasons: Vec<AnomalyReason>,
    /// `ok | pending_audit`; an auditor's verdict when an audited document
    /// comes through again ([`ResultStatus`]).
    pub status: ResultStatus,
    pub model_version: u64,
    pub created_at_ms: i64,
    /// When the row was durable (ms since epoch).
    pub persisted_at_ms: i64,
}

/// [`ResultRecord::status`]: the document's status after the write. On the
/// wire it is the name as a string, exactly as when the field was a
/// `String`; any other name does not decode.
///
/// A scored document is `ok` or `pending_audit`. A human verdict is final
/// (the store does not reopen it), so a document that was audited and comes
/// through the pipeline again (a replay) carries the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum ResultStatus {
    /// The anomaly score is at or below the audit threshold.
    Ok,
    /// Above the threshold: an audit is open.
    PendingAudit,
    /// An auditor found nothing wrong.
    AuditedOk,
    /// An auditor confirmed fraud.
    AuditedFraud,
    /// An auditor found a processing error.
    AuditedError,
}

impl ResultStatus {
    pub const ALL: [ResultStatus; 5] =
        [ResultStatus::Ok, ResultStatus::PendingAudit, ResultStatus::AuditedOk, ResultStatus::AuditedFraud, ResultStatus::AuditedError];

    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Ok => "ok",
            ResultStatus::PendingAudit => "pending_audit",
            ResultStatus::AuditedOk => "audited_ok",
            ResultStatus::AuditedFraud => "audited_fraud",
            ResultStatus::AuditedError => "audited_error",
        }
    }

    /// The status named `name`, if it is one.
    pub fn parse(name: &str) -> Option<ResultStatus> {
        ResultStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A human verdict is final: later replays of the pipeline do not reopen it.
    pub const fn is_final(self) -> bool {
        matches!(self, ResultStatus::AuditedOk | ResultStatus::AuditedFraud | ResultStatus::AuditedError)
    }
}

impl std::fmt::Display for ResultStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ResultStatus> for &'static str {
    fn from(s: ResultStatus) -> Self {
        s.as_str()
    }
}

impl TryFrom<String> for ResultStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ResultStatus::parse(&s).ok_or_else(|| format!("unknown result status {s:?} (ok, pending_audit, audited_ok, audited_fraud, audited_error)"))
    }
}

/// `docs.dlq`: a record a stage could not process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Stage that gave up (`parse`, `infer`, …).
    pub stage: String,
    /// `user_input | external | internal`.
    pub error_domain: String,
    /// Short snake_case kind (`decode`, `too_large`, `pdf_no_text`, …).
    pub error_kind: String,
    pub error_message: String,
    pub original_topic: String,
    pub original_partition: i32,
    pub original_offset: i64,
    /// Original key, if any (JSON: base64).
    #[serde(default, with = "bytes_text::option")]
    pub original_key: Option<Vec<u8>>,
    /// Original value bytes, exactly as consumed (JSON: base64).
    #[serde(with = "bytes_text")]
    pub original_value: Vec<u8>,
    pub failed_at_ms: i64,
    /// The original record's headers whose values are UTF-8 text
    /// (`docflow-codec`, `content-type`, `traceparent`, …; the last of a
    /// repeated name), so `docflow dlq replay` can restore them. Absent when
    /// there were none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub original_headers: std::collections::BTreeMap<String, String>,
}

/// `docs.feedback`: a label or correction from a human or another system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: String,
    /// Class label (any string; a new one creates a class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Correction of the anomaly verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_anomaly: Option<bool>,
    /// The document's embedding when the sender has it (lets learn skip a lookup).
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub embedding_f32le: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at_ms: i64,
    /// Corrected field values (field name → right value, e.g. `total` →
    /// `1234.56`); the parse stage learns where the document's layout puts
    /// them. Additive (`docflow.v1.1`): absent when there are none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// `model.updates` (compacted, key = model name): a full model state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelUpdate {
    /// Monotonic version.
    pub version: u64,
    /// Fraction of documents (by id hash) that use this version while rolling out, in [0, 1].
    pub rollout_fraction: f64,
    /// Version to use for the other documents during a rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<u64>,
    /// Opaque model state (MessagePack of the scorer's state type).
    #[serde(with = "serde_bytes")]
    pub state: Vec<u8>,
    pub created_at_ms: i64,
}

/// Little-endian f32 bytes → floats (the embedding encoding of [`EmbeddedDocument`]).
pub fn embedding_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Floats → little-endian f32 bytes.
pub fn embedding_to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
