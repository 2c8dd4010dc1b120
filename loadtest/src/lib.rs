//! docflow load-test harness and labeled document generator.
//!
//! - [`corpus`]: the seeded labeled generator (invoices, receipts, e-mails,
//!   contracts in text, HTML, JSON, e-mail and PDF form, with ground truth
//!   and optional planted anomalies).

pub mod corpus;
