//! Label words in six languages (EN, DE, FR, ES, IT, NL), grouped by what
//! they announce. The ranker turns "a word of this group stands before the
//! candidate" into a feature; the fitted weights decide how much it counts.
//! Words are lower case; they are matched on ASCII-lower-cased lines, so
//! non-ASCII letters appear here in both cases where a document may shout
//! (`NUMÉRO`, `NÚMERO`). A word ending in `*` matches as a prefix
//! (`incl*` is `incl`, `incl.`, `including`, `inclusive`).

/// Labels of the document (issue) date.
pub const DATE_LABELS_WORDS: &[&str] = &[
    "date", "dated", "datum", "fecha", "data", "datum:", "issued", "issue date", "invoice date", "rechnungsdatum",
    "belegdatum", "ausstellungsdatum", "date de facture", "date facture", "date d'émission", "fecha de emisión",
    "fecha factura", "data fattura", "data documento", "factuurdatum", "receipt date", "transaction date", "doc date",
    "tarikh", "issuedate", "invoicedate", "documentdate", "receiptdate", "transactiondate", "billdate",
];
pub static DATE_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(DATE_LABELS_WORDS));

/// Labels of other dates (due, delivery, service period, order, birth …).
pub const OTHER_DATE_LABELS_WORDS: &[&str] = &[
    "due", "fällig", "fÄllig", "faellig", "zahlbar bis", "échéance", "echeance", "vencimiento", "scadenza",
    "vervaldatum", "vervaldag", "delivery", "lieferdatum", "leistungsdatum", "liefertermin", "livraison", "entrega",
    "consegna", "levering", "period*", "zeitraum", "période", "periodo", "periode", "order date", "bestelldatum",
    "birth", "expiry", "expires", "valid until", "gültig", "ship", "payment date", "pay by", "until", "bis",
    "print", "printed", "duedate", "deliverydate", "exportedat", "createdat", "updatedat", "timestamp",
];
pub static OTHER_DATE_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(OTHER_DATE_LABELS_WORDS));

/// Strong labels of the amount payable (grand total, amount due).
pub const TOTAL_STRONG_WORDS: &[&str] = &[
    "grand total", "total due", "amount due", "balance due", "total amount", "amount payable", "total payable",
    "total to pay", "please pay", "invoice total", "total incl*", "total inc*", "total (incl*", "total inkl*",
    "gesamtbetrag", "rechnungsbetrag", "zahlbetrag", "bruttobetrag", "bruttosumme", "endbetrag", "gesamtsumme",
    "zu zahlen", "summe brutto", "total ttc", "montant ttc", "net à payer", "net a payer", "total à payer",
    "montant total", "importe total", "total a pagar", "total factura", "totale documento", "totale fattura",
    "totale da pagare", "importo totale", "totaal te betalen", "te betalen", "totaalbedrag", "totaal incl",
    "total sales", "total rm", "nett total", "net total", "total amt", "totaldue", "amountdue", "grandtotal",
    "totalamount", "totalgross",
];
pub static TOTAL_STRONG: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(TOTAL_STRONG_WORDS));

/// Weak labels of a total (any kind of total or sum).
/// (`DUE 7.50` on a till slip: what is owed; its change line is a payment's.)
pub const TOTAL_WEAK_WORDS: &[&str] = &["total", "totaal", "totale", "summe", "betrag", "montant", "importe", "importo", "bedrag", "amount", "sum", "due"];
pub static TOTAL_WEAK: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(TOTAL_WEAK_WORDS));

/// Labels of partial sums, taxes and adjustments: not the amount payable.
pub const SUBTOTAL_LABELS_WORDS: &[&str] = &[
    "subtotal", "sub total", "sub-total", "zwischensumme", "sous-total", "sous total", "subtotale", "subtotaal",
    "net", "netto", "nettobetrag", "excl*", "exkl*", "ht", "hors taxe", "base imponible", "imponibile", "tax",
    "taxable", "taxable amount", "vat", "mwst", "ust", "tva", "iva", "btw", "gst", "sst", "discount", "rabatt", "remise", "descuento", "sconto",
    "korting", "rounding", "round", "saving", "savings", "deposit", "anzahlung", "acompte", "shipping", "versand",
    "qty", "quantity", "menge", "items", "item", "unit", "price", "prix", "precio", "prezzo", "prijs", "points",
    "weight",
];
pub static SUBTOTAL_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(SUBTOTAL_LABELS_WORDS));

/// Labels of payment lines on receipts (what was tendered and returned).
pub const PAYMENT_LABELS_WORDS: &[&str] = &[
    "cash", "tender", "tendered", "change", "change due", "paid", "payment", "card", "visa", "master", "credit",
    "debit", "bezahlt", "gegeben", "rückgeld", "rueckgeld", "bar", "espèces", "especes", "rendu", "efectivo",
    "cambio", "contanti", "resto", "contant", "wisselgeld", "pinnen",
];
pub static PAYMENT_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(PAYMENT_LABELS_WORDS));

/// Labels of the invoice (document) number.
pub const NUMBER_LABELS_WORDS: &[&str] = &[
    "invoice no", "invoice number", "invoice #", "invoice nr", "invoice num", "invoice id", "inv no", "inv. no",
    "inv #", "bill no", "receipt no", "receipt #", "receipt number", "document no", "doc no", "credit note no",
    "rechnungsnummer", "rechnungs-nr", "rechnung nr", "rechnungsnr", "rech.-nr", "re-nr", "beleg-nr", "belegnummer",
    "beleg nr", "belegnr", "gutschrift nr", "gutschriftsnummer", "n° de facture", "n° facture", "numéro de facture",
    "numero de facture", "facture n", "facture no", "factura n", "nº factura", "n.º factura", "número de factura",
    "numero de factura", "num. factura", "fattura n", "numero fattura", "n. fattura", "fattura num",
    "factuurnummer", "factuur nr", "factuurnr", "invoice:", "receipt:", "bill:", "cash bill", "tax invoice",
    "document number", "ref no", "reference", "invoicenumber", "invoiceno", "invoiceid", "documentnumber",
];
pub static NUMBER_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(NUMBER_LABELS_WORDS));

/// Title words: a document heading (`INVOICE INV-53449`, `RECHNUNG 2024-17`).
pub const TITLE_WORDS_WORDS: &[&str] = &[
    "invoice", "rechnung", "facture", "factura", "fattura", "factuur", "receipt", "quittung", "reçu", "recibo",
    "ricevuta", "bon", "bill", "gutschrift", "credit note", "avoir", "nota de crédito", "nota de crÉdito", "nota di credito",
    "creditnota", "kostenrechnung", "kassenbon", "scontrino", "kassabon",
];
pub static TITLE_WORDS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(TITLE_WORDS_WORDS));

/// Generic number marks next to an ID (`No.`, `Nr.`, `N°`, `#`).
pub const NUMBER_MARKS: &[&str] = &["no", "nr", "n°", "nº", "#", "number", "nummer", "numéro", "numero", "número", "num"];

/// Labels of other identifiers (customer, order, tax id, phone …).
pub const OTHER_ID_LABELS_WORDS: &[&str] = &[
    "customer", "kunde", "kunden", "client", "cliente", "klant", "order", "bestell", "auftrag", "commande",
    "pedido", "ordine", "bestelling", "tax id", "vat id", "vat no", "ust-id", "ustid", "steuer", "st.-nr",
    "siret", "siren", "cif", "nif", "partita iva", "p.iva", "kvk", "gst", "reg", "co.", "company no", "tel",
    "phone", "fax", "telefon", "mobile", "iban", "bic", "swift", "blz", "konto", "account", "member", "cashier",
    "kasse", "table", "terminal", "pos", "mid", "tid", "batch", "trace", "approval", "auth", "card", "lot",
    "postcode", "zip", "plz", "page", "seite", "hrb", "amtsgericht", "registergericht", "contract", "vertrag",
    "delivery", "liefer", "lieferschein", "sku", "ean", "art", "artikel", "item", "barcode", "serial",
];
pub static OTHER_ID_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(OTHER_ID_LABELS_WORDS));

/// Labels that introduce the seller (issuer) block.
pub const SELLER_LABELS_WORDS: &[&str] = &[
    "from", "seller", "vendor", "supplier", "merchant", "issued by", "bill from", "invoice from", "sold by",
    "verkäufer", "lieferant", "rechnungssteller", "absender", "vendeur", "fournisseur", "émetteur", "proveedor",
    "vendedor", "emisor", "fornitore", "venditore", "cedente", "leverancier", "verkoper", "company", "store",
    // Polish invoices name their parties the same way (`Sprzedawca:` / `Nabywca:`).
    "sprzedawca", "wystawca",
];
pub static SELLER_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(SELLER_LABELS_WORDS));

/// Labels that introduce the buyer block: lines after them are not the vendor.
pub const BUYER_LABELS_WORDS: &[&str] = &[
    "bill to", "billed to", "ship to", "sold to", "customer", "buyer", "invoice to", "to:", "kunde",
    "rechnungsempfänger", "empfänger", "lieferadresse", "client", "destinataire", "acheteur", "facturer à",
    "cliente", "comprador", "destinatario", "klant", "afnemer", "factuuradres", "nabywca", "odbiorca",
];
pub static BUYER_LABELS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(BUYER_LABELS_WORDS));

/// Words that end organisation names (legal forms) or name a business.
pub const ORG_WORDS_WORDS: &[&str] = &[
    "gmbh", "mbh", "ag", "kg", "ohg", "ug", "e.k", "ltd", "limited", "inc", "llc", "llp", "plc", "corp",
    "corporation", "company", "co.", "sdn", "bhd", "s/b", "sarl", "sas", "s.a.", "sa", "s.l.", "sl", "srl",
    "s.r.l.", "spa", "s.p.a.", "bv", "b.v.", "nv", "n.v.", "vof", "enterprise", "enterprises", "trading",
    "industries", "holding", "group", "services", "store", "stores", "mart", "market", "supermarket",
    "restaurant", "restoran", "cafe", "café", "bakery", "pharmacy", "farmasi", "hardware", "stationery",
    "versicherung", "bank", "hotel", "shop", "gesellschaft", "handel", "solutions", "systems", "technologies",
];
pub static ORG_WORDS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(ORG_WORDS_WORDS));

/// Words of address, contact and document furniture lines: not a name.
pub const NOT_NAME_WORDS_WORDS: &[&str] = &[
    "invoice", "receipt", "rechnung", "facture", "factura", "fattura", "factuur", "tax", "tel", "fax", "phone",
    "gst", "vat", "date", "datum", "total", "cashier", "page", "seite", "www", "http", "@", "jalan", "jln",
    "street", "st.", "road", "rd", "avenue", "ave", "straße", "strasse", "str.", "rue", "via ", "calle", "laan",
    "weg", "taman", "lot", "no.", "postfach", "p.o.", "box", "suite", "floor", "bill to", "ship to", "customer",
    "kunde", "order", "copy", "original", "welcome", "thank", "dear", "hello", "hi ", "subject", "to:",
    "content-type", "charset", "content-transfer-encoding", "mime-version", "billed to", "sold to", "cash sale",
    "cash bill", "credit note", "quotation", "delivery note", "delivery order",
];
pub static NOT_NAME_WORDS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(NOT_NAME_WORDS_WORDS));

use aho_corasick::AhoCorasick;
use std::sync::LazyLock;

/// A group of label words, searched in one pass (Aho-Corasick) for all of
/// them; a match counts only as a whole word (no letter or digit right
/// before or after it; a `*` word may run on).
pub struct Lexicon {
    ac: AhoCorasick,
    /// Per pattern: matches as a prefix (written with a trailing `*`).
    prefix: Vec<bool>,
}

impl Lexicon {
    pub fn new(words: &[&str]) -> Lexicon {
        let prefix: Vec<bool> = words.iter().map(|w| w.ends_with('*')).collect();
        let patterns: Vec<&str> = words.iter().map(|w| w.trim_end_matches('*')).collect();
        // (A full DFA: the lists are small and every line is searched.)
        let ac = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("label words build an automaton");
        Lexicon { ac, prefix }
    }

    /// The end of the last whole-word match in `lower[..before]` (a prefix
    /// word's end runs to the end of its word), or `None`.
    pub fn last_end(&self, lower: &str, before: usize) -> Option<usize> {
        let hay = lower.as_bytes().get(..before)?;
        let alnum = |x: u8| x.is_ascii_alphanumeric();
        let mut best = None;
        for m in self.ac.find_overlapping_iter(hay) {
            let (s, e) = (m.start(), m.end());
            let first_alnum = alnum(hay[s]);
            let last_alnum = alnum(hay[e - 1]);
            if s > 0 && first_alnum && alnum(hay[s - 1]) {
                continue;
            }
            let prefix = self.prefix[m.pattern().as_usize()];
            let end = if prefix {
                e + hay[e..].iter().take_while(|&&b| alnum(b)).count()
            } else {
                if e < hay.len() && last_alnum && alnum(hay[e]) {
                    continue;
                }
                e
            };
            best = Some(best.map_or(end, |b: usize| b.max(end)));
        }
        best
    }

    /// Whether `lower` holds any of the words as a whole word.
    pub fn any(&self, lower: &str) -> bool {
        self.last_end(lower, lower.len()).is_some()
    }
}

/// The label groups a document's lines are scanned for once (see [`hits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Date,
    OtherDate,
    TotalStrong,
    TotalWeak,
    Subtotal,
    Payment,
    Number,
    Title,
    OtherId,
    Seller,
    Buyer,
    /// Legal forms and business words ([`ORG_WORDS_WORDS`]).
    Org,
    /// Words that are no name ([`NOT_NAME_WORDS_WORDS`]).
    NotName,
}

const GROUPS: [(Group, &[&str]); 13] = [
    (Group::Date, DATE_LABELS_WORDS),
    (Group::OtherDate, OTHER_DATE_LABELS_WORDS),
    (Group::TotalStrong, TOTAL_STRONG_WORDS),
    (Group::TotalWeak, TOTAL_WEAK_WORDS),
    (Group::Subtotal, SUBTOTAL_LABELS_WORDS),
    (Group::Payment, PAYMENT_LABELS_WORDS),
    (Group::Number, NUMBER_LABELS_WORDS),
    (Group::Title, TITLE_WORDS_WORDS),
    (Group::OtherId, OTHER_ID_LABELS_WORDS),
    (Group::Seller, SELLER_LABELS_WORDS),
    (Group::Buyer, BUYER_LABELS_WORDS),
    (Group::Org, ORG_WORDS_WORDS),
    (Group::NotName, NOT_NAME_WORDS_WORDS),
];

/// One whole-word label match in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub end: usize,
    pub group: Group,
}

/// Every group's words in one automaton: a line is read once for all of them.
static COMBINED: LazyLock<(AhoCorasick, Vec<(Group, bool)>)> = LazyLock::new(|| {
    let mut patterns = Vec::new();
    let mut meta = Vec::new();
    for (g, words) in GROUPS {
        for w in words {
            patterns.push(w.trim_end_matches('*'));
            meta.push((g, w.ends_with('*')));
        }
    }
    let ac = AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("label words build an automaton");
    (ac, meta)
});

/// The whole-word label matches of a lower-cased line, by end, ascending.
pub fn hits(lower: &str) -> Vec<Hit> {
    let (ac, meta) = &*COMBINED;
    let hay = lower.as_bytes();
    let alnum = |x: u8| x.is_ascii_alphanumeric();
    let mut out = Vec::new();
    for m in ac.find_overlapping_iter(hay) {
        let (s, e) = (m.start(), m.end());
        if s > 0 && alnum(hay[s]) && alnum(hay[s - 1]) {
            continue;
        }
        let (group, prefix) = meta[m.pattern().as_usize()];
        if prefix {
            out.push(Hit { end: e + hay[e..].iter().take_while(|&&b| alnum(b)).count(), group });
        } else if e >= hay.len() || !alnum(hay[e - 1]) || !alnum(hay[e]) {
            out.push(Hit { end: e, group });
        }
    }
    out.sort_unstable_by_key(|h| h.end);
    out
}

/// The end of the last match of `group` in `hits` at or before `at`.
pub fn last_end_in(hits: &[Hit], group: Group, at: usize) -> Option<usize> {
    hits.iter().filter(|h| h.group == group && h.end <= at).map(|h| h.end).last()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The word-by-word search the automaton replaced: the reference it is tested against.
    /// Whether `lower` (an ASCII-lower-cased line) holds `word` as a whole word
    /// (no letter or digit right before or after), from `from` on.
    fn find_word(lower: &str, word: &str, from: usize) -> Option<usize> {
        let (word, prefix) = match word.strip_suffix('*') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let b = lower.as_bytes();
        let mut at = from;
        while let Some(i) = lower.get(at..).and_then(|s| s.find(word)) {
            let (s, e) = (at + i, at + i + word.len());
            let alnum = |x: u8| x.is_ascii_alphanumeric();
            let first_alnum = word.as_bytes().first().is_some_and(|&c| alnum(c));
            let last_alnum = word.as_bytes().last().is_some_and(|&c| alnum(c));
            let ok_before = s == 0 || !first_alnum || !alnum(b[s - 1]);
            let ok_after = prefix || e >= b.len() || !last_alnum || !alnum(b[e]);
            if ok_before && ok_after {
                return Some(s);
            }
            at = s + 1;
            while at < lower.len() && !lower.is_char_boundary(at) {
                at += 1;
            }
        }
        None
    }

    /// The end of the last whole-word occurrence of any of `words` in
    /// `lower[..before]`, or `None`.
    fn last_label_end(lower: &str, words: &[&str], before: usize) -> Option<usize> {
        let hay = lower.get(..before)?;
        let mut best: Option<usize> = None;
        for w in words {
            let mut from = 0;
            while let Some(s) = find_word(hay, w, from) {
                // A prefix word ends where its word does.
                let mut end = s + w.trim_end_matches('*').len();
                if w.ends_with('*') {
                    end += hay[end..].bytes().take_while(u8::is_ascii_alphanumeric).count();
                }
                best = Some(best.map_or(end, |b: usize| b.max(end)));
                from = s + 1;
                while from < hay.len() && !hay.is_char_boundary(from) {
                    from += 1;
                }
            }
        }
        best
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(find_word("subtotal 12", "total", 0), None);
        assert_eq!(find_word("the total 12", "total", 0), Some(4));
        assert_eq!(find_word("n° 12", "n°", 0), Some(0));
        assert_eq!(last_label_end("total: 5 total 6", &["total"], 16), Some(14));
        assert!(NUMBER_LABELS.any("rechnungsnummer: 4"));
        assert_eq!(last_label_end("total (including gst) 5", &["total (incl*"], 22), Some(16));
        let lex = Lexicon::new(&["total", "total (incl*", "n°"]);
        assert_eq!(lex.last_end("subtotal 12", 11), None);
        assert_eq!(lex.last_end("total (including gst) 5", 22), Some(16));
        assert_eq!(lex.last_end("total: 5 total 6", 16), Some(14));
        assert_eq!(lex.last_end("n° 12", 5), Some(3));
        // The automaton agrees with the word-by-word search.
        for line in ["grand total 12.00", "total due: 5", "net à payer 4", "subtotal 3 total 4", "totaal incl. btw 9"] {
            for words in [&["total", "grand total", "net à payer", "totaal incl*"][..], &["sub total", "total"][..]] {
                assert_eq!(Lexicon::new(words).last_end(line, line.len()), last_label_end(line, words, line.len()), "{line} {words:?}");
            }
        }
    }
}
