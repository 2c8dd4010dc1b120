//! The CQL schema (`schemas/cql/*.cql`, embedded in the binary) and
//! [`apply_schema`]: keyspace and tables created idempotently, then a wait
//! for schema agreement across the cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use scylla::client::session::Session;
use scylla::statement::Statement;

/// Client-side timeout of one DDL statement.
pub const DDL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

use crate::error::{classify_execution, StoreError};

/// The schema files, in apply order, with their names (for error messages).
pub const SCHEMA_FILES: [(&str, &str); 7] = [
    ("001_keyspace.cql", include_str!("../../../schemas/cql/001_keyspace.cql")),
    ("002_types.cql", include_str!("../../../schemas/cql/002_types.cql")),
    ("003_documents.cql", include_str!("../../../schemas/cql/003_documents.cql")),
    ("004_anomalies_by_day.cql", include_str!("../../../schemas/cql/004_anomalies_by_day.cql")),
    ("005_pending_audits_by_day.cql", include_str!("../../../schemas/cql/005_pending_audits_by_day.cql")),
    ("006_invoice_numbers.cql", include_str!("../../../schemas/cql/006_invoice_numbers.cql")),
    ("007_audit_log.cql", include_str!("../../../schemas/cql/007_audit_log.cql")),
];

/// Tables the schema creates.
pub const TABLES: [&str; 5] = ["documents", "anomalies_by_day", "pending_audits_by_day", "invoice_numbers", "audit_log"];

/// Keyspace replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy`: single datacenter, local development and CI.
    Simple { replication_factor: u32 },
    /// `NetworkTopologyStrategy`: replicas per datacenter (production).
    NetworkTopology { datacenters: BTreeMap<String, u32> },
}

impl Replication {
    /// `SimpleStrategy`, RF 1: the local single-node stack.
    pub fn local() -> Self {
        Replication::Simple { replication_factor: 1 }
    }

    /// The CQL map literal.
    pub fn to_cql(&self) -> String {
        match self {
            Replication::Simple { replication_factor } => {
                format!("{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}")
            }
            Replication::NetworkTopology { datacenters } => {
                let dcs: Vec<String> = datacenters.iter().map(|(dc, rf)| format!(", '{dc}': {rf}")).collect();
                format!("{{'class': 'NetworkTopologyStrategy'{}}}", dcs.concat())
            }
        }
    }

    /// Compares with `system_schema.keyspaces.replication` (class names come
    /// back fully qualified, numbers as strings).
    fn matches(&self, actual: &BTreeMap<String, String>) -> bool {
        let class = actual.get("class").map(String::as_str).unwrap_or("");
        let rest: BTreeMap<&str, &str> =
            actual.iter().filter(|(k, _)| *k != "class").map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match self {
            Replication::Simple { replication_factor } => {
                class.ends_with("SimpleStrategy")
                    && rest.get("replication_factor").copied() == Some(replication_factor.to_string().as_str())
            }
            Replication::NetworkTopology { datacenters } => {
                class.ends_with("NetworkTopologyStrategy")
                    && rest.len() == datacenters.len()
                    && datacenters.iter().all(|(dc, rf)| rest.get(dc.as_str()).copied() == Some(rf.to_string().as_str()))
            }
        }
    }
}

impl fmt::Display for Replication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replication::Simple { replication_factor } => write!(f, "simple:{replication_factor}"),
            Replication::NetworkTopology { datacenters } => {
                let dcs: Vec<String> = datacenters.iter().map(|(d, r)| format!("{d}={r}")).collect();
                write!(f, "nts:{}", dcs.join(","))
            }
        }
    }
}

impl FromStr for Replication {
    type Err = StoreError;

    /// `simple:N` or `nts:dc1=3,dc2=3`.
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::invalid("replication", format!("{s:?}: {why} (expected simple:N or nts:dc1=N[,dc2=N])"));
        let (kind, rest) = s.trim().split_once(':').ok_or_else(|| bad("missing ':'"))?;
        let rf = |v: &str| v.trim().parse::<u32>().ok().filter(|n| (1..=15).contains(n)).ok_or_else(|| bad("bad replication factor"));
        match kind.trim() {
            "simple" => Ok(Replication::Simple { replication_factor: rf(rest)? }),
            "nts" => {
                let mut datacenters = BTreeMap::new();
                for part in rest.split(',') {
                    let (dc, n) = part.split_once('=').ok_or_else(|| bad("missing '='"))?;
                    let dc = dc.trim();
                    if dc.is_empty() || !dc.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        return Err(bad("bad datacenter name"));
                    }
                    datacenters.insert(dc.to_owned(), rf(n)?);
                }
                Ok(Replication::NetworkTopology { datacenters })
            }
            _ => Err(bad("unknown strategy")),
        }
    }
}

/// Keyspace names are substituted into CQL text, so only plain identifiers
/// are accepted: a letter, then letters, digits, `_`; at most 48 chars.
pub fn check_keyspace_name(ks: &str) -> Result<(), StoreError> {
    let ok = ks.len() <= 48
        && ks.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && ks.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid("keyspace", format!("{ks:?} is not a plain identifier (letter first, [A-Za-z0-9_], ≤ 48)")))
    }
}

/// Every statement of the schema with the placeholders substituted.
pub fn render_statements(keyspace: &str, replication: &Replication) -> Result<Vec<String>, StoreError> {
    check_keyspace_name(keyspace)?;
    let rep = replication.to_cql();
    Ok(SCHEMA_FILES
        .iter()
        .flat_map(|(_, text)| split_statements(text))
        .map(|s| s.replace("{{keyspace}}", keyspace).replace("{{replication}}", &rep))
        .collect())
}

/// Splits CQL text into statements at `;`, skipping `--` and `//` line
/// comments and `/* */` blocks, and leaving quoted strings intact.
pub fn split_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                cur.push(c);
                // '' inside a string is an escaped quote: the loop re-enters.
                for d in chars.by_ref() {
                    cur.push(d);
                    if d == '\'' {
                        break;
                    }
                }
            }
            '-' | '/' if chars.peek() == Some(&c) => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            ';' => {
                let s = cur.trim();
                if !s.is_empty() {
                    out.push(s.to_owned());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_owned());
    }
    out
}

/// What `apply_schema` found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaReport {
    pub keyspace: String,
    /// Statements executed (all `IF NOT EXISTS`).
    pub statements: usize,
    /// Tables present in the keyspace afterwards.
    pub tables: Vec<String>,
    /// The existing keyspace's replication when it differs from the requested
    /// one (never altered automatically).
    pub replication_drift: Option<String>,
    /// The schema version all nodes agreed on.
    pub schema_version: String,
}

/// Creates the keyspace, types and tables if missing and waits until every
/// node agrees on the schema. Idempotent: a second run changes nothing.
pub async fn apply_schema(session: &Session, keyspace: &str, replication: &Replication) -> Result<SchemaReport, StoreError> {
    let statements = render_statements(keyspace, replication)?;
    for stmt in &statements {
        // DDL is not prepared (it has no bind values and runs once); every
        // statement is IF NOT EXISTS, so re-running after a timeout is safe.
        let mut q = Statement::new(stmt.as_str());
        // Schema changes wait for every node and flush system tables: far
        // slower than a data request, especially on a loaded node.
        q.set_request_timeout(Some(DDL_TIMEOUT));
        session.query_unpaged(q, ()).await.map_err(|e| match classify_execution(e) {
            StoreError::Database(m) => StoreError::Database(format!("{m}\nin statement:\n{stmt}")),
            other => other,
        })?;
    }
    let version = session
        .await_schema_agreement()
        .await
        .map_err(|e| StoreError::Unavailable(format!("schema agreement: {e}")))?;

    let rep_rows = session
        .query_unpaged("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?", (keyspace,))
        .await
        .map_err(classify_execution)?
        .into_rows_result()
        .map_err(crate::error::corrupt)?;
    let actual: Option<(BTreeMap<String, String>,)> = rep_rows.maybe_first_row().map_err(crate::error::corrupt)?;
    let replication_drift = actual.and_then(|(a,)| (!replication.matches(&a)).then(|| format!("{a:?}")));
    if let Some(d) = &replication_drift {
        tracing::warn!(keyspace, existing = %d, requested = %replication, "keyspace replication differs; not altered");
    }

    let table_rows = session
        .query_unpaged("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (keyspace,))
        .await
        .map_err(classify_execution)?
        .into_rows_result()
        .map_err(crate::error::corrupt)?;
    let mut tables = Vec::new();
    for r in table_rows.rows::<(String,)>().map_err(crate::error::corrupt)? {
        tables.push(r.map_err(crate::error::corrupt)?.0);
    }
    tables.sort();
    Ok(SchemaReport {
        keyspace: keyspace.to_owned(),
        statements: statements.len(),
        tables,
        replication_drift,
        schema_version: version.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_parses_and_renders() {
        assert_eq!("simple:1".parse::<Replication>().unwrap(), Replication::local());
        assert_eq!(Replication::local().to_cql(), "{'class': 'SimpleStrategy', 'replication_factor': 1}");
        let nts: Replication = "nts:dc1=3, dc2=2".parse().unwrap();
        assert_eq!(nts.to_cql(), "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}");
        assert_eq!(nts.to_string(), "nts:dc1=3,dc2=2");
        for bad in ["", "simple", "simple:0", "simple:x", "nts:dc1", "nts:d'c=3", "mesh:3"] {
            assert!(bad.parse::<Replication>().is_err(), "{bad}");
        }
    }

    #[test]
    fn replication_drift_detection() {
        let m = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert!(Replication::local()
            .matches(&m(&[("class", "org.apache.cassandra.locator.SimpleStrategy"), ("replication_factor", "1")])));
        assert!(!Replication::local()
            .matches(&m(&[("class", "org.apache.cassandra.locator.SimpleStrategy"), ("replication_factor", "3")])));
        let nts: Replication = "nts:dc1=3".parse().unwrap();
        assert!(nts.matches(&m(&[("class", "org.apache.cassandra.locator.NetworkTopologyStrategy"), ("dc1", "3")])));
    }

    #[test]
    fn keyspace_names_cannot_inject() {
        check_keyspace_name("docflow_test_1").unwrap();
        for bad in ["", "1abc", "a-b", "a;DROP", "a b", &"k".repeat(49)] {
            assert!(check_keyspace_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn splitter_handles_comments_and_quotes() {
        let s = split_statements("-- a; comment\nCREATE x WITH c = 'a;b'; /* x; */ SELECT 1 // y;\n;");
        assert_eq!(s, vec!["CREATE x WITH c = 'a;b'", "SELECT 1"]);
    }

    #[test]
    fn schema_renders_every_table_with_if_not_exists_and_a_comment() {
        let stmts = render_statements("ks", &Replication::local()).unwrap();
        assert_eq!(stmts.len(), 7);
        for s in &stmts {
            assert!(s.contains("IF NOT EXISTS"), "{s}");
            assert!(!s.contains("{{"), "unsubstituted placeholder in {s}");
        }
        for t in TABLES {
            let create = stmts.iter().find(|s| s.contains(&format!("TABLE IF NOT EXISTS ks.{t} "))).unwrap();
            assert!(create.contains("comment ="), "{t} lacks a comment");
            assert!(create.contains("compaction ="), "{t} lacks a compaction strategy");
        }
    }
}
