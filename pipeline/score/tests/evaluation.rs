//! Offline evaluation on the project's labeled corpus (docflow-corpus),
//! parsed by docflow-parse and embedded by the real all-MiniLM-L6-v2 on the
//! CPU (docflow-model). Prints and checks:
//! - few-shot accuracy with 1..=20 labeled examples per class on unseen documents;
//! - anomaly detection at threshold 0.7 (precision/recall overall and per reason)
//!   on a stream with planted anomalies.
//!
//! Sizes: `DOCFLOW_EVAL_DOCS` (default 2,600: 600 warm-up/labeled + 2,000 evaluated);
//! corpus seed `DOCFLOW_EVAL_SEED` (default 7); encoder precision
//! `DOCFLOW_EVAL_PRECISION` (`fp32` default, `bf16`, `int8`). The few-shot
//! bars are fp32's; a reduced precision may lose at most one point of
//! accuracy against them (the anomaly bars are the same at every precision). Embedding is the cost: about
//! 6 documents/s on two shared cores, so the default run takes ~8 minutes and
//! both tests share one prepared corpus.
//! Needs the real model (`DOCFLOW_MODEL_DIR` or ~/.cache/docflow/models/all-MiniLM-L6-v2);
//! without it the tests print why they skip.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use docflow_corpus::{AnomalyPlan, Corpus, CorpusConfig, LabeledDoc};
use docflow_model::{CpuEncoder, CpuOptions, Precision, TextEncoder, TextEncoderOptions};
use docflow_schemas::{embedding_to_bytes, EmbeddedDocument, ParsedDocument};
use docflow_score::anomaly::reasons;
use docflow_score::classifier::Priors;
use docflow_score::anomaly::{MemoryContentRegistry, MemoryInvoiceRegistry};
use docflow_score::{Learner, ModelHandle, PublishPolicy, Scorer, ScoringModel};
use futures::executor::block_on;

/// One corpus document, parsed and embedded.
struct Doc {
    class: String,
    planted: Vec<String>,
    /// Language of the printed labels.
    language: &'static str,
    embedded: EmbeddedDocument,
}

struct Prepared {
    docs: Vec<Doc>,
    warmup: usize,
    precision: Precision,
}

fn model_dir() -> PathBuf {
    std::env::var_os("DOCFLOW_MODEL_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/docflow/models/all-MiniLM-L6-v2")
    })
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Fraction of invoices and receipts in the generator's extended notations
/// (`DOCFLOW_EVAL_EXTENDED`, percent; default 0: the classic corpus).
fn extended() -> f64 {
    env_usize("DOCFLOW_EVAL_EXTENDED", 0).min(100) as f64 / 100.0
}

/// The planted rates: ~3 % of invoices and receipts carry an anomaly.
fn plan() -> AnomalyPlan {
    AnomalyPlan { outlier_amount: 0.012, reused_invoice_number: 0.012, mismatched_total: 0.012, duplicated_content: 0.006 }
}

fn prepared() -> Option<&'static Prepared> {
    static CELL: OnceLock<Option<Prepared>> = OnceLock::new();
    CELL.get_or_init(|| {
        let dir = model_dir();
        if !dir.join("model.safetensors").is_file() {
            println!("skipped: no model at {} (run `docflow model fetch`)", dir.display());
            return None;
        }
        let n = env_usize("DOCFLOW_EVAL_DOCS", 2_600);
        let t0 = Instant::now();
        let corpus: Vec<LabeledDoc> =
            Corpus::new(CorpusConfig {
                seed: env_usize("DOCFLOW_EVAL_SEED", 7) as u64,
                anomalies: plan(),
                extended_notations: extended(),
                ..Default::default()
            })
                .take(n)
                .collect();
        let t_gen = t0.elapsed();
        let limits = docflow_parse::ParseLimits::default();
        let mut parsed = Vec::with_capacity(n);
        for d in &corpus {
            let out = docflow_parse::parse_document(&d.raw, &limits)
                .unwrap_or_else(|e| panic!("corpus document {} does not parse: {e}", d.raw.id));
            parsed.push(ParsedDocument {
                id: d.raw.id.clone(),
                content_type: out.content_type,
                text: out.text,
                fields: out.fields,
                warnings: out.warnings,
                created_at_ms: d.raw.created_at_ms,
                priority: docflow_schemas::Priority::Normal,
                locale: None,
            });
        }
        let t_parse = t0.elapsed() - t_gen;
        let precision: Precision = std::env::var("DOCFLOW_EVAL_PRECISION")
            .map(|p| p.parse().expect("DOCFLOW_EVAL_PRECISION: fp32, bf16 or int8"))
            .unwrap_or_default();
        let encoder =
            CpuEncoder::load(&dir, CpuOptions { precision, ..CpuOptions::default() }).expect("CPU encoder loads");
        println!("{}", encoder.describe());
        let mut text_encoder =
            TextEncoder::load(&dir, Box::new(encoder), TextEncoderOptions::default()).expect("text encoder loads");
        // Identical texts (duplicated content) are embedded once.
        let mut unique: HashMap<&str, usize> = HashMap::new();
        let mut texts: Vec<&str> = Vec::new();
        let slot: Vec<usize> = parsed
            .iter()
            .map(|p| {
                *unique.entry(p.text.as_str()).or_insert_with(|| {
                    texts.push(p.text.as_str());
                    texts.len() - 1
                })
            })
            .collect();
        let t1 = Instant::now();
        let cache = cache_path(&texts);
        let mut vectors = cache.as_ref().and_then(|p| read_cache(p, texts.len())).unwrap_or_default();
        if vectors.is_empty() {
            for chunk in texts.chunks(256) {
                vectors.extend(text_encoder.encode_texts(chunk).expect("encoding works"));
            }
            if let Some(p) = &cache {
                write_cache(p, &vectors);
            }
        } else {
            println!("embeddings read from {} (the encoding figures below are the cache's)", cache.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        }
        let t_embed = t1.elapsed();
        let stats = text_encoder.stats();
        let n_unique = texts.len();
        println!(
            "corpus: {n} docs generated in {:.1}s, parsed in {:.1}s, {} unique texts embedded in {:.1}s \
             ({:.0} docs/s, {:.0} tokens/doc, real all-MiniLM-L6-v2 on CPU)",
            t_gen.as_secs_f64(),
            t_parse.as_secs_f64(),
            n_unique,
            t_embed.as_secs_f64(),
            n_unique as f64 / t_embed.as_secs_f64(),
            stats.tokens as f64 / n_unique.max(1) as f64
        );
        drop(texts);
        drop(unique);
        let docs = corpus
            .into_iter()
            .zip(parsed)
            .zip(slot)
            .map(|((d, p), slot)| {
                let v = &vectors[slot];
                Doc {
                    class: d.class,
                    planted: d.planted,
                    language: d.language,
                    embedded: EmbeddedDocument {
                        embedding_f32le: embedding_to_bytes(v),
                        parsed: p,
                        encoder_version: "all-MiniLM-L6-v2".into(),
                    },
                }
            })
            .collect();
        Some(Prepared { docs, warmup: n.saturating_sub(2_000).max(n / 5), precision })
    })
    .as_ref()
}

/// `DOCFLOW_EVAL_CACHE` (a folder): embeddings are kept there, keyed by
/// the SHA-256 of the texts, so tuning runs skip the ~6 minutes of encoding.
fn cache_path(texts: &[&str]) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let dir = PathBuf::from(std::env::var_os("DOCFLOW_EVAL_CACHE")?);
    let mut h = Sha256::new();
    for t in texts {
        h.update(t.as_bytes());
        h.update([0u8]);
    }
    let key: String = h.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join(format!("embeddings-{key}.f32")))
}

fn read_cache(path: &std::path::Path, n: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    let all = docflow_schemas::embedding_from_bytes(&bytes)?;
    if n == 0 || all.len() % n != 0 {
        return None;
    }
    Some(all.chunks(all.len() / n).map(<[f32]>::to_vec).collect())
}

fn write_cache(path: &std::path::Path, vectors: &[Vec<f32>]) {
    let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
    let _ = std::fs::write(path, embedding_to_bytes(&flat));
}

fn embedding(d: &Doc) -> Vec<f32> {
    docflow_schemas::embedding_from_bytes(&d.embedded.embedding_f32le).unwrap()
}

#[test]
fn few_shot_accuracy_curve() {
    let Some(p) = prepared() else { return };
    let (train_pool, test) = p.docs.split_at(p.warmup);
    let test: Vec<&Doc> = test.iter().filter(|d| !d.planted.iter().any(|r| r == reasons::DUPLICATE_CONTENT)).collect();
    let mut by_class: BTreeMap<&str, Vec<&Doc>> = BTreeMap::new();
    for d in train_pool {
        by_class.entry(d.class.as_str()).or_default().push(d);
    }
    let test_emb: Vec<Vec<f32>> = test.iter().map(|d| embedding(d)).collect();
    println!("few-shot accuracy on {} unseen documents ({} classes):", test.len(), by_class.len());
    if let Some(path) = std::env::var_os("DOCFLOW_EVAL_DUMP") {
        // Per unseen document: class, hint and the similarity to every default class (tuning by hand).
        let handle = ModelHandle::new(&ScoringModel::initial());
        let deployment = handle.load();
        let model = deployment.select("any");
        let mut out = String::new();
        for (d, e) in test.iter().zip(&test_emb) {
            let head = &d.embedded.parsed.text;
            let row = serde_json::json!({"id": d.embedded.parsed.id, "lang": d.language, "text": head, "cues": docflow_score::classifier::Cues::read(head).classes(), "emb": e, "kind": d.class, "hint": d.embedded.parsed.fields.doc_type_hint, "iban": d.embedded.parsed.fields.iban.is_some(), "number": d.embedded.parsed.fields.confidence("invoice_number"), "sims": model.classifier.similarities(e)});
            out.push_str(&row.to_string());
            out.push('\n');
        }
        std::fs::write(path, out).unwrap();
    }
    // Production: the default classes refined by k labels per class, the
    // parser's type as a prior. The other lines show what each part brings.
    let variants: [(&str, bool, bool); 4] =
        [("default classes + labels + parser priors", true, true), ("default classes + labels", true, false), ("labels + parser priors", false, true), ("labels only", false, false)];
    let mut curve = BTreeMap::new();
    for (name, seeded, hinted) in variants {
        println!(" {name}:");
        for k in 0..=20usize {
            if !seeded && k == 0 {
                continue;
            }
            if (!seeded || !hinted) && ![1, 3, 5, 10, 20].contains(&k) {
                continue;
            }
            let start = if seeded { ScoringModel::initial() } else { ScoringModel::empty(0) };
            let mut learner = Learner::new(start, PublishPolicy::default());
            let now = Instant::now();
            for docs in by_class.values() {
                for d in docs.iter().take(k) {
                    learner.add_label(&d.class, &embedding(d), now).unwrap();
                }
            }
            let handle = ModelHandle::new(learner.model());
            let deployment = handle.load();
            let model = deployment.select("any");
            let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
            // Per language of the printed labels: (right, documents).
            let mut by_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            let correct = test
                .iter()
                .zip(&test_emb)
                .filter(|(d, e)| {
                    let priors = if hinted { Priors::read(&d.embedded.parsed.fields, &d.embedded.parsed.text) } else { Priors::default() };
                    let c = model.classifier.classify_with(e, priors);
                    if c.class != d.class {
                        *confusion.entry((d.class.clone(), c.class.clone())).or_default() += 1;
                    }
                    // Only invoices and credit notes are written in six
                    // languages; the other classes are compared apart.
                    let key = if matches!(d.class.as_str(), "invoice" | "credit_note") { d.language } else { "other classes (en)" };
                    let lang = by_language.entry(key).or_default();
                    lang.0 += usize::from(c.class == d.class);
                    lang.1 += 1;
                    c.class == d.class
                })
                .count();
            let acc = correct as f64 / test.len() as f64;
            println!("  k={k:>2} per class: accuracy {:.4}  errors {:?}", acc, confusion);
            if seeded && hinted {
                curve.insert(k, acc);
                if k == 0 || k == 5 {
                    let langs: Vec<String> =
                        by_language.iter().map(|(l, (r, n))| format!("{l} {:.4} ({r}/{n})", *r as f64 / *n as f64)).collect();
                    println!("        invoices and credit notes by language of the labels: {}", langs.join(", "));
                }
            }
        }
    }
    assert!(test.len() >= 1_900, "need ~2,000 unseen documents, have {}", test.len());
    // Targets: ≥ 0.95 with no label, ≥ 0.97 with five per class, held on
    // both corpora; the classic one also holds 0.98 with twenty. A reduced
    // precision may cost up to one point (int8 measured: 0.1 point).
    let slack = if p.precision == Precision::Fp32 { 0.0 } else { 0.01 };
    let met = |x: f64, t: f64| if x >= t { "target met" } else { "TARGET NOT MET" };
    println!("  no label: {:.4} ({}); 5 per class: {:.4} ({})", curve[&0], met(curve[&0], 0.95), curve[&5], met(curve[&5], 0.97));
    if extended() == 0.0 {
        assert!(curve[&0] >= 0.95 - slack, "{}: accuracy with no label {:.4} < 0.95", p.precision, curve[&0]);
        assert!(curve[&5] >= 0.97 - slack, "{}: 5-shot accuracy {:.4} < 0.97", p.precision, curve[&5]);
        assert!(curve[&20] >= 0.98 - slack, "{}: 20-shot accuracy {:.4} < 0.98", p.precision, curve[&20]);
    } else {
        assert!(curve[&0] >= 0.95 - slack, "{}: extended, accuracy with no label {:.4} < 0.95", p.precision, curve[&0]);
        assert!(curve[&5] >= 0.97 - slack, "{}: extended, 5-shot accuracy {:.4} < 0.97", p.precision, curve[&5]);
    }
}

#[derive(Default, Debug)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fn_) as f64 }
    }
}

#[test]
fn anomaly_detection_precision_recall() {
    let Some(p) = prepared() else { return };
    // The streaming loop: score with the version in service, fold the result
    // into history, publish by the policy's counts (no timer: reproducible).
    let model = ScoringModel::initial();
    let handle = Arc::new(ModelHandle::new(&model));
    let scorer =
        Scorer::new(handle.clone(), Arc::new(MemoryInvoiceRegistry::default()), Arc::new(MemoryContentRegistry::default()));
    let policy = PublishPolicy { every_results: 100, max_interval: None, history_interval: None, ..PublishPolicy::default() };
    let mut learner = Learner::new(model, policy);
    // Five labeled examples per class from the warm-up (the few-shot setting).
    let mut per_class: HashMap<&str, usize> = HashMap::new();
    let now = Instant::now();
    for d in &p.docs[..p.warmup] {
        let n = per_class.entry(d.class.as_str()).or_default();
        if *n < 5 && d.planted.is_empty() {
            *n += 1;
            learner.add_label(&d.class, &embedding(d), now).unwrap();
        }
    }
    handle.install(&learner.publish(0).unwrap()).unwrap();

    // What each text really carries: a copy inherits its original's anomalies.
    let mut first_by_text: HashMap<&str, &Doc> = HashMap::new();
    let mut per_reason: BTreeMap<&str, Counts> = reasons::ALL.iter().map(|r| (*r, Counts::default())).collect();
    let mut overall = Counts::default();
    let (mut evaluated, mut anomalous, mut numbered) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    let mut unpayable_copies = 0usize;
    let mut honest_unexplained: Vec<String> = Vec::new();
    for (i, d) in p.docs.iter().enumerate() {
        let text = d.embedded.parsed.text.as_str();
        let mut truth: Vec<String> = d.planted.clone();
        if truth.iter().any(|r| r == reasons::DUPLICATE_CONTENT) {
            if let Some(orig) = first_by_text.get(text) {
                truth.extend(orig.planted.iter().filter(|r| *r != reasons::DUPLICATE_INVOICE_NUMBER).cloned());
            }
        }
        first_by_text.entry(text).or_insert(d);
        // The audit policy: a copy of a document without a payable amount (an
        // e-mail, a contract) is reported below the threshold, not audited.
        let payable = matches!(d.class.as_str(), "invoice" | "credit_note" | "receipt");
        if !payable && truth.iter().any(|r| r == reasons::DUPLICATE_CONTENT) {
            unpayable_copies += 1;
            truth.retain(|r| r != reasons::DUPLICATE_CONTENT);
        }
        let scored = block_on(scorer.score(d.embedded.clone())).unwrap();
        // Totals the check judged and found unexplained, on documents without
        // a planted mismatch: how close honest documents come to one.
        if i >= p.warmup && !truth.iter().any(|r| r == reasons::TOTAL_MISMATCH) {
            let f = &d.embedded.parsed.fields;
            if docflow_score::anomaly::EvidenceGates::default().total_ok(f) {
                if let Ok(m) = docflow_score::anomaly::totals::check(f, text) {
                    honest_unexplained.push(format!("{} gap {} ({:.5} of the total, tolerance {})", d.embedded.parsed.id, m.difference, m.relative, m.tolerance));
                }
            }
        }
        learner.observe_result(&scored, now).unwrap();
        if let Some(u) = learner.maybe_publish(now, 0).unwrap() {
            handle.install(&u).unwrap();
        }
        if i < p.warmup {
            continue;
        }
        evaluated += 1;
        if matches!(d.class.as_str(), "invoice" | "credit_note" | "receipt") {
            numbered += 1;
            anomalous += usize::from(!truth.is_empty());
        }
        let flagged = scored.anomaly_score > 0.7;
        let is_anomaly = !truth.is_empty();
        match (flagged, is_anomaly) {
            (true, true) => overall.tp += 1,
            (true, false) => {
                overall.fp += 1;
                false_alarms.push((d.embedded.parsed.id.clone(), scored.anomaly_reasons.clone()));
            }
            (false, true) => {
                overall.fn_ += 1;
                let f = &d.embedded.parsed.fields;
                let why = format!(
                    "total {:?} (conf {:.2}), {} items, totals check {:?}, vendor {:?} ({:.2}), number {:?} ({:.2})",
                    f.total,
                    f.confidence("total"),
                    f.line_items.len(),
                    docflow_score::anomaly::totals::check(f, &d.embedded.parsed.text).map(|m| m.difference),
                    f.vendor,
                    f.confidence("vendor"),
                    f.invoice_number,
                    f.confidence("invoice_number")
                );
                misses.push((d.embedded.parsed.id.clone(), truth.clone(), scored.anomaly_reasons.clone(), why));
            }
            _ => {}
        }
        for (name, c) in per_reason.iter_mut() {
            let said = flagged && scored.anomaly_reasons.iter().any(|r| r.reason == *name && r.contribution >= 0.5);
            let true_ = truth.iter().any(|r| r == name);
            match (said, true_) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                _ => {}
            }
        }
    }
    println!(
        "anomaly detection at 0.7 on {evaluated} documents after {} warm-up ({anomalous} of {numbered} invoices/receipts = {:.1}% carry a planted anomaly), model version {}:",
        p.warmup,
        100.0 * anomalous as f64 / numbered.max(1) as f64,
        handle.version()
    );
    println!("  overall: precision {:.4} recall {:.4} {:?}", overall.precision(), overall.recall(), overall);
    for (name, c) in &per_reason {
        println!("  {name:<26} precision {:.4} recall {:.4} {:?}", c.precision(), c.recall(), c);
    }
    for (id, truth, reasons, why) in misses.iter().take(25) {
        let said: Vec<(&str, f64)> = reasons.iter().map(|r| (r.reason.as_str(), r.contribution)).collect();
        println!("  missed: {id} {truth:?} said {said:?}; {why}");
    }
    for f in false_alarms.iter().take(10) {
        println!("  false alarm: {f:?}");
    }
    println!("  unexplained totals without a planted mismatch: {} {:?}", honest_unexplained.len(), &honest_unexplained[..honest_unexplained.len().min(10)]);
    println!("  copies of e-mails and contracts (reported at 0.5, no audit by policy, not counted above): {unpayable_copies}");
    // Targets: ≥ 0.95 precision and recall for each reason, held in both
    // the classic and the extended notations. The extended stream plants
    // fewer reused numbers and copies (3–4 each at the default size), too
    // few to hold a recall on; their misses still count in the overall one.
    let target = |c: &Counts| if c.precision() >= 0.95 && c.recall() >= 0.95 { "target met" } else { "TARGET NOT MET" };
    println!("  overall: {}", target(&overall));
    assert!(overall.precision() >= 0.95, "overall precision {overall:?}");
    let classic = extended() == 0.0;
    assert!(overall.recall() >= 0.95, "overall recall {overall:?}");
    for (name, c) in &per_reason {
        if *name == reasons::UNUSUAL_FOR_CLASS {
            // Not planted by the generator: only false alarms can be counted.
            assert_eq!(c.fp, 0, "unusual_for_class raised false alarms: {c:?}");
            continue;
        }
        println!("  {name}: {}", target(c));
        assert!(c.precision() >= 0.95, "{name}: {c:?}");
        if classic {
            // At ~3 % planted over 2,000 documents each reason has 6–12 cases.
            assert!(c.tp + c.fn_ >= 5, "{name}: too few planted cases to measure ({c:?})");
        }
        if c.tp + c.fn_ >= 5 {
            assert!(c.recall() >= 0.95, "{name}: {c:?}");
        }
    }
}
