//! The abstract document before rendering: what it says (the ground truth
//! plus the surrounding facts a real document carries) and how it is
//! written ([`Style`]: date and number formats, currency placement, layout
//! noise). Renderers turn a [`DocModel`] into bytes of one format.

use super::vocab::{self, VendorProfile};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use rust_decimal::Decimal;

/// Document classes the generator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Invoice,
    Receipt,
    Email,
    Contract,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Invoice, Class::Receipt, Class::Email, Class::Contract];
    pub const fn name(self) -> &'static str {
        match self {
            Class::Invoice => "invoice",
            Class::Receipt => "receipt",
            Class::Email => "email",
            Class::Contract => "contract",
        }
    }
}

/// How numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberStyle {
    /// 1,234.56
    Us,
    /// 1.234,56
    Eu,
    /// 1234.56
    PlainDot,
    /// 1234,56
    PlainComma,
    /// 1'234.56
    Swiss,
    /// 1 234,56 (extended notations only)
    Spaced,
}

/// Where the currency goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrencyStyle {
    SymbolBefore,
    SymbolBeforeSpaced,
    SymbolAfter,
    CodeBefore,
    CodeAfter,
    /// Amounts bare; the currency stated once elsewhere (`Currency: EUR`, `Total (EUR)`).
    Separate,
}

/// How the document date is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    Iso,
    Dotted,
    /// DD/MM/YYYY (metadata locale says day-first when ambiguous).
    SlashDmy,
    /// MM/DD/YYYY (metadata locale `en-US` when ambiguous).
    SlashMdy,
    /// 12 March 2026
    LongDmy,
    /// March 12, 2026
    LongMdy,
    /// 12-Mar-2026
    ShortDash,
    /// 12th March 2026
    Ordinal,
}

/// Writing style of one document.
#[derive(Debug, Clone)]
pub struct Style {
    pub number: NumberStyle,
    pub currency: CurrencyStyle,
    pub date: DateStyle,
    /// Extra spaces, tabs and blank lines.
    pub messy: bool,
    /// Table cells separated by ` | ` instead of aligned columns (text).
    pub pipes: bool,
    /// Layout variant (0..4) picked by each renderer.
    pub variant: u8,
    /// Locale hint to put into metadata, if any.
    pub locale: Option<String>,
    /// Label language of the extended notations (an index into
    /// `render::extended::NOTATIONS`), set only when the corpus asks for them.
    pub notation: Option<u8>,
    /// A credit note (extended notations only): its amounts are negative.
    pub credit_note: bool,
}

/// One line of an invoice or receipt as printed.
#[derive(Debug, Clone)]
pub struct Item {
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

/// A person with an e-mail address.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// Everything a generated document says.
#[derive(Debug, Clone)]
pub struct DocModel {
    pub class: Class,
    pub vendor: &'static VendorProfile,
    pub customer: &'static str,
    pub number: String,
    pub date: NaiveDate,
    pub due_date: NaiveDate,
    /// Date on the mail envelope (differs from the document date).
    pub sent_date: NaiveDate,
    pub items: Vec<Item>,
    pub tax_rate: u32,
    pub subtotal: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    pub iban: Option<String>,
    pub iban_valid: bool,
    pub phone: Option<(String, String)>, // (as printed, normalised)
    pub vendor_email: String,
    pub sender: Person,
    pub recipients: Vec<Person>,
    pub cc: Vec<Person>,
    pub subject: String,
    pub body_lines: Vec<String>,
    pub contract_title: &'static str,
    pub fee: Decimal,
    pub clauses: Vec<&'static str>,
    pub receipt_no: String,
    pub style: Style,
    /// Discount and shipping (extended notations only; zero otherwise).
    pub charges: super::charges::Charges,
}

/// Rounds to cents.
pub fn cents(d: Decimal) -> Decimal {
    d.round_dp(2)
}

/// Mod-97 check digits for `country` + `bban`.
pub fn make_iban(country: &str, bban: &str) -> String {
    let rearranged = format!("{bban}{country}00");
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let v = c.to_digit(36).unwrap();
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    format!("{country}{:02}{bban}", 98 - rem)
}

fn bban_len(country: &str) -> usize {
    match country {
        "NO" => 11,
        "NL" => 14,
        "AT" => 16,
        "CH" => 17,
        "DE" | "GB" => 18,
        "ES" => 20,
        "FR" => 23,
        _ => 18,
    }
}

/// A stable, valid IBAN for a vendor (US vendors get none: no IBAN there).
pub fn vendor_iban(v: &VendorProfile) -> Option<String> {
    if v.country == "US" {
        return None;
    }
    let mut seed: u64 = v.name.bytes().fold(1469598103934665603, |h, b| (h ^ b as u64).wrapping_mul(1099511628211));
    let n = bban_len(v.country);
    let mut bban = String::new();
    if v.country == "GB" || v.country == "NL" {
        bban.push_str(if v.country == "GB" { "NWBK" } else { "ABNA" });
    }
    while bban.len() < n {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        bban.push(char::from(b'0' + ((seed >> 33) % 10) as u8));
    }
    Some(make_iban(v.country, &bban))
}

fn phone_for(country: &str, rng: &mut StdRng) -> (String, String) {
    let d = |rng: &mut StdRng, n: usize| (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect::<String>();
    let (cc, a, b) = match country {
        "US" => ("1", d(rng, 3), d(rng, 7)),
        "GB" => ("44", format!("20{}", d(rng, 2)), d(rng, 6)),
        "DE" => ("49", format!("30{}", d(rng, 1)), d(rng, 7)),
        "FR" => ("33", format!("1{}", d(rng, 2)), d(rng, 6)),
        _ => ("41", d(rng, 2), d(rng, 7)),
    };
    let national = rng.random_bool(0.25) && country != "US";
    let printed = if national {
        format!("0{a} {b}")
    } else if country == "US" && rng.random_bool(0.5) {
        format!("+1 ({a}) {}-{}", &b[..3], &b[3..])
    } else {
        format!("+{cc} {a} {b}")
    };
    let norm = if national { format!("0{a}{b}") } else { format!("+{cc}{a}{b}") };
    (printed, norm)
}

fn person(rng: &mut StdRng, domain: &str) -> Person {
    let f = vocab::FIRST.choose(rng).unwrap();
    let l = vocab::LAST.choose(rng).unwrap();
    Person { name: format!("{f} {l}"), email: format!("{}.{}@{domain}", f.to_lowercase(), l.to_lowercase()) }
}

fn customer_domain(c: &str) -> String {
    let word: String = c.split_whitespace().next().unwrap_or("client").chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{}.example", word.to_lowercase())
}

fn style(rng: &mut StdRng, v: &VendorProfile, date: NaiveDate) -> Style {
    use chrono::Datelike;
    let number = *[NumberStyle::Us, NumberStyle::Eu, NumberStyle::PlainDot, NumberStyle::PlainComma, NumberStyle::Swiss].choose(rng).unwrap();
    let currency = *[
        CurrencyStyle::SymbolBefore,
        CurrencyStyle::SymbolBeforeSpaced,
        CurrencyStyle::SymbolAfter,
        CurrencyStyle::CodeBefore,
        CurrencyStyle::CodeAfter,
        CurrencyStyle::Separate,
    ]
    .choose(rng)
    .unwrap();
    let ds = *[
        DateStyle::Iso, DateStyle::Dotted, DateStyle::SlashDmy, DateStyle::SlashMdy, DateStyle::LongDmy, DateStyle::LongMdy,
        DateStyle::ShortDash, DateStyle::Ordinal,
    ]
    .choose(rng)
    .unwrap();
    let ambiguous = date.day() <= 12 && date.day() != date.month();
    // Producers send a locale hint; it is required for an ambiguous slash date.
    let locale = match ds {
        DateStyle::SlashMdy if ambiguous || rng.random_bool(0.5) => Some("en-US".to_string()),
        DateStyle::SlashDmy if ambiguous || rng.random_bool(0.5) => {
            Some(if v.locale == "en-US" { "en-GB".to_string() } else { v.locale.to_string() })
        }
        DateStyle::SlashMdy | DateStyle::SlashDmy => None,
        _ => rng.random_bool(0.5).then(|| v.locale.to_string()),
    };
    Style { number, currency, date: ds, messy: rng.random_bool(0.4), pipes: rng.random_bool(0.3), variant: rng.random_range(0..4), locale, notation: None, credit_note: false }
}

/// Draws a document of `class`.
pub fn random_model(rng: &mut StdRng, class: Class, running: u64) -> DocModel {
    use chrono::Days;
    let vendors: Vec<&'static VendorProfile> = match class {
        Class::Receipt => vocab::VENDORS.iter().filter(|v| v.price_level <= 40).collect(),
        _ => vocab::VENDORS.iter().collect(),
    };
    let vendor = *vendors.choose(rng).unwrap();
    let customer = *vocab::CUSTOMERS.choose(rng).unwrap();
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Days::new(rng.random_range(0..540));
    let due_date = date + Days::new(*[14u64, 30, 45].choose(rng).unwrap());
    let sent_date = date + Days::new(rng.random_range(1..4));
    let n_items = match class {
        Class::Invoice => rng.random_range(1..9),
        Class::Receipt => rng.random_range(1..7),
        _ => 0,
    };
    let mut items = Vec::new();
    let mut pool: Vec<&str> = vendor.catalogue.to_vec();
    for _ in 0..n_items {
        if pool.is_empty() {
            break;
        }
        let i = rng.random_range(0..pool.len());
        let description = pool.swap_remove(i).to_string();
        let quantity = Decimal::from(if rng.random_bool(0.4) { 1 } else { rng.random_range(1..13) });
        let cents_val = rng.random_range(vendor.price_level as i64 * 40..vendor.price_level as i64 * 220).max(10);
        let unit_price = Decimal::new(cents_val, 2);
        items.push(Item { description, quantity, unit_price, amount: cents(quantity * unit_price) });
    }
    let subtotal: Decimal = items.iter().map(|i| i.amount).sum();
    let tax_rate = match (class, vendor.country) {
        (Class::Receipt, _) => 0,
        (_, "DE") => 19,
        (_, "GB") | (_, "FR") | (_, "AT") => 20,
        (_, "US") => 0,
        _ => *[0u32, 7, 21].choose(rng).unwrap(),
    };
    let tax = cents(subtotal * Decimal::from(tax_rate) / Decimal::from(100));
    let total = subtotal + tax;
    let iban = (class == Class::Invoice).then(|| vendor_iban(vendor)).flatten();
    let mut iban_valid = true;
    let iban = iban.map(|i| {
        if rng.random_bool(0.08) {
            // A mistyped IBAN: one digit changed, so mod-97 fails.
            iban_valid = false;
            let mut b = i.into_bytes();
            let pos = b.len() - 3;
            b[pos] = if b[pos] == b'9' { b'0' } else { b[pos] + 1 };
            String::from_utf8(b).unwrap()
        } else {
            i
        }
    });
    let phone = (class != Class::Contract || rng.random_bool(0.3)).then(|| phone_for(vendor.country, rng));
    let vendor_email = format!("{}@{}", *["billing", "accounts", "info", "invoices"].choose(rng).unwrap(), vendor.domain);
    let cdom = customer_domain(customer);
    let sender = person(rng, vendor.domain);
    let recipients: Vec<Person> = (0..rng.random_range(1..3)).map(|_| person(rng, &cdom)).collect();
    let cc: Vec<Person> = if rng.random_bool(0.3) { vec![person(rng, vendor.domain)] } else { vec![] };
    let subject = match class {
        Class::Email => vocab::EMAIL_SUBJECTS.choose(rng).unwrap().to_string(),
        Class::Invoice => format!("Invoice from {}", vendor.name),
        Class::Receipt => format!("Your receipt from {}", vendor.name),
        Class::Contract => "Agreement for signature".to_string(),
    };
    let k = rng.random_range(2..5);
    let mut body_lines: Vec<String> = vocab::EMAIL_LINES.choose_multiple(rng, k).map(|s| s.to_string()).collect();
    body_lines.shuffle_in_place(rng);
    let fee = Decimal::new(rng.random_range(50_000..2_000_000), 2);
    let k = rng.random_range(3..7);
    let clauses: Vec<&'static str> = vocab::CONTRACT_CLAUSES.choose_multiple(rng, k).copied().collect();
    let number = vendor.number_pattern.replace("{n}", &format!("{:05}", 10_000 + running % 90_000));
    let receipt_no = format!("{}-{:04}", rng.random_range(1..99), rng.random_range(0..10_000));
    let style = style(rng, vendor, date);
    DocModel {
        class, vendor, customer, number, date, due_date, sent_date, items, tax_rate, subtotal, tax, total, iban, iban_valid, phone,
        vendor_email, sender, recipients, cc, subject, body_lines, contract_title: vocab::CONTRACT_TITLES.choose(rng).unwrap(), fee,
        clauses, receipt_no, style, charges: Default::default(),
    }
}

trait ShuffleInPlace {
    fn shuffle_in_place(&mut self, rng: &mut StdRng);
}

impl<T> ShuffleInPlace for Vec<T> {
    fn shuffle_in_place(&mut self, rng: &mut StdRng) {
        use rand::seq::SliceRandom;
        self.shuffle(rng);
    }
}
