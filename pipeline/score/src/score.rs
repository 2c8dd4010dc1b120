//! [`Scorer`]: one embedded document in, its class and explained anomaly score out.
//!
//! The result depends only on the model version chosen for the document, the
//! document itself and the two registries' answers, never on which replica or
//! partition scored it; this is what makes the offline mode and the
//! streaming path agree.

use std::sync::Arc;

use docflow_core::StageError;
use docflow_schemas::{AnomalyReason, BusinessFields, EmbeddedDocument, ReasonEvidence, ScoredDocument};

use crate::anomaly::amount::Scope;
use crate::anomaly::{
    combine, AnomalyParams, content_key, explain, normalize_content, normalize_invoice_number, normalize_vendor, reasons, totals, Claim,
    ContentRegistry, InvoiceRegistry,
};
use crate::classifier::{Classification, Priors, OTHER};
use crate::model::{CompiledModel, ModelHandle};
use crate::vector::decode_embedding;

/// Classes (predicted, or the parser's `doc_type_hint`) whose numbers are
/// claimed as invoice numbers. An email that *mentions* an invoice number is
/// not a second invoice with that number.
pub const NUMBERED_CLASSES: [&str; 2] = ["invoice", "receipt"];

/// Classes (predicted, or hinted) that are letters, not bills: their
/// numbers are never claimed. A document neither side calls a bill nor a
/// letter (`other`, a credit note, a class added by users) is claimed, so a
/// bill the classifier misplaces keeps its duplicate check.
pub const LETTER_CLASSES: [&str; 2] = ["email", "contract"];

/// Confidence given to the parse stage's `doc_type_hint` when the model has
/// no class at all (a rule, not a measurement: below the learner's
/// `member_min_confidence`, so hinted documents never feed class profiles).
pub const HINT_CONFIDENCE: f64 = 0.5;

/// Scores documents with the model version in service.
#[derive(Clone)]
pub struct Scorer {
    models: Arc<ModelHandle>,
    invoices: Arc<dyn InvoiceRegistry>,
    contents: Arc<dyn ContentRegistry>,
}

impl Scorer {
    pub fn new(models: Arc<ModelHandle>, invoices: Arc<dyn InvoiceRegistry>, contents: Arc<dyn ContentRegistry>) -> Self {
        Self { models, invoices, contents }
    }

    pub fn models(&self) -> &Arc<ModelHandle> {
        &self.models
    }

    /// Scores one document. Errors: a malformed embedding (user input, to the
    /// DLQ) or a registry failure (external, retried by the stage runtime;
    /// the claims are idempotent so a retry is safe).
    pub async fn score(&self, doc: EmbeddedDocument) -> Result<ScoredDocument, StageError> {
        let deployment = self.models.load();
        let model = Arc::clone(deployment.select(&doc.parsed.id));
        drop(deployment);
        let (class, class_confidence, reasons) = self.evaluate(&model, &doc).await?;
        let anomaly_score = combine(reasons.iter().map(|r| r.contribution));
        Ok(ScoredDocument { embedded: doc, class, class_confidence, anomaly_score, anomaly_reasons: reasons, model_version: model.version })
    }

    async fn evaluate(
        &self,
        model: &CompiledModel,
        doc: &EmbeddedDocument,
    ) -> Result<(String, f64, Vec<AnomalyReason>), StageError> {
        let p = &model.thresholds.anomaly;
        let gates = &p.evidence;
        // Seed prototypes of another encoder say nothing about this document.
        let foreign_seed = model.seed_only_encoder.as_deref().is_some_and(|enc| {
            !doc.encoder_version.starts_with(enc) || doc.embedding_f32le.len() != 4 * model.classifier.dim
        });
        let dim = (!model.classifier.is_empty() && !foreign_seed).then_some(model.classifier.dim);
        let embedding = decode_embedding(&doc.embedding_f32le, dim)?;
        let fields = &doc.parsed.fields;
        let cls = if foreign_seed { Classification::none() } else { model.classifier.classify_with(&embedding, Priors::read(fields, &doc.parsed.text)) };
        let (class, class_confidence) = resolve_class(&cls, fields);
        let mut out = Vec::new();
        let mut push = |reason: &str, value: f64, contribution: f64, evidence: Option<ReasonEvidence>| {
            if contribution >= p.report_floor && value.is_finite() {
                out.push(AnomalyReason { reason: reason.into(), value, contribution, evidence });
            }
        };

        if let Some(i) = cls.class_index {
            let stats = &model.classifier.distance[i];
            if stats.n > 0 {
                let d = 1.0 - cls.similarity;
                let std = stats.shrunk_std(p.class_distance_prior_std, p.class_distance_prior_weight);
                let z = (d - stats.mean) / std;
                let evidence = explain::unusual_for_class(&cls.class, d, stats.mean, std, p.unusual_for_class.midpoint);
                push(reasons::UNUSUAL_FOR_CLASS, z, p.unusual_for_class.contribution(z), Some(evidence));
            }
        }
        // One-sided: a bill far above what the vendor (or the class) usually
        // charges is the payment risk; an unusually small one is not.
        if let Some(c) = model.vendors.check(fields, &class, p) {
            let weight = match c.scope {
                Scope::Vendor => 1.0,
                Scope::Class => p.amount_class_weight,
            };
            let evidence = explain::amount(&c, fields, gates);
            push(reasons::AMOUNT_OUTLIER, c.z, weight * p.amount.contribution(c.z.max(0.0)), Some(evidence));
        }
        if gates.total_ok(fields) {
            if let Ok(m) = totals::check(fields, &doc.parsed.text) {
                use rust_decimal::prelude::ToPrimitive;
                let value = m.difference.to_f64().unwrap_or(f64::MAX);
                let evidence = explain::total_mismatch(&m, fields, gates);
                let relative = p.total_mismatch.contribution(m.relative.log10());
                let roundings = p.total_mismatch_roundings.contribution(m.roundings().log10());
                push(reasons::TOTAL_MISMATCH, value, relative.max(roundings), Some(evidence));
            }
        }

        // The claims go to the registries concurrently (database round trips in parallel).
        let normalized = normalize_content(&doc.parsed.text);
        let key = (normalized.chars().count() >= p.duplicate_content_min_chars).then(|| content_key(&normalized));
        let hint = fields.doc_type_hint.as_deref();
        let numbered = NUMBERED_CLASSES.contains(&class.as_str())
            || hint.is_some_and(|h| NUMBERED_CLASSES.contains(&h))
            || (!LETTER_CLASSES.contains(&class.as_str()) && !hint.is_some_and(|h| LETTER_CLASSES.contains(&h)));
        let invoice = invoice_claims(fields, numbered, p);
        let id = doc.parsed.id.as_str();
        let content_claim = async {
            match &key {
                Some(k) => self.contents.claim(k, id).await.map(Some),
                None => Ok(None),
            }
        };
        let invoice_claim = async {
            let Some(c) = &invoice else { return Ok(None) };
            let claims = c.numbers.iter().map(|n| self.invoices.claim(&c.vendor, n, id));
            let answers = futures::future::join_all(claims).await;
            let mut first_dup = None;
            for a in answers {
                if let Claim::Duplicate { first_doc_id } = a? {
                    first_dup.get_or_insert(first_doc_id);
                }
            }
            Ok::<_, StageError>(Some(first_dup))
        };
        let (content_claim, invoice_claim) = futures::future::join(content_claim, invoice_claim).await;
        match (content_claim?, invoice_claim?, &invoice) {
            (Some(Claim::Duplicate { first_doc_id }), _, _) => {
                // A copy of a payable document risks a double payment; a copy
                // of an e-mail or a letter is reported without opening an audit.
                let payable = numbered || gates.total_ok(fields);
                let c = if payable { p.duplicate_contribution } else { p.duplicate_unpayable_contribution };
                push(reasons::DUPLICATE_CONTENT, 1.0, c, Some(explain::duplicate_content(&first_doc_id)));
            }
            (_, Some(Some(first_doc_id)), Some(c)) => {
                // A verbatim copy also repeats its number; the copy is the one
                // explanation, so the number is reported only for distinct content.
                let evidence = explain::duplicate_invoice(&c.vendor, &c.number, &first_doc_id, fields, gates);
                push(reasons::DUPLICATE_INVOICE_NUMBER, 1.0, p.duplicate_contribution, Some(evidence));
            }
            _ => {}
        }

        out.sort_by(|a, b| b.contribution.total_cmp(&a.contribution).then_with(|| a.reason.cmp(&b.reason)));
        Ok((class, class_confidence, out))
    }
}

/// What an invoice-number claim asks the registry.
struct InvoiceClaims {
    /// Normalised vendor.
    vendor: String,
    /// Normalised number, as printed.
    number: String,
    /// Registry keys: the number alone, or, with a confident date, the
    /// number in its year and in each of the `invoice_number_years − 1`
    /// years before (two documents collide iff their years are that close).
    numbers: Vec<String>,
}

/// The claims of a numbered document whose vendor and number the parser is
/// sure of; None otherwise (a misread number would block the real one, a
/// misread vendor would put two vendors' numbering side by side).
fn invoice_claims(fields: &BusinessFields, numbered: bool, p: &AnomalyParams) -> Option<InvoiceClaims> {
    let gates = &p.evidence;
    if !numbered || !gates.vendor_ok(fields) || !gates.invoice_number_ok(fields) {
        return None;
    }
    let vendor = normalize_vendor(fields.vendor.as_deref()?);
    let number = normalize_invoice_number(fields.invoice_number.as_deref()?);
    if vendor.is_empty() || number.is_empty() {
        return None;
    }
    let numbers = match gates.year(fields).filter(|_| p.invoice_number_years > 0) {
        // Claimed in its own year and the years before it: a document of
        // year y and one of year y − k (k < years) share year y − k.
        Some(y) => (0..p.invoice_number_years as i32).map(|k| format!("{number}@{}", y - k)).collect(),
        None => vec![number.clone()],
    };
    Some(InvoiceClaims { vendor, number, numbers })
}

/// The class of a document: the classifier's, or, when no class was ever
/// learned (a model without prototypes), the parse stage's rule-based
/// `doc_type_hint` at a fixed, modest confidence, so results are useful
/// before the first label.
fn resolve_class(cls: &Classification, fields: &BusinessFields) -> (String, f64) {
    if cls.class_index.is_none() && cls.confidence == 0.0 {
        if let Some(hint) = fields.doc_type_hint.as_deref().filter(|h| !h.trim().is_empty()) {
            return (hint.to_string(), HINT_CONFIDENCE);
        }
    }
    let class = if cls.class.is_empty() { OTHER.to_string() } else { cls.class.clone() };
    (class, cls.confidence)
}
