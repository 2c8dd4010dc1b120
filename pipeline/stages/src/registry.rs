//! The store as the score stage's [`InvoiceRegistry`]: a vendor's invoice
//! number is claimed with a lightweight transaction in Cassandra, so
//! "first" holds across every replica and restart. (`docflow-store` offers
//! `claim_invoice_number` but not the `docflow-score` trait; this adapter
//! is the glue.)

use docflow_core::StageError;
use docflow_score::anomaly::{Claim, InvoiceRegistry};
use docflow_store::{AnyStore, ClaimResult, DocumentStore};
use futures::future::BoxFuture;

/// [`InvoiceRegistry`] over a [`DocumentStore`].
#[derive(Clone)]
pub struct StoreInvoiceRegistry {
    store: AnyStore,
}

/// Longest one claim waits out an open circuit breaker before trying (and
/// failing into the runtime's retries, which wait again).
const OUTAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl StoreInvoiceRegistry {
    pub fn new(store: AnyStore) -> Self {
        Self { store }
    }
}

impl InvoiceRegistry for StoreInvoiceRegistry {
    fn claim<'a>(&'a self, vendor: &'a str, number: &'a str, doc_id: &'a str) -> BoxFuture<'a, Result<Claim, StageError>> {
        Box::pin(async move {
            // While the database is down (breaker open), hold the document
            // here instead of failing it: its batch waits, the stage stops
            // consuming, and nothing valid is dead-lettered for an outage.
            docflow_store::wait_while_open(&self.store, OUTAGE_WAIT, std::future::pending()).await;
            match self.store.claim_invoice_number(vendor, number, doc_id).await? {
                ClaimResult::Claimed => Ok(Claim::First),
                ClaimResult::AlreadyClaimedBy(first_doc_id) => Ok(Claim::Duplicate { first_doc_id }),
            }
        })
    }
}
