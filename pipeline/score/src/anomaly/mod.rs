//! Explained anomaly scores: each reason yields a measured value and a
//! contribution in [0, 1]; the document score is their noisy-OR.
//!
//! - [`calibrate`]: the value → contribution curves and the combination rule
//!   (read it for what 0.7 means).
//! - [`amount`]: `amount_outlier` (per vendor and currency robust statistics).
//! - [`totals`]: `total_mismatch` (stated total against the line items and
//!   the totals block: net, tax, shipping, discount, rounding).
//! - [`evidence`]: the parser-confidence gates every reason passes first.
//! - [`explain`]: the evidence record (values compared, range expected) of each reason.
//! - [`registry`]: `duplicate_invoice_number` and `duplicate_content` claims
//!   (traits the database implements; bounded in-memory versions here).
//! - `unusual_for_class` is computed in [`crate::score`] from the class
//!   distance profile of [`crate::classifier`].

pub mod amount;
pub mod calibrate;
pub mod evidence;
pub mod explain;
pub mod registry;
pub mod totals;

pub use calibrate::{combine, AnomalyParams, Calibration};
pub use evidence::EvidenceGates;
pub use registry::{
    content_key, normalize_content, normalize_invoice_number, normalize_vendor, Claim, ContentRegistry,
    InvoiceRegistry, MemoryContentRegistry, MemoryInvoiceRegistry,
};

/// Reason names, exactly as they appear in `AnomalyReason::reason`.
pub mod reasons {
    pub const AMOUNT_OUTLIER: &str = "amount_outlier";
    pub const TOTAL_MISMATCH: &str = "total_mismatch";
    pub const DUPLICATE_INVOICE_NUMBER: &str = "duplicate_invoice_number";
    pub const DUPLICATE_CONTENT: &str = "duplicate_content";
    pub const UNUSUAL_FOR_CLASS: &str = "unusual_for_class";
    /// Every reason, in a fixed order.
    pub const ALL: [&str; 5] =
        [AMOUNT_OUTLIER, TOTAL_MISMATCH, DUPLICATE_INVOICE_NUMBER, DUPLICATE_CONTENT, UNUSUAL_FOR_CLASS];
}
