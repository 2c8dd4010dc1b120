//! Discount and shipping lines of the extended notations: the totals they
//! print add up, every language labels them, planted anomalies keep them,
//! and the classic corpus is untouched.

use docflow_corpus::model::{random_model, Class};
use docflow_corpus::render::extended::NOTATIONS;
use docflow_corpus::render::text;
use docflow_corpus::{charges, AnomalyPlan, Corpus, CorpusConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rust_decimal::Decimal;

#[test]
fn printed_totals_follow_net_discount_shipping_and_tax() {
    let mut rng = StdRng::seed_from_u64(11);
    let (mut discounted, mut shipped) = (0, 0);
    for i in 0..600u64 {
        let mut m = random_model(&mut rng, Class::Invoice, i);
        let lang = (i as usize) % NOTATIONS.len();
        m.style.notation = Some(lang as u8);
        charges::draw(&mut rng, &mut m);
        let base = m.items.iter().map(|x| x.amount).sum::<Decimal>() - m.charges.discount + m.charges.shipping;
        assert_eq!(m.total, base + m.tax, "invoice {i}");
        assert_eq!(m.tax, (base * Decimal::from(m.tax_rate) / Decimal::ONE_HUNDRED).round_dp(2));
        let body = String::from_utf8(text::render(&m)).unwrap();
        let printed = charges::lines(&m, lang, |v| v.to_string());
        for line in &printed {
            assert!(body.contains(line[0].as_str()), "{} missing from\n{body}", line[0]);
        }
        discounted += usize::from(m.charges.discount > Decimal::ZERO);
        shipped += usize::from(m.charges.shipping > Decimal::ZERO);
    }
    assert!(discounted > 100 && shipped > 100, "{discounted} discounted, {shipped} shipped of 600");
}

#[test]
fn classic_documents_carry_no_charges_and_anomalies_are_still_planted() {
    let classic: Vec<_> = Corpus::new(CorpusConfig { seed: 5, anomalies: AnomalyPlan::uniform(0.05), ..Default::default() }).take(400).collect();
    assert!(classic.iter().all(|d| {
        let body = String::from_utf8_lossy(&d.raw.body);
        !body.contains("Discount:") && !body.contains("Shipping:")
    }));
    let extended: Vec<_> = Corpus::new(CorpusConfig {
        seed: 5,
        anomalies: AnomalyPlan::uniform(0.05),
        extended_notations: 1.0,
        ..Default::default()
    })
    .take(1_200)
    .collect();
    for reason in ["amount_outlier", "total_mismatch", "duplicate_invoice_number", "duplicate_content"] {
        assert!(extended.iter().any(|d| d.planted.iter().any(|p| p == reason)), "{reason} never planted");
    }
    // Extended documents print their language's total label.
    let labels: Vec<&str> = NOTATIONS.iter().map(|n| n.total).collect();
    assert!(extended.iter().any(|d| labels.iter().any(|l| String::from_utf8_lossy(&d.raw.body).contains(l))));
}
