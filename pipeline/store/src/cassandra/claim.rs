//! The invoice-number claim: `INSERT … IF NOT EXISTS` (a lightweight
//! transaction) on `invoice_numbers`, keyed by (vendor, invoice number).
//! Paxos makes concurrent claims from any number of processes decide
//! exactly once; the loser reads back the winner's document id.

use scylla::response::query_result::QueryResult;
use scylla::value::{CqlTimestamp, CqlValue, Row};

use super::CassandraStore;
use crate::error::{corrupt, StoreError};
use crate::model::ClaimResult;
use crate::now_ms;

impl CassandraStore {
    /// Claims an already-normalised key.
    pub(super) async fn claim_key(&self, vendor: &str, number: &str, doc_id: &str) -> Result<ClaimResult, StoreError> {
        let res = self.exec(&self.inner.st.claim_invoice, &(vendor, number, doc_id, CqlTimestamp(now_ms()))).await?;
        parse_claim(res, doc_id)
    }
}

impl CassandraStore {
    /// The persist path: a plain read first, and the LWT only when no claim
    /// exists. In the pipeline the score stage has usually claimed the number
    /// already (its duplicate check), so persist pays one read instead of a
    /// second Paxos round. Still exactly-once: claim rows are only ever
    /// created by the LWT, and a read that misses an in-flight claim falls
    /// through to the LWT, which Paxos orders after it.
    pub(super) async fn claim_key_read_first(&self, vendor: &str, number: &str, doc_id: &str) -> Result<ClaimResult, StoreError> {
        let res = self.exec(&self.inner.st.select_claim, &(vendor, number)).await?;
        let rows = res.into_rows_result().map_err(corrupt)?;
        match rows.maybe_first_row::<(Option<String>,)>().map_err(corrupt)? {
            Some((Some(owner),)) if owner == doc_id => Ok(ClaimResult::Claimed),
            Some((Some(owner),)) => Ok(ClaimResult::AlreadyClaimedBy(owner)),
            _ => self.claim_key(vendor, number, doc_id).await,
        }
    }
}

/// Reads an LWT answer: `[applied]` first, then (when not applied — and on
/// ScyllaDB always) the existing row's columns.
fn parse_claim(res: QueryResult, doc_id: &str) -> Result<ClaimResult, StoreError> {
    let rows = res.into_rows_result().map_err(corrupt)?;
    let specs = rows.column_specs();
    let applied_idx = specs.get_by_name("[applied]").map(|(i, _)| i).ok_or_else(|| corrupt("LWT answer without [applied]"))?;
    let owner_idx = specs.get_by_name("document_id").map(|(i, _)| i);
    let row: Row = rows.first_row().map_err(corrupt)?;
    let applied = matches!(row.columns.get(applied_idx), Some(Some(CqlValue::Boolean(true))));
    if applied {
        return Ok(ClaimResult::Claimed);
    }
    match owner_idx.and_then(|i| row.columns.get(i)) {
        Some(Some(CqlValue::Text(owner))) if owner == doc_id => Ok(ClaimResult::Claimed),
        Some(Some(CqlValue::Text(owner))) => Ok(ClaimResult::AlreadyClaimedBy(owner.clone())),
        _ => Err(corrupt("LWT not applied but no existing document_id returned")),
    }
}
