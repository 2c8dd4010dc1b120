//! [`Scorer`]: one embedded document in, its class and explained anomaly score out.
//!
//! The result depends only on the model version chosen for the document, the
//! document itself and the two registries' answers, never on which replica or
//! partition scored it; this is what makes the offline mode and the
//! streaming path agree.

use std::sync::Arc;

use docflow_core::StageError;
use docflow_schemas::{AnomalyReason, EmbeddedDocument, ScoredDocument};

use crate::anomaly::{
    combine, content_key, normalize_content, normalize_invoice_number, normalize_vendor, reasons, totals, Claim,
    ContentRegistry, InvoiceRegistry,
};
use crate::classifier::OTHER;
use crate::model::{CompiledModel, ModelHandle};
use crate::vector::decode_embedding;

/// Classes (predicted, or the parser's `doc_type_hint`) whose numbers are
/// claimed as invoice numbers. An email that *mentions* an invoice number is
/// not a second invoice with that number.
pub const NUMBERED_CLASSES: [&str; 2] = ["invoice", "receipt"];

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
        let dim = (!model.classifier.is_empty()).then_some(model.classifier.dim);
        let embedding = decode_embedding(&doc.embedding_f32le, dim)?;
        let cls = model.classifier.classify(&embedding);
        let fields = &doc.parsed.fields;
        let mut out = Vec::new();
        let mut push = |reason: &str, value: f64, contribution: f64| {
            if contribution >= p.report_floor && value.is_finite() {
                out.push(AnomalyReason { reason: reason.into(), value, contribution });
            }
        };

        if let Some(i) = cls.class_index {
            let stats = &model.classifier.distance[i];
            if stats.n > 0 {
                let d = 1.0 - cls.similarity;
                let z = (d - stats.mean) / stats.shrunk_std(p.class_distance_prior_std, p.class_distance_prior_weight);
                push(reasons::UNUSUAL_FOR_CLASS, z, p.unusual_for_class.contribution(z));
            }
        }
        if let Some(z) = model.vendors.robust_z(fields, p) {
            push(reasons::AMOUNT_OUTLIER, z, p.amount.contribution(z.abs()));
        }
        if let Some(m) = totals::check(fields) {
            use rust_decimal::prelude::ToPrimitive;
            let value = m.difference.to_f64().unwrap_or(f64::MAX);
            push(reasons::TOTAL_MISMATCH, value, p.total_mismatch.contribution(m.relative.log10()));
        }

        // The two claims go to the registries concurrently (two database round trips in one).
        let normalized = normalize_content(&doc.parsed.text);
        let key = (normalized.chars().count() >= p.duplicate_content_min_chars).then(|| content_key(&normalized));
        let numbered = NUMBERED_CLASSES.contains(&cls.class.as_str())
            || fields.doc_type_hint.as_deref().is_some_and(|h| NUMBERED_CLASSES.contains(&h));
        let invoice_key = match (&fields.vendor, &fields.invoice_number) {
            (Some(v), Some(n)) if numbered => {
                let (v, n) = (normalize_vendor(v), normalize_invoice_number(n));
                (!v.is_empty() && !n.is_empty()).then_some((v, n))
            }
            _ => None,
        };
        let id = doc.parsed.id.as_str();
        let content_claim = async {
            match &key {
                Some(k) => self.contents.claim(k, id).await.map(Some),
                None => Ok(None),
            }
        };
        let invoice_claim = async {
            match &invoice_key {
                Some((v, n)) => self.invoices.claim(v, n, id).await.map(Some),
                None => Ok(None),
            }
        };
        let (content_claim, invoice_claim) = futures::future::join(content_claim, invoice_claim).await;
        let content_dup = matches!(content_claim?, Some(Claim::Duplicate { .. }));
        let invoice_dup = matches!(invoice_claim?, Some(Claim::Duplicate { .. }));
        if content_dup {
            push(reasons::DUPLICATE_CONTENT, 1.0, p.duplicate_contribution);
        } else if invoice_dup {
            // A verbatim copy also repeats its number; the copy is the one
            // explanation, so the number is reported only for distinct content.
            push(reasons::DUPLICATE_INVOICE_NUMBER, 1.0, p.duplicate_contribution);
        }

        out.sort_by(|a, b| b.contribution.total_cmp(&a.contribution).then_with(|| a.reason.cmp(&b.reason)));
        let class = if cls.class.is_empty() { OTHER.to_string() } else { cls.class };
        Ok((class, cls.confidence, out))
    }
}
