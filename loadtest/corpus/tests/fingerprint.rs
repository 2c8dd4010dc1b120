//! The generator's output is part of the project's contract: the accuracy
//! figures, the load-test reports and the golden files were all measured on
//! these exact documents. A digest of the first documents of a few seeded
//! streams pins them byte for byte, so a refactor or a dependency update that
//! changes a single byte (a different random draw, a PDF writer that orders
//! objects differently) fails here instead of silently moving every figure.
//!
//! If a change to the documents is intended, update the digests in the same
//! commit and say why.

use docflow_corpus::{hostile, AnomalyPlan, Corpus, CorpusConfig};
use sha2::{Digest, Sha256};

/// How many documents of each stream are hashed: enough for every class ×
/// format combination several times and for every anomaly kind.
const N: usize = 400;

/// Every field of every document, length-prefixed so that no two different
/// streams can hash the same bytes.
fn digest(docs: impl Iterator<Item = docflow_corpus::LabeledDoc>) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    for d in docs {
        field(d.raw.id.as_bytes());
        field(d.raw.content_type.as_deref().unwrap_or("-").as_bytes());
        field(&d.raw.body);
        for (k, v) in &d.raw.metadata {
            field(k.as_bytes());
            field(v.as_bytes());
        }
        field(&d.raw.created_at_ms.to_le_bytes());
        field(serde_json::to_string(&d.truth).expect("truth serialises").as_bytes());
        field(d.class.as_bytes());
        field(d.format.mime().as_bytes());
        for p in &d.planted {
            field(p.as_bytes());
        }
        field(d.language.as_bytes());
    }
    hex::encode(h.finalize())
}

fn stream(cfg: CorpusConfig) -> String {
    digest(Corpus::new(cfg).take(N))
}

#[test]
fn default_stream_is_unchanged() {
    assert_eq!(stream(CorpusConfig::default()), "2e9628ec8ef1893512e958924ffd576475162858e054bddbc9e9d1ebe3eab462");
}

#[test]
fn anomalies_and_extended_notations_stream_is_unchanged() {
    let cfg = CorpusConfig {
        seed: 7,
        anomalies: AnomalyPlan::uniform(0.2),
        extended_notations: 0.5,
        id_prefix: "fp".to_string(),
        ..Default::default()
    };
    assert_eq!(stream(cfg), "fc129a4501ce41416b1619ff1d10740894e292548e466a1211e83d0c5732a3fa");
}

#[test]
fn hostile_documents_are_unchanged() {
    let mut h = Sha256::new();
    for doc in [
        hostile::pdf_with_content("/FlateDecode", &hostile::zlib(b"BT (x) Tj ET"), &[]),
        hostile::padded_text_pdf("Invoice INV-1 Total 1.00 EUR", 64 << 10, 3),
        hostile::deep_json_array(100).into_bytes(),
        hostile::deep_msgpack_array(100),
        hostile::many_part_email(20),
        hostile::deep_html(100),
        hostile::slow_text_pdf(500),
    ] {
        h.update((doc.len() as u64).to_le_bytes());
        h.update(&doc);
    }
    assert_eq!(hex::encode(h.finalize()), "fec8353e00f23331c52a14bc35242aa6815d26fb140bd6599b8d879fb5860859");
}
