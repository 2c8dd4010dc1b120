//! Database subcommands: `schema apply`, `get`, `anomalies`, `audits`,
//! `audit resolve`, and `bench persist`'s arguments. The queries live in
//! `docflow-store`; [`db`] holds each subcommand's arguments and output;
//! this file runs them and, for `audit resolve`, publishes the verdict on
//! `docs.feedback` so the learn stage improves from it.

pub mod db;

use std::time::Duration;

use anyhow::Context as _;
use docflow_schemas::{codec, topology};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::Context;

#[derive(clap::Subcommand, Debug)]
pub enum SchemaCommand {
    /// Create the keyspace and tables of `schemas/cql/` if missing (idempotent).
    Apply(db::SchemaApplyArgs),
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Record a verdict on a pending audit and send it to `docs.feedback`.
    Resolve(db::ResolveArgs),
}

pub fn schema(_ctx: &Context, cmd: SchemaCommand) -> anyhow::Result<()> {
    let SchemaCommand::Apply(args) = cmd;
    super::runtime()?.block_on(async { db::schema_apply(&args, &mut std::io::stdout()).await.map(|_| ()) })
}

pub fn get(_ctx: &Context, args: db::GetArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async {
        let store = db::connect(&args.conn).await?;
        db::get(&store, &args, &mut std::io::stdout()).await.map(|_| ())
    })
}

pub fn anomalies(_ctx: &Context, args: db::AnomaliesArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async {
        let store = db::connect(&args.conn).await?;
        db::anomalies(&store, &args, &mut std::io::stdout()).await.map(|_| ())
    })
}

pub fn audits(_ctx: &Context, args: db::AuditsArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async {
        let store = db::connect(&args.conn).await?;
        db::audits(&store, &args, &mut std::io::stdout()).await.map(|_| ())
    })
}

pub fn audit(ctx: &Context, cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Resolve(args) = cmd;
    super::runtime()?.block_on(async {
        let store = db::connect(&args.conn).await?;
        let resolution = db::resolve(&store, &args, &mut std::io::stdout()).await?;
        if !resolution.changed {
            return Ok(());
        }
        // The verdict is durable; now tell the learn stage. A failure here is
        // reported, and re-running the command resends (resolve is idempotent).
        let producer: FutureProducer = super::kafka_config(&ctx.brokers)?
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()
            .context("creating the Kafka producer")?;
        let encoded = codec::encode(&resolution.feedback, &codec::Limits::default())?;
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: codec::HEADER_CODEC, value: Some(encoded.codec.header_value()) })
            .insert(Header { key: codec::HEADER_SCHEMA, value: Some(codec::schema_header_value().as_str()) });
        docflow_runtime::telemetry::inject_trace_headers(&mut headers);
        producer
            .send(
                FutureRecord::to(topology::FEEDBACK.name()).key(&resolution.id).payload(&encoded.bytes).headers(headers),
                Duration::from_secs(15),
            )
            .await
            .map_err(|(e, _)| anyhow::anyhow!("verdict saved, but publishing it to docs.feedback failed: {e}; re-run to resend"))?;
        println!("verdict sent to docs.feedback");
        Ok(())
    })
}
