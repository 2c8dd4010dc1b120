//! Seeded, labeled document generator for accuracy tests and load tests,
//! and the hostile documents of the limit tests.
//!
//! A crate of its own, without Kafka: the parser's, scorer's and stages'
//! tests, `docflow eval` and the load-test harness all draw the same
//! documents from it. The output is pinned byte for byte per seed
//! (`tests/fingerprint.rs`): accuracy figures and load-test reports are
//! only comparable on the same documents.
//!
//! [`Corpus`] is an iterator of [`LabeledDoc`]: a [`RawDocument`] ready to
//! publish, its ground-truth [`BusinessFields`], its class, its true format
//! and the anomalies planted in it. Classes (invoice, receipt, email,
//! contract) and formats (text, HTML, JSON, e-mail, PDF) rotate so every
//! combination is equally common; styles vary (date and number formats,
//! currency placement, messy whitespace, HTML tables, multi-page PDFs).
//!
//! - [`model`]: what a document says and how it is written.
//! - [`render`]: the five formats and the ground truth.
//! - [`anomaly`]: [`AnomalyPlan`], planting outliers, reused invoice numbers,
//!   mismatched totals and duplicated content.
//! - [`vocab`]: vendors (with stable profiles), customers, sentences.
//! - [`charges`]: discount and shipping lines of the extended notations.
//! - [`hostile`]: hostile documents built on the spot (PDF decompression
//!   bombs, deep nesting, a many-part e-mail) for the limit tests.

pub mod anomaly;
pub mod charges;
pub mod hostile;
pub mod model;
pub mod render;
pub mod vocab;

pub use anomaly::AnomalyPlan;
pub use model::Class;
pub use render::DocFormat;

use docflow_schemas::{BusinessFields, RawDocument};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// One generated document with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledDoc {
    pub raw: RawDocument,
    /// What the parser should extract from `raw`.
    pub truth: BusinessFields,
    /// `invoice | receipt | email | contract`, and `credit_note` for the
    /// invoices the extended notations turn into credit notes (titled as
    /// such, every amount negative: what a reader files them as).
    pub class: String,
    /// The format the body is really in (also when `raw.content_type` is
    /// left out to exercise sniffing).
    pub format: DocFormat,
    /// Anomalies planted in this document (`amount_outlier`,
    /// `duplicate_invoice_number`, `total_mismatch`, `duplicate_content`),
    /// named like `docflow_schemas::AnomalyReason::reason`.
    pub planted: Vec<String>,
    /// Language of the printed labels (`en`, `de`, `fr`, `es`, `it`, `nl`):
    /// the notation's for invoices in the extended notations, `en` for the
    /// rest (receipts keep English labels in every notation).
    pub language: &'static str,
}

/// Generator settings.
#[derive(Debug, Clone)]
pub struct CorpusConfig {
    pub seed: u64,
    /// Classes to rotate through.
    pub classes: Vec<Class>,
    /// Formats to rotate through.
    pub formats: Vec<DocFormat>,
    /// Fraction of documents published without a content type (the parser sniffs).
    pub unlabeled_content_type: f64,
    /// Anomalies to plant (none by default).
    pub anomalies: AnomalyPlan,
    /// Prefix of document ids (`{prefix}-{n}`).
    pub id_prefix: String,
    /// Fraction of invoices and receipts written in the extended notations
    /// (labels in six languages, an unlabelled number after the title, a
    /// `From:` seller line, receipts with cash, change and rounding lines).
    /// 0 by default, which keeps the classic corpus byte for byte.
    pub extended_notations: f64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            classes: Class::ALL.to_vec(),
            formats: DocFormat::ALL.to_vec(),
            unlabeled_content_type: 0.1,
            anomalies: AnomalyPlan::none(),
            id_prefix: "doc".to_string(),
            extended_notations: 0.0,
        }
    }
}

/// An endless, deterministic stream of labeled documents.
pub struct Corpus {
    cfg: CorpusConfig,
    rng: StdRng,
    n: u64,
    state: anomaly::State,
}

impl Corpus {
    pub fn new(cfg: CorpusConfig) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed);
        Self { cfg, rng, n: 0, state: anomaly::State::default() }
    }

    /// `n` documents with the default settings and `seed`.
    pub fn generate(seed: u64, n: usize) -> Vec<LabeledDoc> {
        Corpus::new(CorpusConfig { seed, ..Default::default() }).take(n).collect()
    }

    fn next_doc(&mut self) -> LabeledDoc {
        let i = self.n;
        self.n += 1;
        let id = format!("{}-{i:06}", self.cfg.id_prefix);
        let class = self.cfg.classes[(i as usize) % self.cfg.classes.len()];
        let format = self.cfg.formats[(i as usize / self.cfg.classes.len()) % self.cfg.formats.len()];
        if let Some(dup) = self.state.maybe_duplicate(&mut self.rng, &self.cfg.anomalies, &id) {
            return dup;
        }
        let mut m = model::random_model(&mut self.rng, class, i);
        // (Drawn only when asked for: the classic corpus keeps its stream.)
        if self.cfg.extended_notations > 0.0 && matches!(class, Class::Invoice | Class::Receipt) && self.rng.random_bool(self.cfg.extended_notations) {
            m.style.notation = Some(self.rng.random_range(0..render::extended::NOTATIONS.len() as u8));
            charges::draw(&mut self.rng, &mut m);
            render::extended::vary(&mut self.rng, &mut m);
        }
        let planted = self.state.plant(&mut self.rng, &self.cfg.anomalies, &mut m);
        let body = match format {
            DocFormat::Text => render::text::render(&m),
            DocFormat::Html => render::html::render(&m),
            DocFormat::Json => render::json::render(&m),
            DocFormat::Email => render::email::render(&m, &id),
            DocFormat::Pdf => render::pdf::render(&m),
        };
        let mut metadata = BTreeMap::new();
        if let Some(l) = &m.style.locale {
            metadata.insert("locale".to_string(), l.clone());
        }
        metadata.insert("source".to_string(), "docflow-corpus".to_string());
        let content_type = (!self.rng.random_bool(self.cfg.unlabeled_content_type)).then(|| format.mime().to_string());
        let raw = RawDocument { id, content_type, body, metadata, created_at_ms: 1_767_225_600_000 + i as i64 * 1000 };
        let doc = LabeledDoc { raw, truth: render::truth(&m, format), class: render::class_name(&m).to_string(), format, planted, language: render::language(&m) };
        self.state.remember(&doc, &m);
        doc
    }
}

impl Iterator for Corpus {
    type Item = LabeledDoc;
    fn next(&mut self) -> Option<LabeledDoc> {
        Some(self.next_doc())
    }
}
