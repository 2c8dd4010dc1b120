//! Rendering a [`DocModel`] in one of five formats, plus the ground truth of
//! exactly what the rendering states. Shared formatting (dates, money,
//! labels) lives here; each format has its own module.

pub mod email;
pub mod extended;
pub mod html;
pub mod json;
pub mod pdf;
pub mod text;

use super::model::{Class, CurrencyStyle, DateStyle, DocModel, NumberStyle};
use chrono::{Datelike, NaiveDate};
use docflow_schemas::{BusinessFields, LineItem};
use rust_decimal::Decimal;

/// The five output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocFormat {
    Text,
    Html,
    Json,
    Email,
    Pdf,
}

impl DocFormat {
    pub const ALL: [DocFormat; 5] = [DocFormat::Text, DocFormat::Html, DocFormat::Json, DocFormat::Email, DocFormat::Pdf];
    pub const fn mime(self) -> &'static str {
        match self {
            DocFormat::Text => "text/plain",
            DocFormat::Html => "text/html",
            DocFormat::Json => "application/json",
            DocFormat::Email => "message/rfc822",
            DocFormat::Pdf => "application/pdf",
        }
    }
}

/// How receipts print their lines (chosen from the style variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptLines {
    /// A header row and columns (quantity, unit price, amount).
    Table,
    /// `2 x Croissant   5.00` (quantity and amount).
    QtyFirst,
    /// `Croissant 2 @ 2.50   5.00`.
    AtPrice,
}

pub fn receipt_lines(m: &DocModel, format: DocFormat) -> ReceiptLines {
    if format == DocFormat::Json {
        return ReceiptLines::Table; // JSON carries items as an array of objects
    }
    match m.style.variant {
        0 | 1 => ReceiptLines::Table,
        2 => ReceiptLines::QtyFirst,
        _ => ReceiptLines::AtPrice,
    }
}

const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/// A date written in the document's style.
pub fn fmt_date(d: NaiveDate, s: DateStyle) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let month = MONTHS[m as usize - 1];
    match s {
        DateStyle::Iso => format!("{y:04}-{m:02}-{day:02}"),
        DateStyle::Dotted => format!("{day:02}.{m:02}.{y}"),
        DateStyle::SlashDmy => format!("{day:02}/{m:02}/{y}"),
        DateStyle::SlashMdy => format!("{m:02}/{day:02}/{y}"),
        DateStyle::LongDmy => format!("{day} {month} {y}"),
        DateStyle::LongMdy => format!("{month} {day}, {y}"),
        DateStyle::ShortDash => format!("{day:02}-{}-{y}", &month[..3]),
        DateStyle::Ordinal => {
            let suffix = match day {
                1 | 21 | 31 => "st",
                2 | 22 => "nd",
                3 | 23 => "rd",
                _ => "th",
            };
            format!("{day}{suffix} {month} {y}")
        }
    }
}

/// A number with two decimals in the document's number style.
pub fn fmt_number(v: Decimal, s: NumberStyle) -> String {
    let v = v.round_dp(2);
    let neg = v.is_sign_negative();
    let plain = format!("{:.2}", v.abs());
    let (int, frac) = plain.split_once('.').unwrap();
    let group = |sep: &str| {
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push_str(sep);
            }
            out.push(c);
        }
        out
    };
    let body = match s {
        NumberStyle::Us => format!("{},{frac}", group(",")).replacen(',', ".", 0),
        NumberStyle::Eu => format!("{},{frac}", group(".")),
        NumberStyle::PlainDot => format!("{int}.{frac}"),
        NumberStyle::PlainComma => format!("{int},{frac}"),
        NumberStyle::Swiss => format!("{}.{frac}", group("'")),
        NumberStyle::Spaced => format!("{},{frac}", group(" ")),
    };
    let body = if s == NumberStyle::Us { format!("{}.{frac}", group(",")) } else { body };
    if neg { format!("-{body}") } else { body }
}

/// The printed symbol for a currency, if it has one in common use.
pub fn symbol(code: &str) -> Option<&'static str> {
    match code {
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "USD" => Some("$"),
        _ => None,
    }
}

/// An amount with its currency marker placed per the style
/// (`Separate` prints the bare number).
pub fn fmt_money(v: Decimal, m: &DocModel) -> String {
    let n = fmt_number(v, m.style.number);
    let code = m.vendor.currency;
    let sym = symbol(code);
    match (m.style.currency, sym) {
        (CurrencyStyle::SymbolBefore, Some(s)) => format!("{s}{n}"),
        (CurrencyStyle::SymbolBeforeSpaced, Some(s)) => format!("{s} {n}"),
        (CurrencyStyle::SymbolAfter, Some(s)) => format!("{n} {s}"),
        (CurrencyStyle::CodeAfter, _) | (CurrencyStyle::SymbolAfter, None) => format!("{n} {code}"),
        (CurrencyStyle::Separate, _) => n,
        _ => format!("{code} {n}"),
    }
}

/// Whether the document must state its currency separately.
pub fn separate_currency(m: &DocModel) -> bool {
    m.style.currency == CurrencyStyle::Separate
}

/// Ground truth for `m` rendered as `format`: exactly the facts the
/// rendering states, in the parser's normalised form.
pub fn truth(m: &DocModel, format: DocFormat) -> BusinessFields {
    let mut t = BusinessFields { doc_type_hint: Some(m.class.name().to_string()), ..Default::default() };
    let mail = format == DocFormat::Email;
    let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    if mail || m.class == Class::Email {
        t.subject = Some(m.subject.clone());
        t.emails.push(m.sender.email.clone());
        t.emails.extend(m.recipients.iter().map(|p| p.email.clone()));
        t.emails.extend(m.cc.iter().map(|p| p.email.clone()));
    }
    match m.class {
        Class::Invoice | Class::Receipt => {
            t.vendor = Some(m.vendor.name.to_string());
            t.date = Some(iso(m.date));
            t.total = Some(m.total);
            t.currency = Some(m.vendor.currency.to_string());
            let lines = if m.class == Class::Receipt { receipt_lines(m, format) } else { ReceiptLines::Table };
            t.line_items = m
                .items
                .iter()
                .map(|i| LineItem {
                    description: i.description.clone(),
                    quantity: Some(i.quantity),
                    unit_price: (lines != ReceiptLines::QtyFirst).then_some(i.unit_price),
                    amount: Some(i.amount),
                })
                .collect();
            if m.class == Class::Invoice {
                t.invoice_number = Some(m.number.clone());
                t.emails.push(m.vendor_email.clone());
                match (&m.iban, m.iban_valid) {
                    (Some(i), true) => t.iban = Some(i.clone()),
                    (Some(i), false) => t.invalid_ibans.push(i.clone()),
                    _ => {}
                }
            }
        }
        Class::Email => t.date = Some(iso(m.date)),
        Class::Contract => {
            t.date = Some(iso(m.date));
            t.parties = vec![m.vendor.name.to_string(), m.customer.to_string()];
            t.currency = Some(m.vendor.currency.to_string());
            t.emails.push(m.vendor_email.clone());
        }
    }
    if let Some((_, norm)) = &m.phone {
        t.phones.push(norm.clone());
    }
    t.emails.dedup();
    t
}

/// Label variants, picked by the style variant.
pub fn pick<'a>(m: &DocModel, options: &[&'a str]) -> &'a str {
    options[m.style.variant as usize % options.len()]
}

/// The total line's label; with a separate currency it may carry the code.
pub fn total_label(m: &DocModel) -> String {
    let base = match m.class {
        Class::Receipt => pick(m, &["TOTAL", "Total", "Total", "TOTAL"]),
        _ => pick(m, &["Total due", "Total", "Amount due", "Grand total"]),
    };
    if separate_currency(m) && m.style.variant % 2 == 0 {
        format!("{base} ({})", m.vendor.currency)
    } else {
        base.to_string()
    }
}

/// Whether a `Currency: XXX` line is needed (bare amounts, code not on the total label).
pub fn needs_currency_line(m: &DocModel) -> bool {
    separate_currency(m) && m.style.variant % 2 == 1
}

/// `  ` or a messy run of spaces/tabs between label and value.
pub fn gap(m: &DocModel, salt: usize) -> &'static str {
    if !m.style.messy {
        return " ";
    }
    ["   ", "\t", "  ", " \t "][salt % 4]
}

/// Street address line for the vendor's country.
pub fn address(m: &DocModel) -> &'static str {
    match m.vendor.country {
        "DE" => "Hauptstrasse 12, 10115 Berlin",
        "GB" => "12 High Street, London EC1A 1BB",
        "US" => "500 Market Street, San Francisco, CA 94105",
        "CH" => "Bahnhofstrasse 5, 8001 Zurich",
        "NL" => "Keizersgracht 100, 1015 Amsterdam",
        "FR" => "15 rue de Rivoli, 75001 Paris",
        "ES" => "Calle Mayor 7, 28013 Madrid",
        "NO" => "Karl Johans gate 3, 0154 Oslo",
        _ => "Graben 21, 1010 Wien",
    }
}

/// The IBAN as printed: grouped by four or run together.
pub fn iban_printed(m: &DocModel, iban: &str) -> String {
    if m.style.variant % 2 == 0 {
        iban.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
    } else {
        iban.to_string()
    }
}

/// The class a reader files `m` under (see [`crate::LabeledDoc::class`]).
pub fn class_name(m: &DocModel) -> &'static str {
    if m.style.credit_note {
        "credit_note"
    } else {
        m.class.name()
    }
}

/// Language of the labels `m` is printed with (see [`crate::LabeledDoc::language`]).
pub fn language(m: &DocModel) -> &'static str {
    match (m.class, m.style.notation) {
        (Class::Invoice, Some(lang)) => extended::LANGUAGES[lang as usize % extended::LANGUAGES.len()],
        _ => "en",
    }
}

/// Plain-text lines of a document body (shared by text, PDF and e-mail bodies).
/// Each line is a list of cells; one-cell lines are prose.
pub type Lines = Vec<Vec<String>>;

/// Builds the lines of `m` (the body as a printed page).
pub fn body_lines(m: &DocModel, format: DocFormat) -> Lines {
    let mut l: Lines = Vec::new();
    let one = |s: String| vec![s];
    let two = |a: &str, b: String| vec![a.to_string(), b];
    let date = fmt_date(m.date, m.style.date);
    match m.class {
        Class::Invoice if m.style.notation.is_some() => {
            extended::invoice_lines(m, m.style.notation.unwrap_or(0) as usize, &mut l);
        }
        Class::Invoice => {
            if m.style.variant == 2 {
                l.push(one(pick(m, &["INVOICE", "Tax Invoice", "INVOICE", "Invoice"]).to_string()));
            }
            if m.style.variant == 3 {
                l.push(two("Vendor:", m.vendor.name.to_string()));
            } else {
                l.push(one(m.vendor.name.to_string()));
            }
            l.push(one(address(m).to_string()));
            if let Some((p, _)) = &m.phone {
                l.push(two(pick(m, &["Tel:", "Phone:", "Tel.", "Telephone:"]), p.clone()));
            }
            l.push(two("Email:", m.vendor_email.clone()));
            l.push(vec![]);
            if m.style.variant != 2 {
                l.push(one(pick(m, &["INVOICE", "Invoice", "Tax Invoice", "INVOICE"]).to_string()));
            }
            l.push(two(pick(m, &["Invoice No:", "Invoice #", "Invoice Number:", "Invoice no."]), m.number.clone()));
            l.push(two(pick(m, &["Invoice Date:", "Date:", "Issue date:", "Date:"]), date));
            if m.style.variant % 2 == 0 {
                l.push(two("Due Date:", fmt_date(m.due_date, m.style.date)));
            }
            l.push(vec![]);
            l.push(one("Bill To:".to_string()));
            l.push(one(m.customer.to_string()));
            l.push(vec![]);
            items_table(m, &mut l, ["Description", "Qty", "Unit Price", "Amount"]);
            l.push(vec![]);
            l.push(two("Subtotal:", fmt_money(m.subtotal, m)));
            if m.tax_rate > 0 {
                l.push(two(&format!("VAT {}%:", m.tax_rate), fmt_money(m.tax, m)));
            }
            l.push(two(&format!("{}:", total_label(m)), fmt_money(m.total, m)));
            if needs_currency_line(m) {
                l.push(two("Currency:", m.vendor.currency.to_string()));
            }
            l.push(vec![]);
            if let Some(i) = &m.iban {
                l.push(two("IBAN:", iban_printed(m, i)));
            }
            l.push(one("Payment terms: 30 days net. Thank you for your business.".to_string()));
        }
        Class::Receipt => {
            l.push(one(m.vendor.name.to_string()));
            l.push(one(address(m).to_string()));
            if let Some((p, _)) = &m.phone {
                l.push(two(pick(m, &["Tel:", "Phone:", "Tel.", "Tel:"]), p.clone()));
            }
            l.push(one(pick(m, &["RECEIPT", "SALES RECEIPT", "Receipt", "RECEIPT"]).to_string()));
            l.push(two("Receipt No:", m.receipt_no.clone()));
            l.push(two("Date:", format!("{date} {:02}:{:02}", 8 + m.items.len(), 10 + m.receipt_no.len())));
            l.push(vec![]);
            match receipt_lines(m, format) {
                ReceiptLines::Table => items_table(m, &mut l, ["Item", "Qty", "Price", "Amount"]),
                ReceiptLines::QtyFirst => {
                    for i in &m.items {
                        l.push(vec![format!("{} x {}", fmt_qty(i.quantity), i.description), fmt_money(i.amount, m)]);
                    }
                }
                ReceiptLines::AtPrice => {
                    for i in &m.items {
                        l.push(vec![format!("{} {} @ {}", i.description, fmt_qty(i.quantity), fmt_money(i.unit_price, m)), fmt_money(i.amount, m)]);
                    }
                }
            }
            l.push(vec![]);
            l.push(two(&total_label(m), fmt_money(m.total, m)));
            if needs_currency_line(m) {
                l.push(two("Currency:", m.vendor.currency.to_string()));
            }
            if m.style.notation.is_some() {
                extended::receipt_tail(m, &mut l);
            } else {
                l.push(two(pick(m, &["Card payment", "Paid by card", "Card payment", "Paid by card"]), fmt_money(m.total, m)));
            }
            l.push(one("Thank you for shopping with us!".to_string()));
        }
        Class::Email => {
            email_header_lines(m, &mut l);
            l.push(vec![]);
            email_body_lines(m, &mut l);
        }
        Class::Contract => {
            l.push(one(m.contract_title.to_string()));
            l.push(vec![]);
            let title = title_case(m.contract_title);
            if m.style.variant == 3 {
                l.push(two("Effective Date:", date));
                l.push(two("Party A:", m.vendor.name.to_string()));
                l.push(two("Party B:", m.customer.to_string()));
                l.push(vec![]);
            } else if m.style.variant == 2 {
                l.push(one(format!(
                    "This {title} is entered into as of {date} by and between {} (the \"Provider\") and {} (the \"Client\").",
                    m.vendor.name, m.customer
                )));
            } else {
                l.push(one(format!(
                    "This {title} (the \"Agreement\") is made on {date} between {}, a company registered in {}, (\"Provider\") and {} (\"Client\").",
                    m.vendor.name, m.vendor.country, m.customer
                )));
            }
            for (n, c) in m.clauses.iter().enumerate() {
                l.push(one(format!("{}. {c}", n + 1)));
                if n == 1 {
                    let fee = match m.style.currency {
                        CurrencyStyle::Separate => format!("{} {}", fmt_number(m.fee, m.style.number), m.vendor.currency),
                        _ => fmt_money(m.fee, m),
                    };
                    l.push(one(format!("{}. The Client shall pay the Provider a monthly fee of {fee}.", n + 2)));
                }
            }
            l.push(one(format!("Notices under this Agreement shall be sent to {}.", m.vendor_email)));
            if let Some((p, _)) = &m.phone {
                l.push(two("Phone:", p.clone()));
            }
            l.push(vec![]);
            l.push(one(format!("Signed for and on behalf of {}: ____________", m.vendor.name)));
            l.push(one(format!("Signed for and on behalf of {}: ____________", m.customer)));
        }
    }
    l
}

/// `From/To/Cc/Subject/Date` lines of a printed e-mail.
pub fn email_header_lines(m: &DocModel, l: &mut Lines) {
    let fmt = |p: &super::model::Person| format!("{} <{}>", p.name, p.email);
    l.push(vec!["From:".into(), fmt(&m.sender)]);
    l.push(vec!["To:".into(), m.recipients.iter().map(fmt).collect::<Vec<_>>().join(", ")]);
    if !m.cc.is_empty() {
        l.push(vec!["Cc:".into(), m.cc.iter().map(fmt).collect::<Vec<_>>().join(", ")]);
    }
    l.push(vec!["Subject:".into(), m.subject.clone()]);
    l.push(vec!["Date:".into(), fmt_date(m.date, m.style.date)]);
}

/// Greeting, sentences and signature of an e-mail.
pub fn email_body_lines(m: &DocModel, l: &mut Lines) {
    let first = m.recipients[0].name.split(' ').next().unwrap_or("there").to_string();
    l.push(vec![format!("{} {first},", pick(m, &["Hi", "Dear", "Hello", "Hi"]))]);
    l.push(vec![]);
    for s in &m.body_lines {
        l.push(vec![s.clone()]);
    }
    l.push(vec![]);
    l.push(vec![pick(m, &["Best regards,", "Kind regards,", "Thanks,", "Cheers,"]).to_string()]);
    l.push(vec![m.sender.name.clone()]);
    l.push(vec![m.vendor.name.to_string()]);
    if let Some((p, _)) = &m.phone {
        l.push(vec!["Phone:".into(), p.clone()]);
    }
}

fn items_table(m: &DocModel, l: &mut Lines, header: [&str; 4]) {
    l.push(header.iter().map(|s| s.to_string()).collect());
    for i in &m.items {
        l.push(vec![i.description.clone(), fmt_qty(i.quantity), fmt_money(i.unit_price, m), fmt_money(i.amount, m)]);
    }
}

pub fn fmt_qty(q: Decimal) -> String {
    q.normalize().to_string()
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let lower = w.to_lowercase();
            let mut c = lower.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
