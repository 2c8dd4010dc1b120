//! `docflow feedback ID [--label L] [--field NAME=VALUE]… [--anomaly BOOL]`:
//! publishes one `Feedback` to `docs.feedback`, where the learn stage folds
//! it into the next model version (class prototypes, anomaly thresholds,
//! and, for field corrections, where that sender's layout puts each field).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use docflow_schemas::{codec, topology, Feedback};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::Context;

/// Fields a correction can teach (the ranked fields of the extractor).
const CORRECTABLE: [&str; 4] = ["vendor", "invoice_number", "date", "total"];

/// `docflow feedback`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    docflow feedback inv-2041 --label invoice\n  \
    docflow feedback inv-2041 --field vendor=\"ACME GmbH\" --field total=1234.56\n  \
    docflow feedback inv-2041 --anomaly false --note \"known supplier, price rise\"\n\n\
    A field correction teaches docflow where this sender's layout puts the field: the next\n\
    documents of the same layout (same sender e-mail domain, IBAN or heading lines) are read\n\
    there (field_source \"learned\"). A value that appears nowhere in the document is recorded\n\
    and not learned; `docflow model show` lists both. `docflow model rollback` takes a\n\
    version's corrections back.")]
pub struct FeedbackArgs {
    /// The document's id (as on `docs.results`).
    pub id: String,
    /// Its class (a new name creates a class).
    #[arg(long)]
    pub label: Option<String>,
    /// A corrected field, NAME=VALUE; repeat for several. NAME is one of
    /// vendor, invoice_number, date (YYYY-MM-DD), total (a decimal, 1234.56).
    #[arg(long = "field", value_name = "NAME=VALUE", value_parser = parse_field)]
    pub fields: Vec<(String, String)>,
    /// Whether the document is an anomaly (corrects the verdict).
    #[arg(long, value_name = "BOOL")]
    pub anomaly: Option<bool>,
    /// Free text kept with the feedback.
    #[arg(long)]
    pub note: Option<String>,
    /// The feedback topic.
    #[arg(long, default_value = topology::FEEDBACK.name())]
    pub topic: String,
}

/// `NAME=VALUE`, checked: only the fields corrections teach, in the form
/// the results carry them.
fn parse_field(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    let (name, value) = (name.trim(), value.trim());
    if !CORRECTABLE.contains(&name) {
        return Err(format!("{name:?} cannot be corrected; corrections teach {}", CORRECTABLE.join(", ")));
    }
    if value.is_empty() {
        return Err(format!("{name} has an empty value"));
    }
    match name {
        "date" if chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() => Err(format!("date {value:?} is not YYYY-MM-DD")),
        "total" if value.parse::<rust_decimal::Decimal>().is_err() => Err(format!("total {value:?} is not a plain decimal such as 1234.56")),
        _ => Ok((name.to_string(), value.to_string())),
    }
}

impl FeedbackArgs {
    /// The feedback record these arguments describe.
    pub fn feedback(&self, now_ms: i64) -> anyhow::Result<Feedback> {
        anyhow::ensure!(
            self.label.is_some() || self.anomaly.is_some() || !self.fields.is_empty(),
            "nothing to send: give --label, --field NAME=VALUE or --anomaly"
        );
        let fields: BTreeMap<String, String> = self.fields.iter().cloned().collect();
        Ok(Feedback {
            id: self.id.clone(),
            label: self.label.clone(),
            is_anomaly: self.anomaly,
            embedding_f32le: None,
            note: self.note.clone(),
            created_at_ms: now_ms,
            fields,
        })
    }
}

pub fn run(ctx: &Context, args: FeedbackArgs) -> anyhow::Result<()> {
    let feedback = args.feedback(docflow_runtime::dlq::now_ms())?;
    let encoded = codec::encode(&feedback, &codec::Limits::default())?;
    super::runtime()?.block_on(async {
        let producer: FutureProducer =
            super::kafka_config(&ctx.brokers)?.set("acks", "all").set("enable.idempotence", "true").create().context("creating the Kafka producer")?;
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: codec::HEADER_CODEC, value: Some(encoded.codec.header_value()) })
            .insert(Header { key: codec::HEADER_SCHEMA, value: Some(codec::schema_header_value().as_str()) });
        docflow_runtime::telemetry::inject_trace_headers(&mut headers);
        producer
            .send(FutureRecord::to(&args.topic).key(&feedback.id).payload(&encoded.bytes).headers(headers), Duration::from_secs(15))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("publishing the feedback to {} failed: {e}", args.topic))?;
        println!("feedback for {} sent to {}", feedback.id, args.topic);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_before_anything_is_sent() {
        assert_eq!(parse_field("total=1234.56"), Ok(("total".into(), "1234.56".into())));
        assert_eq!(parse_field("vendor = ACME GmbH "), Ok(("vendor".into(), "ACME GmbH".into())));
        assert!(parse_field("total=1.234,56").unwrap_err().contains("plain decimal"));
        assert!(parse_field("date=03/04/2026").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse_field("iban=DE89").unwrap_err().contains("cannot be corrected"));
        assert!(parse_field("total").unwrap_err().contains("NAME=VALUE"));
    }

    #[test]
    fn feedback_carries_the_corrections() {
        let args = FeedbackArgs {
            id: "d1".into(),
            label: Some("invoice".into()),
            fields: vec![("vendor".into(), "ACME GmbH".into()), ("total".into(), "1234.56".into())],
            anomaly: Some(false),
            note: None,
            topic: topology::FEEDBACK.name().into(),
        };
        let fb = args.feedback(7).unwrap();
        assert_eq!(fb.fields.get("total").map(String::as_str), Some("1234.56"));
        assert_eq!(fb.label.as_deref(), Some("invoice"));
        assert_eq!(fb.is_anomaly, Some(false));
        let empty = FeedbackArgs { label: None, fields: vec![], anomaly: None, ..args };
        assert!(empty.feedback(7).is_err());
    }
}
