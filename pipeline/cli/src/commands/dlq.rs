//! `docflow dlq replay`: republish dead letters to the topic they came from,
//! after the cause is fixed (a limit raised, a stage repaired).
//!
//! Reads the dead-letter topic from its start up to the end offsets seen
//! when the command starts (records dead-lettered again by the replay are
//! not picked up again), selects by document id (the record key), error kind
//! and/or stage, and produces each selected original key and value, with the
//! original's text headers (`docflow-codec`, `content-type`, …), to its
//! `original_topic`. Adds `docflow-replayed-from: <dlq>/<partition>/<offset>`.
//! Consumes with no consumer group; nothing is committed or deleted.

use super::Context;
use anyhow::{bail, Context as _};
use docflow_schemas::{codec_from_headers, decode, topology, DeadLetter, Limits};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Header naming the dead letter a replayed record came from.
pub const HEADER_REPLAYED_FROM: &str = "docflow-replayed-from";

#[derive(clap::Subcommand, Debug)]
pub enum DlqCommand {
    /// Republish dead letters to their original topic (select with --id, --error-kind, --stage or --all).
    Replay(ReplayArgs),
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The dead-letter topic.
    #[arg(long, default_value = topology::DLQ.name())]
    pub dlq: String,
    /// Only these document ids (record keys); repeatable.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Only dead letters of this error kind (`too_large`, `deadline`, …).
    #[arg(long)]
    pub error_kind: Option<String>,
    /// Only dead letters of this stage (`parse`, `persist`, …).
    #[arg(long)]
    pub stage: Option<String>,
    /// Every dead letter (needed when no other selection is given).
    #[arg(long)]
    pub all: bool,
    /// List what would be replayed, publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl ReplayArgs {
    fn selects(&self, key: Option<&[u8]>, dl: &DeadLetter) -> bool {
        (self.ids.is_empty() || key.is_some_and(|k| self.ids.iter().any(|id| id.as_bytes() == k)))
            && self.error_kind.as_ref().is_none_or(|k| *k == dl.error_kind)
            && self.stage.as_ref().is_none_or(|s| *s == dl.stage)
    }
}

pub fn run(ctx: &Context, cmd: DlqCommand) -> anyhow::Result<()> {
    match cmd {
        DlqCommand::Replay(args) => super::runtime()?.block_on(replay(ctx, &args)),
    }
}

/// One dead letter chosen for replay.
struct Chosen {
    at: String,
    key: Option<Vec<u8>>,
    dl: DeadLetter,
}

async fn replay(ctx: &Context, args: &ReplayArgs) -> anyhow::Result<()> {
    if args.ids.is_empty() && args.error_kind.is_none() && args.stage.is_none() && !args.all {
        bail!("select what to replay: --id, --error-kind, --stage, or --all");
    }
    let chosen = read_dead_letters(ctx, args)?;
    if args.dry_run || chosen.is_empty() {
        for c in &chosen {
            println!("would replay {} -> {} ({}, {} bytes)", c.at, c.dl.original_topic, c.dl.error_kind, c.dl.original_value.len());
        }
        println!("{} dead letter(s) selected{}", chosen.len(), if args.dry_run { ", nothing published (--dry-run)" } else { "" });
        return Ok(());
    }
    let producer: FutureProducer = super::kafka_config(&ctx.brokers)?
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.max.bytes", docflow_schemas::MAX_MESSAGE_BYTES.to_string())
        .create()
        .context("creating the Kafka producer")?;
    let mut replayed = 0usize;
    for c in &chosen {
        let mut headers = OwnedHeaders::new_with_capacity(c.dl.original_headers.len() + 1);
        for (k, v) in &c.dl.original_headers {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        headers = headers.insert(Header { key: HEADER_REPLAYED_FROM, value: Some(c.at.as_bytes()) });
        let mut record = FutureRecord::to(&c.dl.original_topic).payload(&c.dl.original_value).headers(headers);
        if let Some(k) = c.dl.original_key.as_deref() {
            record = record.key(k);
        }
        match producer.send(record, Duration::from_secs(30)).await {
            Ok(delivery) => {
                replayed += 1;
                println!("replayed {} -> {} partition {} offset {} ({})", c.at, c.dl.original_topic, delivery.partition, delivery.offset, c.dl.error_kind);
            }
            Err((e, _)) => bail!("replaying {} to {}: {e} ({replayed} replayed before it)", c.at, c.dl.original_topic),
        }
    }
    println!("{replayed} dead letter(s) replayed");
    Ok(())
}

/// The selected dead letters, from the start of the topic to its end offsets now.
fn read_dead_letters(ctx: &Context, args: &ReplayArgs) -> anyhow::Result<Vec<Chosen>> {
    let consumer: BaseConsumer = super::kafka_config(&ctx.brokers)?
        .set("group.id", format!("docflow-dlq-replay-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the Kafka consumer")?;
    let timeout = Duration::from_secs(10);
    let partitions = docflow_runtime::lag::partitions_of(&consumer, &args.dlq, timeout).with_context(|| format!("topic {}", args.dlq))?;
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer.fetch_watermarks(&args.dlq, p, timeout)?;
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(&args.dlq, p, Offset::Beginning)?;
        }
    }
    let mut chosen = Vec::new();
    if ends.is_empty() {
        return Ok(chosen);
    }
    consumer.assign(&tpl)?;
    let mut idle_since = Instant::now();
    while !ends.is_empty() {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            anyhow::ensure!(idle_since.elapsed() < Duration::from_secs(30), "{}: no records for 30 s before the end offsets", args.dlq);
            continue;
        };
        let msg = msg?;
        idle_since = Instant::now();
        let p = msg.partition();
        if ends.get(&p).is_some_and(|end| msg.offset() + 1 >= *end) {
            ends.remove(&p);
        }
        let at = format!("{}/{}/{}", args.dlq, p, msg.offset());
        let headers: Vec<(&str, Option<&[u8]>)> = msg.headers().map(|h| h.iter().map(|h| (h.key, h.value)).collect()).unwrap_or_default();
        let decoded = codec_from_headers(headers).and_then(|codec| decode::<DeadLetter>(msg.payload().unwrap_or_default(), codec, &Limits::DEAD_LETTER));
        match decoded {
            Ok(dl) if args.selects(msg.key(), &dl) => chosen.push(Chosen { at, key: msg.key().map(<[u8]>::to_vec), dl }),
            Ok(_) => {}
            Err(e) => eprintln!("skipping {at}: not a dead letter ({e})"),
        }
    }
    // The newest dead letter of a document wins when it failed more than once.
    let mut latest: HashMap<Option<Vec<u8>>, usize> = HashMap::new();
    for (i, c) in chosen.iter().enumerate() {
        latest.insert(c.key.clone(), i);
    }
    let keep: std::collections::BTreeSet<usize> = latest.into_values().collect();
    Ok(chosen.into_iter().enumerate().filter(|(i, c)| c.key.is_none() || keep.contains(i)).map(|(_, c)| c).collect())
}
