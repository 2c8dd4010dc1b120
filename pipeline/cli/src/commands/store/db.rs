//! The storage subcommands' arguments and output: one clap `Args` struct
//! and one function per subcommand. The functions take any
//! [`DocumentStore`] (the tests pass a [`docflow_store::MemoryStore`]) and
//! write human-readable text, or JSON with `--json`, to `out`; the queries
//! themselves are the store's.
//!
//! | subcommand | args | function |
//! |---|---|---|
//! | `docflow schema apply` | [`SchemaApplyArgs`] | [`schema_apply`] |
//! | `docflow get ID` | [`GetArgs`] | [`get`] |
//! | `docflow anomalies --day D [--min-score S]` | [`AnomaliesArgs`] | [`anomalies`] |
//! | `docflow audits --pending [--day D]` | [`AuditsArgs`] | [`audits`] |
//! | `docflow audit resolve ID --verdict V [--note N]` | [`ResolveArgs`] | [`resolve`] (returns the feedback to publish) |
//! | `docflow bench persist` | [`BenchArgs`] | [`bench`] (`docflow_store::bench::bench_database`) |

use std::io::Write;

use anyhow::Context;
use chrono::{NaiveDate, SecondsFormat};

use docflow_store::bench::{bench_database, BenchReport, PersistBench};
use docflow_store::model::{DocumentView, IndexEntry, Page, PageRequest, Resolution, Verdict};
use docflow_store::schema::{apply_schema, Replication};
use docflow_store::store::DocumentStore;
use docflow_store::store_env;
use docflow_store::{connect_session, CassandraStore, SchemaReport, StoreConfig};

/// Where the database is (shared by every storage subcommand). TLS, a
/// password file and the local datacenter come from the same environment
/// variables as for the stages ([`store_env`]).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// ScyllaDB/Cassandra contact points, comma-separated host:port.
    #[arg(long = "scylla-nodes", env = store_env::NODES, default_value = "127.0.0.1:9042", value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Keyspace holding docflow's tables.
    #[arg(long, env = store_env::KEYSPACE, default_value = "docflow")]
    pub keyspace: String,
    /// User name (PasswordAuthenticator); omit for clusters without auth.
    #[arg(long = "scylla-user", env = store_env::USER)]
    pub username: Option<String>,
    /// Password for --scylla-user.
    #[arg(long = "scylla-password", env = store_env::PASSWORD, hide_env_values = true)]
    pub password: Option<String>,
}

impl ConnArgs {
    /// Defaults plus these arguments, plus what the environment says of
    /// credentials, TLS and the local datacenter.
    pub fn config(&self) -> Result<StoreConfig, store_env::StoreEnvError> {
        let mut cfg = StoreConfig {
            nodes: self.nodes.clone(),
            keyspace: self.keyspace.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            ..StoreConfig::default()
        };
        store_env::apply(&mut cfg, store_env::process_env)?;
        Ok(cfg)
    }
}

/// Connects the Cassandra store for a subcommand.
pub async fn connect(conn: &ConnArgs) -> anyhow::Result<CassandraStore> {
    let cfg = conn.config()?;
    CassandraStore::connect(&cfg)
        .await
        .with_context(|| format!("connecting to {} (keyspace {})", cfg.nodes.join(","), cfg.keyspace))
}

/// `docflow schema apply`: create the keyspace and tables if missing.
#[derive(clap::Args, Debug, Clone)]
pub struct SchemaApplyArgs {
    /// Keyspace replication: simple:N (one datacenter) or nts:dc1=3[,dc2=3].
    #[arg(long, env = "DOCFLOW_REPLICATION", default_value = "simple:1")]
    pub replication: Replication,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Applies `schemas/cql/` (idempotent) and prints what exists afterwards.
pub async fn schema_apply(args: &SchemaApplyArgs, out: &mut dyn Write) -> anyhow::Result<SchemaReport> {
    let cfg = args.conn.config()?;
    let session = connect_session(&cfg).await.with_context(|| format!("connecting to {}", cfg.nodes.join(",")))?;
    let report = apply_schema(&session, &cfg.keyspace, &args.replication).await?;
    writeln!(
        out,
        "schema applied: keyspace {} ({}), {} statements, tables: {}; schema version {}",
        report.keyspace,
        args.replication,
        report.statements,
        report.tables.join(", "),
        report.schema_version
    )?;
    if let Some(d) = &report.replication_drift {
        writeln!(out, "warning: keyspace exists with replication {d}, not {} (not altered)", args.replication)?;
    }
    Ok(report)
}

/// `docflow get ID`: a document and its audit history.
#[derive(clap::Args, Debug, Clone)]
pub struct GetArgs {
    /// Document id.
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub async fn get<S: DocumentStore>(store: &S, args: &GetArgs, out: &mut dyn Write) -> anyhow::Result<DocumentView> {
    let view = store.get(&args.id).await?.with_context(|| format!("document {:?} not found", args.id))?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?;
    } else {
        write_view(&view, out)?;
    }
    Ok(view)
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn write_view(v: &DocumentView, out: &mut dyn Write) -> std::io::Result<()> {
    let d = &v.document;
    writeln!(out, "id              {}", d.id)?;
    writeln!(out, "class           {} (confidence {:.3})", d.class, d.class_confidence)?;
    writeln!(out, "status          {}", d.status)?;
    let reasons: Vec<String> = d.reasons.iter().map(|r| format!("{}={:.3} (+{:.2})", r.reason, r.value, r.contribution)).collect();
    writeln!(out, "anomaly score   {:.4}  {}", d.anomaly_score, reasons.join(", "))?;
    if let Some(v) = &d.fields.vendor {
        writeln!(out, "vendor          {v}")?;
    }
    if let Some(n) = &d.fields.invoice_number {
        writeln!(out, "invoice number  {n}")?;
    }
    if let Some(t) = &d.fields.total {
        writeln!(out, "total           {t} {}", d.fields.currency.as_deref().unwrap_or(""))?;
    }
    if let Some(o) = &d.duplicate_of {
        writeln!(out, "duplicate of    {o} (same vendor and invoice number)")?;
    }
    writeln!(out, "fields          {}", serde_json::to_string(&d.fields).unwrap_or_default())?;
    writeln!(out, "model           v{} / {}", d.model_version, d.encoder_version)?;
    writeln!(out, "content type    {}  priority {}", d.content_type, d.priority)?;
    writeln!(out, "created         {}  (index day {})", ts(d.created_at_ms), d.day)?;
    writeln!(out, "updated         {}", ts(d.updated_at_ms))?;
    writeln!(out, "history ({} events):", v.history.len())?;
    for e in &v.history {
        let from = e.from_status.map_or("(new)", |s| s.as_str());
        let note = e.note.as_deref().map(|n| format!("  note: {n}")).unwrap_or_default();
        writeln!(out, "  {}  {from} -> {}  by {}  score {:.4}{note}", ts(e.at_ms), e.to_status, e.actor, e.anomaly_score)?;
    }
    Ok(())
}

/// Paging options of the listings.
#[derive(clap::Args, Debug, Clone)]
pub struct PageArgs {
    /// Entries per page (1..=1000).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Continue after this cursor (printed at the end of the previous page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl PageArgs {
    fn request(&self) -> PageRequest {
        PageRequest { limit: self.limit, cursor: self.cursor.clone() }
    }
}

/// `docflow anomalies --day D [--min-score S]`.
#[derive(clap::Args, Debug, Clone)]
pub struct AnomaliesArgs {
    /// UTC day the documents were created, YYYY-MM-DD.
    #[arg(long)]
    pub day: NaiveDate,
    /// Only scores at or above this (the index holds scores above the audit threshold, 0.7).
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f64,
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub async fn anomalies<S: DocumentStore>(store: &S, args: &AnomaliesArgs, out: &mut dyn Write) -> anyhow::Result<Page<IndexEntry>> {
    let page = store.anomalies(args.day, args.min_score, &args.page.request()).await?;
    write_page(&page, &args.page, out)?;
    Ok(page)
}

/// `docflow audits --pending [--day D]`.
#[derive(clap::Args, Debug, Clone)]
pub struct AuditsArgs {
    /// List the open audits (the only listing there is; kept explicit for readability).
    #[arg(long, required = true)]
    pub pending: bool,
    /// Only this UTC day; default: the last 31 days, newest first.
    #[arg(long)]
    pub day: Option<NaiveDate>,
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub async fn audits<S: DocumentStore>(store: &S, args: &AuditsArgs, out: &mut dyn Write) -> anyhow::Result<Page<IndexEntry>> {
    let page = store.pending_audits(args.day, &args.page.request()).await?;
    write_page(&page, &args.page, out)?;
    Ok(page)
}

fn write_page(page: &Page<IndexEntry>, args: &PageArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(page)?)?;
        return Ok(());
    }
    writeln!(out, "{:<10}  {:>6}  {:<36}  {:<12}  {:<24}  top reason", "day", "score", "id", "class", "vendor")?;
    for e in &page.items {
        writeln!(
            out,
            "{:<10}  {:>6.4}  {:<36}  {:<12}  {:<24}  {}",
            e.day,
            e.anomaly_score,
            e.id,
            e.class,
            e.vendor.as_deref().unwrap_or("-"),
            e.top_reason.as_deref().unwrap_or("-")
        )?;
    }
    match &page.next_cursor {
        Some(c) => writeln!(out, "{} shown; next page: --cursor '{c}'", page.items.len())?,
        None => writeln!(out, "{} shown; end of list", page.items.len())?,
    }
    Ok(())
}

/// The values of `--verdict`: [`Verdict`] as the command line spells it
/// (the store's type carries no command-line parser).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictArg {
    /// Nothing wrong: the anomaly was a false alarm.
    Ok,
    /// Confirmed fraud.
    Fraud,
    /// The pipeline got the document wrong (extraction or class).
    Error,
}

impl From<VerdictArg> for Verdict {
    fn from(v: VerdictArg) -> Self {
        match v {
            VerdictArg::Ok => Verdict::Ok,
            VerdictArg::Fraud => Verdict::Fraud,
            VerdictArg::Error => Verdict::Error,
        }
    }
}

/// `docflow audit resolve ID --verdict ok|fraud|error [--note …]`.
#[derive(clap::Args, Debug, Clone)]
pub struct ResolveArgs {
    /// Document id.
    pub id: String,
    /// The auditor's verdict.
    #[arg(long, value_enum)]
    pub verdict: VerdictArg,
    /// Free-text note kept in the audit log and sent with the feedback.
    #[arg(long)]
    pub note: Option<String>,
    /// Who resolves (kept in the audit log).
    #[arg(long, env = "USER", default_value = "cli")]
    pub actor: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Records the verdict and returns the [`Resolution`]; the caller publishes
/// `resolution.feedback` on `docs.feedback` (when `changed`).
pub async fn resolve<S: DocumentStore>(store: &S, args: &ResolveArgs, out: &mut dyn Write) -> anyhow::Result<Resolution> {
    let r = store.resolve_audit(&args.id, args.verdict.into(), args.note.as_deref(), &args.actor).await?;
    if r.changed {
        writeln!(out, "{}: {} -> {}", r.id, r.previous_status, r.status)?;
    } else {
        writeln!(out, "{}: already {} (nothing changed)", r.id, r.status)?;
    }
    Ok(r)
}

/// `docflow bench persist`: sustained persist rate and latency.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Documents to persist.
    #[arg(long, default_value_t = 50_000)]
    pub documents: u64,
    /// Persists in flight.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Apply the schema to the keyspace first (replication simple:1).
    #[arg(long)]
    pub apply_schema: bool,
    /// Strip invoice numbers, so no document takes the LWT claim path.
    #[arg(long)]
    pub no_invoice_claims: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Runs the store's persist benchmark and prints its report.
pub async fn bench(args: &BenchArgs, out: &mut dyn Write) -> anyhow::Result<BenchReport> {
    let settings = PersistBench {
        documents: args.documents,
        concurrency: args.concurrency,
        apply_schema: args.apply_schema,
        invoice_claims: !args.no_invoice_claims,
    };
    let report = bench_database(&args.conn.config()?, &settings).await?;
    writeln!(out, "{report}")?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use docflow_store::bench::synthetic_scored;
    use docflow_store::MemoryStore;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }
    #[derive(clap::Subcommand)]
    enum Cmd {
        Get(GetArgs),
        Anomalies(AnomaliesArgs),
        Audits(AuditsArgs),
        Resolve(ResolveArgs),
        Apply(SchemaApplyArgs),
    }

    #[tokio::test]
    async fn subcommands_parse_and_print_from_the_memory_store() {
        let store = MemoryStore::default();
        let mut d = synthetic_scored("cli", 1);
        d.anomaly_score = 0.91;
        store.persist(&d).await.unwrap();
        let id = d.embedded.parsed.id.clone();
        let day = docflow_store::plan::day_of(d.embedded.parsed.created_at_ms).to_string();

        let Cmd::Get(g) = Cli::parse_from(["x", "get", &id]).cmd else { unreachable!() };
        let mut out = Vec::new();
        get(&store, &g, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("pending_audit") && text.contains("(new) -> pending_audit"), "{text}");

        let Cmd::Anomalies(a) = Cli::parse_from(["x", "anomalies", "--day", &day, "--min-score", "0.9"]).cmd else { unreachable!() };
        let mut out = Vec::new();
        assert_eq!(anomalies(&store, &a, &mut out).await.unwrap().items.len(), 1);

        let Cmd::Audits(a) = Cli::parse_from(["x", "audits", "--pending"]).cmd else { unreachable!() };
        assert_eq!(audits(&store, &a, &mut Vec::new()).await.unwrap().items.len(), 1);

        let Cmd::Resolve(r) = Cli::parse_from(["x", "resolve", &id, "--verdict", "ok", "--note", "fine"]).cmd else { unreachable!() };
        let res = resolve(&store, &r, &mut Vec::new()).await.unwrap();
        assert_eq!(res.feedback.is_anomaly, Some(false));
        assert!(audits(&store, &a, &mut Vec::new()).await.unwrap().items.is_empty());

        let Cmd::Apply(s) = Cli::parse_from(["x", "apply", "--replication", "nts:dc1=3"]).cmd else { unreachable!() };
        assert_eq!(s.replication.to_string(), "nts:dc1=3");
        assert!(Cli::try_parse_from(["x", "apply", "--replication", "bogus"]).is_err());
        assert!(Cli::try_parse_from(["x", "resolve", &id, "--verdict", "maybe"]).is_err());
    }

    #[tokio::test]
    async fn get_of_unknown_id_is_an_error() {
        let store = MemoryStore::default();
        let Cmd::Get(g) = Cli::parse_from(["x", "get", "nope"]).cmd else { unreachable!() };
        let e = get(&store, &g, &mut Vec::new()).await.unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }
}
