//! `total_mismatch`: does the stated total follow from the line items?
//!
//! **What counts as "follows".** Real documents print net line items and
//! then a totals block: net + tax (+ shipping − discount ± rounding) =
//! gross; till receipts print gross items and a coupon or rounding line.
//! The block's labelled amounts are read from the text ([`block`]), and the
//! stated total is explained when *some* combination of them, applied to the
//! item sum, gives it: the items alone; plus a stated tax line (or the sum of
//! them); plus or minus any of the stated additions, discounts and rounding
//! lines. Without a stated tax line a standard VAT/sales-tax rate applied to
//! the item sum may stand for it, to the cent only (a random error lands on
//! one of those exactly only by rare chance, though it always lies *near*
//! one: the size of a mismatch is measured against printed lines alone). Searching the combinations rather than
//! insisting on one formula keeps every label the reader misreads on the
//! side of silence.
//!
//! **When nothing is claimed.** The check needs evidence on both sides:
//! - a stated total the parser is confident of ([`EvidenceGates::total`]);
//! - complete items: every line has an amount (or quantity × unit price);
//! - items consistent on their own: quantity × unit price = amount on every
//!   line stating all three (a discount column, or a unit price read as the
//!   amount, breaks this);
//! - when the block states a net (subtotal), the items must add up to it;
//!   otherwise the item list is incomplete (a line wrapped over two rows, a
//!   missed page) and its sum says nothing about the total.
//!
//! **The block alone.** When the items cannot speak (none read,
//! incomplete, contradicting themselves or their subtotal), the totals
//! block can still contradict itself: if it prints exactly one net, at
//! least one tax line, and the stated total as one of its own total lines,
//! the same combinations are tried from the net instead of the item sum.
//! Each of those conditions guards against a misread block (a `Net` that is
//! really the amount payable, a tax summary table, a total taken from
//! elsewhere).
//!
//! **Tolerance.** Each printed amount is rounded to the cent: half a cent per
//! line plus a cent, and at least five cents (cash rounding to 0.05 is
//! common and not worth an auditor's time). A difference beyond that is a
//! mismatch whose size is judged relative to the total
//! (`AnomalyParams::total_mismatch`).

pub mod block;

use docflow_schemas::{BusinessFields, LineItem};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use block::{Component, Role};

/// A stated total that no reading of the document explains.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// |stated − expected|.
    pub difference: Decimal,
    /// The gap to the closest explanation from printed lines, relative to
    /// the total: `min |stated − e| / max(|stated|, 1)` (what the
    /// contribution is judged on: the most charitable printed reading).
    pub relative: f64,
    /// The item sum (None: judged on the totals block alone).
    pub items_sum: Option<Decimal>,
    /// The amount the explanations start from: the item sum, or the block's net.
    pub base: Decimal,
    /// The stated total.
    pub stated: Decimal,
    /// What the document's own lines make the total: the item sum with
    /// every printed tax, addition, discount and rounding line applied.
    pub expected: Decimal,
    /// The tolerance around `expected`.
    pub tolerance: Decimal,
    /// The totals block as read (role, value).
    pub block: Vec<Component>,
}

impl Mismatch {
    /// The gap to the closest explanation from printed lines, in multiples
    /// of the rounding tolerance: how far beyond anything rounding can do.
    pub fn roundings(&self) -> f64 {
        let stated = self.stated.abs().to_f64().unwrap_or(f64::MAX).max(1.0);
        let tolerance = self.tolerance.to_f64().unwrap_or(0.05).max(1e-6);
        self.relative * stated / tolerance
    }
}

/// Why the check said nothing (for diagnostics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    NoTotal,
    NoItems,
    /// A line without an amount or quantity × unit price.
    IncompleteItems,
    /// quantity × unit price ≠ amount on some line.
    InconsistentItems,
    /// The block states a net the items do not add up to.
    ItemsDisagreeWithNet,
    /// The total follows from the items and the block.
    Explained,
}

/// A line's amount: as printed, else quantity × unit price for a whole
/// quantity (a fractional quantity without a printed amount is more often
/// a price read twice than a weighed good).
fn line_amount(item: &LineItem) -> Option<Decimal> {
    item.amount.or_else(|| {
        let q = item.quantity.filter(|q| q.fract().is_zero())?;
        q.checked_mul(item.unit_price?)
    })
}

fn line_consistent(item: &LineItem) -> bool {
    match (item.quantity, item.unit_price, item.amount) {
        (Some(q), Some(u), Some(a)) => q.checked_mul(u).is_some_and(|qu| (qu - a).abs() <= Decimal::new(1, 2)),
        _ => true,
    }
}

/// Rounding tolerance for `lines` line items: ½ cent per line + 1 cent, at least 5 cents.
pub fn tolerance(lines: usize) -> Decimal {
    (Decimal::new(1, 2) + Decimal::new(5, 3) * Decimal::from(lines as u64)).max(Decimal::new(5, 2))
}

/// Standard and reduced VAT / sales-tax rates (percent) in Europe, North America and Asia-Pacific.
pub const TAX_RATES_PERCENT: [&str; 30] = [
    "2.1", "2.5", "3", "4", "5", "5.5", "6", "7", "7.7", "8", "8.1", "8.875", "9", "10", "12", "13", "13.5", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "27",
];

/// Most optional block lines combined (2^n combinations are tried).
const MAX_OPTIONAL: usize = 10;

/// Every sum of a subset of the block's optional terms: additions add,
/// discounts subtract, rounding either way (0 included: none applied).
fn partials(block: &[Component]) -> Vec<Decimal> {
    let mut optional: Vec<Vec<Decimal>> = Vec::new();
    for c in block {
        let v = c.value;
        match c.role {
            Role::Addition => optional.push(vec![v.abs()]),
            Role::Discount => optional.push(vec![-v.abs()]),
            Role::Rounding => optional.push(vec![v, -v]),
            _ => {}
        }
    }
    optional.truncate(MAX_OPTIONAL);
    let mut partials = vec![Decimal::ZERO];
    for choices in &optional {
        let mut next = partials.clone();
        for p in &partials {
            next.extend(choices.iter().map(|c| p + c));
        }
        next.sort();
        next.dedup();
        partials = next;
    }
    partials
}

/// The values a stated total may be, given the item sum and the block:
/// (from printed lines only, with a guessed standard-rate tax when none is
/// printed). A guessed rate explains a total only to the cent; how *far*
/// a total is from its explanation is measured on the printed ones alone
/// (a random error always lies near one of thirty rates).
fn explanations(sum: Decimal, block: &[Component]) -> (Vec<Decimal>, Vec<Decimal>) {
    let stated_taxes: Vec<Decimal> = block.iter().filter(|c| c.role == Role::Tax).map(|c| c.value).collect();
    // Tax: none (gross items, or tax-free), one stated line, or all stated lines.
    let mut taxes = vec![Decimal::ZERO];
    taxes.extend(stated_taxes.iter().copied());
    if stated_taxes.len() > 1 {
        taxes.push(stated_taxes.iter().copied().sum());
    }
    let guessed: Vec<Decimal> = if stated_taxes.is_empty() {
        rates().map(|r| (sum * r / Decimal::ONE_HUNDRED).round_dp(2)).collect()
    } else {
        Vec::new()
    };
    let partials = partials(block);
    let apply = |taxes: &[Decimal]| {
        let mut out: Vec<Decimal> = taxes.iter().flat_map(|t| partials.iter().map(move |p| sum + t + p)).collect();
        out.sort();
        out.dedup();
        out
    };
    (apply(&taxes), apply(&guessed))
}

/// Reads `fields` (and the totals block of `text`) and either finds the
/// stated total unexplained or says why it is silent. The caller has
/// checked the parser's confidence in the total.
pub fn check(fields: &BusinessFields, text: &str) -> Result<Mismatch, Silence> {
    let stated = fields.total.ok_or(Silence::NoTotal)?;
    let block = block::read(text);
    match items_sum(fields, &block) {
        Ok(sum) => judge(stated, Some(sum), sum, tolerance(fields.line_items.len()), block),
        Err(why) => match block_net(stated, &block) {
            Some(net) => judge(stated, None, net, tolerance(block.len()), block),
            None => Err(why),
        },
    }
}

/// The item sum, when the items are complete, consistent and agree with a printed net.
fn items_sum(fields: &BusinessFields, block: &[Component]) -> Result<Decimal, Silence> {
    if fields.line_items.is_empty() {
        return Err(Silence::NoItems);
    }
    let mut sum = Decimal::ZERO;
    for item in &fields.line_items {
        let a = line_amount(item).ok_or(Silence::IncompleteItems)?;
        sum = sum.checked_add(a).ok_or(Silence::IncompleteItems)?;
    }
    if !fields.line_items.iter().all(line_consistent) {
        return Err(Silence::InconsistentItems);
    }
    let tol = tolerance(fields.line_items.len());
    let mut nets = block.iter().filter(|c| c.role == Role::Net).map(|c| c.value).peekable();
    if nets.peek().is_some() && !nets.any(|n| (n - sum).abs() <= tol) {
        return Err(Silence::ItemsDisagreeWithNet);
    }
    Ok(sum)
}

/// The block's net when the block can be judged on its own: one positive
/// net, the stated total printed as one of the block's total lines, and tax
/// lines whose sum is a standard rate of the net (with or without the
/// printed discount and shipping): the net is then really the tax base, and
/// the block was read as printed. (Till receipts whose blocks were read
/// from a scan rarely pass: a zero-rated part, an OCR slip or a net of 0.00
/// breaks the rate.)
fn block_net(stated: Decimal, block: &[Component]) -> Option<Decimal> {
    let mut nets: Vec<Decimal> = block.iter().filter(|c| c.role == Role::Net).map(|c| c.value).collect();
    nets.dedup();
    let &[net] = nets.as_slice() else { return None };
    let tol = tolerance(block.len());
    let total_printed = block.iter().any(|c| c.role == Role::Gross && (c.value - stated).abs() <= tol);
    let tax: Decimal = block.iter().filter(|c| c.role == Role::Tax).map(|c| c.value.abs()).sum();
    if net <= Decimal::ZERO || tax <= Decimal::ZERO || !total_printed {
        return None;
    }
    let charges: Vec<Component> = block.iter().filter(|c| matches!(c.role, Role::Addition | Role::Discount)).cloned().collect();
    let cent = Decimal::new(1, 2);
    let rate_fits = partials(&charges).into_iter().any(|p| {
        rates().any(|r| ((net + p) * r / Decimal::ONE_HUNDRED).round_dp(2) - tax <= cent && tax - ((net + p) * r / Decimal::ONE_HUNDRED).round_dp(2) <= cent)
    });
    rate_fits.then_some(net)
}

fn rates() -> impl Iterator<Item = Decimal> {
    TAX_RATES_PERCENT.iter().filter_map(|r| r.parse::<Decimal>().ok())
}

/// How close a total must come to an explanation with a *guessed* tax
/// rate: half the printed lines' tolerance, at least 2.5 cents (a cash
/// total rounded to 0.05 lies within 2.5 cents of its exact value). Thirty
/// guesses spread over a quarter of the item sum leave a random error
/// within the full tolerance of one of them far too often (a till receipt
/// 7.87 over its single 31.70 line came within 5 cents of 25 %).
fn guess_tolerance(tol: Decimal) -> Decimal {
    (tol / Decimal::TWO).max(Decimal::new(25, 3))
}

/// Searches the explanations from `base`; a mismatch when none comes within `tol`.
fn judge(stated: Decimal, items_sum: Option<Decimal>, base: Decimal, tol: Decimal, block: Vec<Component>) -> Result<Mismatch, Silence> {
    let (printed, guessed) = explanations(base, &block);
    let gap = |es: &[Decimal]| es.iter().map(|e| (*e - stated).abs()).min();
    let closest = gap(&printed).unwrap_or_else(|| (stated - base).abs());
    if closest <= tol || gap(&guessed).is_some_and(|g| g <= guess_tolerance(tol)) {
        return Err(Silence::Explained);
    }
    let expected = full_composition(base, &block);
    let relative = (closest / stated.abs().max(Decimal::ONE)).to_f64().unwrap_or(f64::MAX);
    Ok(Mismatch { difference: (stated - expected).abs(), relative, items_sum, base, stated, expected, tolerance: tol, block })
}

/// The item sum with every printed tax, addition, discount and rounding line applied.
fn full_composition(sum: Decimal, block: &[Component]) -> Decimal {
    block.iter().fold(sum, |acc, c| match c.role {
        Role::Tax | Role::Addition => acc + c.value.abs(),
        Role::Discount => acc - c.value.abs(),
        Role::Rounding => acc + c.value,
        Role::Net | Role::Gross => acc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn fields(total: &str, lines: &[(&str, Option<&str>, Option<&str>)]) -> BusinessFields {
        BusinessFields {
            total: Some(d(total)),
            line_items: lines
                .iter()
                .map(|(amount, q, p)| LineItem {
                    description: "x".into(),
                    amount: (!amount.is_empty()).then(|| d(amount)),
                    quantity: q.map(d),
                    unit_price: p.map(d),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn two_lines(total: &str) -> BusinessFields {
        fields(total, &[("10.00", None, None), ("20.00", None, None)])
    }

    #[test]
    fn matching_and_rounding_are_not_mismatches() {
        assert_eq!(check(&two_lines("30.00"), ""), Err(Silence::Explained));
        assert_eq!(check(&two_lines("30.04"), ""), Err(Silence::Explained));
        assert_eq!(check(&fields("30.00", &[("", Some("3"), Some("10.00"))]), ""), Err(Silence::Explained));
    }

    #[test]
    fn quantity_times_unit_price() {
        // `20 x paper @ 394.30`: the amount is quantity × unit price.
        let f = fields("7886.00", &[("7886.00", Some("20"), Some("394.30"))]);
        assert_eq!(check(&f, ""), Err(Silence::Explained));
        // A unit price read as the amount: the line contradicts itself, silence.
        let misread = fields("7886.00", &[("394.30", Some("20"), Some("394.30"))]);
        assert_eq!(check(&misread, ""), Err(Silence::InconsistentItems));
    }

    #[test]
    fn net_tax_shipping_discount_rounding() {
        let f = two_lines("40.95");
        let text = "Subtotal: 30.00\nVAT 20%: 6.00\nShipping: 4.95\nTotal: 40.95";
        assert_eq!(check(&f, text), Err(Silence::Explained));
        let text = "Subtotal: 30.00\nDiscount: -5.00\nVAT 20%: 5.00\nRounding: 0.02\nTotal due: 30.02";
        assert_eq!(check(&two_lines("30.02"), text), Err(Silence::Explained));
        // A coupon on gross items (a till receipt): 30.00 − 3.90.
        assert_eq!(check(&two_lines("26.10"), "COUPON  3.90\nTOTAL  26.10"), Err(Silence::Explained));
        // Two tax rates on one invoice.
        let text = "Net: 30.00\nVAT 7%: 0.70\nVAT 19%: 3.80\nTotal: 34.50";
        assert_eq!(check(&two_lines("34.50"), text), Err(Silence::Explained));
    }

    #[test]
    fn a_standard_rate_stands_for_an_unprinted_tax_line() {
        assert_eq!(check(&two_lines("35.70"), ""), Err(Silence::Explained)); // 19 %
        assert!(check(&fields("111.00", &[("100.00", None, None)]), "").is_ok()); // 11 % is no rate
        // A guessed rate explains a total only closely: 31.70 at 25 % is 39.62 (39.63 exactly).
        assert_eq!(check(&fields("39.62", &[("31.70", None, None)]), ""), Err(Silence::Explained));
        assert!(check(&fields("39.57", &[("31.70", None, None)]), "").is_ok());
    }

    #[test]
    fn a_wrong_total_is_reported_with_what_was_expected() {
        let text = "Subtotal: 30.00\nVAT 20%: 6.00\nTotal: 41.00";
        let m = check(&two_lines("41.00"), text).unwrap();
        assert_eq!((m.items_sum, m.expected, m.difference), (Some(d("30.00")), d("36.00"), d("5.00")));
        assert!((m.relative - 5.0 / 41.0).abs() < 1e-9);
        // 5.00 off with a tolerance of 0.05: a hundred roundings away.
        assert!((m.roundings() - 100.0).abs() < 1e-6, "{}", m.roundings());
    }

    #[test]
    fn incomplete_or_inconsistent_items_claim_nothing() {
        assert_eq!(check(&fields("35.00", &[("", Some("3"), None)]), ""), Err(Silence::IncompleteItems));
        assert_eq!(check(&fields("35.00", &[]), ""), Err(Silence::NoItems));
        assert_eq!(check(&BusinessFields::default(), ""), Err(Silence::NoTotal));
        // The block's subtotal says a line is missing from the items.
        let text = "Subtotal: 50.00\nTotal: 59.00";
        assert_eq!(check(&two_lines("59.00"), text), Err(Silence::ItemsDisagreeWithNet));
    }

    #[test]
    fn the_block_alone_when_the_items_cannot_speak() {
        let no_items = BusinessFields { total: Some(d("125.00")), ..Default::default() };
        // Net + tax + shipping = the printed total: explained.
        let ok = "Subtotal: 100.00\nShipping: 5.00\nVAT 20%: 20.00\nTotal due: 125.00";
        assert_eq!(check(&no_items, ok), Err(Silence::Explained));
        // The printed total does not follow from its own block.
        let wrong = "Subtotal: 100.00\nVAT 20%: 20.00\nTotal due: 125.00";
        let m = check(&no_items, wrong).unwrap();
        assert_eq!((m.items_sum, m.base, m.expected), (None, d("100.00"), d("120.00")));
        // Without a tax line, a single net or the total among the block's lines: silence.
        assert_eq!(check(&no_items, "Subtotal: 100.00\nTotal due: 125.00"), Err(Silence::NoItems));
        assert_eq!(check(&no_items, "Net: 100.00\nNet: 90.00\nVAT: 20.00\nTotal: 125.00"), Err(Silence::NoItems));
        assert_eq!(check(&no_items, "Subtotal: 100.00\nVAT: 20.00\nTotal: 130.00"), Err(Silence::NoItems));
        // Blocks read from scanned till receipts: a tax that is no standard
        // rate of the net, a zero tax, a net of 0.00: silence.
        let scan = "SUB TOTAL 24.43\nGST @6% 1.61\nTOTAL: 28.49\nROUNDING: 0.01\nTOTAL: 28.50";
        assert!(check(&BusinessFields { total: Some(d("28.50")), ..Default::default() }, scan).is_err());
        let zero = "SUBTOTAL 15.67\nTOTAL: 17.22\nS=GST @0%: 17.20 0.00";
        assert!(check(&BusinessFields { total: Some(d("17.22")), ..Default::default() }, zero).is_err());
        // A discount before tax: the tax is the rate of net − discount.
        let discounted = "Subtotal: 100.00\nDiscount: -10.00\nVAT 20%: 18.00\nTotal: 125.00";
        assert!(check(&BusinessFields { total: Some(d("125.00")), ..Default::default() }, discounted).is_ok());
        let right = "Subtotal: 100.00\nDiscount: -10.00\nVAT 20%: 18.00\nTotal: 108.00";
        assert_eq!(check(&BusinessFields { total: Some(d("108.00")), ..Default::default() }, right), Err(Silence::Explained));
        // Items that disagree with their subtotal hand over to the block.
        assert!(check(&fields("125.00", &[("50.00", None, None)]), wrong).is_ok());
    }
}
