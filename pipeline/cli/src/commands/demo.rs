//! `docflow demo`: publish a handful of documents with the docflow codec and
//! read them back, printing a readable summary. It proves the stack, the
//! topics and the wire format work together before any stage runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use docflow_schemas::{codec, Priority, RawDocument};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::Context;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// How many documents to publish.
    #[arg(long, default_value_t = 5)]
    docs: usize,
    /// Lane to publish to (critical, high, normal, low).
    #[arg(long, default_value = "normal")]
    lane: Priority,
    /// Give up reading back after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

/// A few small documents of different kinds, so the summary shows variety.
fn sample_documents(n: usize, run: &str) -> Vec<RawDocument> {
    let templates: [(&str, &str); 3] = [
        ("text/plain", "INVOICE INV-{i}\nFrom: Stark Components\nDate: 2026-05-19\nTotal due: 1,234.50 EUR\n"),
        ("text/html", "<html><body><h1>Receipt {i}</h1><p>Corner Cafe</p><p>Total: $12.40</p></body></html>"),
        ("application/json", "{{\"subject\": \"Order {i}\", \"from\": \"ops@example.com\", \"body\": \"Please confirm.\"}}"),
    ];
    (0..n)
        .map(|i| {
            let (content_type, template) = templates[i % templates.len()];
            RawDocument {
                id: format!("demo-{run}-{i}"),
                content_type: Some(content_type.to_string()),
                body: template.replace("{i}", &i.to_string()).into_bytes(),
                metadata: BTreeMap::from([("source".to_string(), "docflow demo".to_string())]),
                created_at_ms: now_ms(),
            }
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(demo(ctx, args))
}

async fn demo(ctx: &Context, args: DemoArgs) -> anyhow::Result<()> {
    let topic = args.lane.raw_topic().name();
    let run = format!("{:x}", now_ms());
    let docs = sample_documents(args.docs, &run);
    let limits = codec::Limits::default();

    let producer: FutureProducer = super::kafka_config(&ctx.brokers)?
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("message.max.bytes", codec::MAX_MESSAGE_BYTES.to_string())
        .create()
        .context("creating the Kafka producer")?;
    let started = Instant::now();
    let mut positions = Vec::new();
    for doc in &docs {
        let encoded = codec::encode(doc, &limits)?;
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: codec::HEADER_CODEC, value: Some(encoded.codec.header_value()) })
            .insert(Header { key: codec::HEADER_SCHEMA, value: Some(codec::schema_header_value().as_str()) });
        // One trace per document across every stage (when OTLP export is on).
        docflow_runtime::telemetry::inject_trace_headers(&mut headers);
        let record = FutureRecord::to(topic).key(&doc.id).payload(&encoded.bytes).headers(headers);
        let delivery = producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("publishing {} to {topic}: {e} (did you run `docflow topics apply`?)", doc.id))?;
        positions.push((delivery.partition, delivery.offset));
    }
    println!("published {} documents to {topic} in {:.0} ms", docs.len(), started.elapsed().as_secs_f64() * 1e3);

    // Read back exactly the offsets we wrote, with a throwaway group that commits nothing.
    let consumer: StreamConsumer = super::kafka_config(&ctx.brokers)?
        .set("group.id", format!("docflow-demo-{run}"))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = rdkafka::TopicPartitionList::new();
    let mut wanted: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for (i, (p, o)) in positions.iter().enumerate() {
        wanted.insert((*p, *o), i);
    }
    for p in positions.iter().map(|(p, _)| *p).collect::<std::collections::BTreeSet<_>>() {
        let first = positions.iter().filter(|(q, _)| *q == p).map(|(_, o)| *o).min().unwrap();
        assignment.add_partition_offset(topic, p, rdkafka::Offset::Offset(first))?;
    }
    consumer.assign(&assignment)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut matched = 0;
    while matched < docs.len() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            bail!("read back only {matched} of {} documents within {}s", docs.len(), args.timeout_secs);
        }
        let msg = match tokio::time::timeout(remaining, consumer.recv()).await {
            Ok(m) => m?,
            Err(_) => continue,
        };
        let Some(&i) = wanted.get(&(msg.partition(), msg.offset())) else { continue };
        let headers: Vec<(&str, Option<&[u8]>)> =
            msg.headers().map(|h| h.iter().map(|h| (h.key, h.value)).collect()).unwrap_or_default();
        let codec_used = codec::codec_from_headers(headers)?;
        let decoded: RawDocument = codec::decode(msg.payload().unwrap_or_default(), codec_used, &limits)?;
        if decoded != docs[i] {
            bail!("document {} came back different from what was published", docs[i].id);
        }
        println!(
            "  {:<24} {:<18} {:>4} bytes  partition {} offset {}  codec {}",
            decoded.id,
            decoded.content_type.as_deref().unwrap_or("?"),
            decoded.body.len(),
            msg.partition(),
            msg.offset(),
            codec_used.header_value()
        );
        matched += 1;
    }
    println!("read back {matched}/{} documents, all equal to what was sent ({:.0} ms round trip)", docs.len(), started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
