//! Label words in six languages (EN, DE, FR, ES, IT, NL), grouped by what
//! they announce. The ranker turns "a word of this group stands before the
//! candidate" into a feature; the fitted weights decide how much it counts.
//! Words are lower case; they are matched on ASCII-lower-cased lines, so
//! non-ASCII letters appear here in both cases where a document may shout
//! (`NUMÉRO`, `NÚMERO`). A word ending in `*` matches as a prefix
//! (`incl*` is `incl`, `incl.`, `including`, `inclusive`).

/// Labels of the document (issue) date.
pub const DATE_LABELS: &[&str] = &[
    "date", "dated", "datum", "fecha", "data", "datum:", "issued", "issue date", "invoice date", "rechnungsdatum",
    "belegdatum", "ausstellungsdatum", "date de facture", "date facture", "date d'émission", "fecha de emisión",
    "fecha factura", "data fattura", "data documento", "factuurdatum", "receipt date", "transaction date", "doc date",
    "tarikh", "issuedate", "invoicedate", "documentdate", "receiptdate", "transactiondate", "billdate",
];

/// Labels of other dates (due, delivery, service period, order, birth …).
pub const OTHER_DATE_LABELS: &[&str] = &[
    "due", "fällig", "fÄllig", "faellig", "zahlbar bis", "échéance", "echeance", "vencimiento", "scadenza",
    "vervaldatum", "vervaldag", "delivery", "lieferdatum", "leistungsdatum", "liefertermin", "livraison", "entrega",
    "consegna", "levering", "period*", "zeitraum", "période", "periodo", "periode", "order date", "bestelldatum",
    "birth", "expiry", "expires", "valid until", "gültig", "ship", "payment date", "pay by", "until", "bis",
    "print", "printed", "duedate", "deliverydate", "exportedat", "createdat", "updatedat", "timestamp",
];

/// Strong labels of the amount payable (grand total, amount due).
pub const TOTAL_STRONG: &[&str] = &[
    "grand total", "total due", "amount due", "balance due", "total amount", "amount payable", "total payable",
    "total to pay", "please pay", "invoice total", "total incl*", "total inc*", "total (incl*", "total inkl*",
    "gesamtbetrag", "rechnungsbetrag", "zahlbetrag", "bruttobetrag", "bruttosumme", "endbetrag", "gesamtsumme",
    "zu zahlen", "summe brutto", "total ttc", "montant ttc", "net à payer", "net a payer", "total à payer",
    "montant total", "importe total", "total a pagar", "total factura", "totale documento", "totale fattura",
    "totale da pagare", "importo totale", "totaal te betalen", "te betalen", "totaalbedrag", "totaal incl",
    "total sales", "total rm", "nett total", "net total", "total amt", "totaldue", "amountdue", "grandtotal",
    "totalamount", "totalgross",
];

/// Weak labels of a total (any kind of total or sum).
pub const TOTAL_WEAK: &[&str] =
    &["total", "totaal", "totale", "summe", "betrag", "montant", "importe", "importo", "bedrag", "amount", "sum"];

/// Labels of partial sums, taxes and adjustments: not the amount payable.
pub const SUBTOTAL_LABELS: &[&str] = &[
    "subtotal", "sub total", "sub-total", "zwischensumme", "sous-total", "sous total", "subtotale", "subtotaal",
    "net", "netto", "nettobetrag", "excl*", "exkl*", "ht", "hors taxe", "base imponible", "imponibile", "tax", "vat",
    "mwst", "ust", "tva", "iva", "btw", "gst", "sst", "discount", "rabatt", "remise", "descuento", "sconto",
    "korting", "rounding", "round", "saving", "savings", "deposit", "anzahlung", "acompte", "shipping", "versand",
    "qty", "quantity", "menge", "items", "item", "unit", "price", "prix", "precio", "prezzo", "prijs", "points",
    "weight",
];

/// Labels of payment lines on receipts (what was tendered and returned).
pub const PAYMENT_LABELS: &[&str] = &[
    "cash", "tender", "tendered", "change", "paid", "payment", "card", "visa", "master", "credit",
    "debit", "bezahlt", "gegeben", "rückgeld", "rueckgeld", "bar", "espèces", "especes", "rendu", "efectivo",
    "cambio", "contanti", "resto", "contant", "wisselgeld", "pinnen",
];

/// Labels of the invoice (document) number.
pub const NUMBER_LABELS: &[&str] = &[
    "invoice no", "invoice number", "invoice #", "invoice nr", "invoice num", "invoice id", "inv no", "inv. no",
    "inv #", "bill no", "receipt no", "receipt #", "receipt number", "document no", "doc no", "credit note no",
    "rechnungsnummer", "rechnungs-nr", "rechnung nr", "rechnungsnr", "rech.-nr", "re-nr", "beleg-nr", "belegnummer",
    "beleg nr", "belegnr", "gutschrift nr", "gutschriftsnummer", "n° de facture", "n° facture", "numéro de facture",
    "numero de facture", "facture n", "facture no", "factura n", "nº factura", "n.º factura", "número de factura",
    "numero de factura", "num. factura", "fattura n", "numero fattura", "n. fattura", "fattura num",
    "factuurnummer", "factuur nr", "factuurnr", "invoice:", "receipt:", "bill:", "cash bill", "tax invoice",
    "document number", "ref no", "reference", "invoicenumber", "invoiceno", "invoiceid", "documentnumber",
];

/// Title words: a document heading (`INVOICE INV-53449`, `RECHNUNG 2024-17`).
pub const TITLE_WORDS: &[&str] = &[
    "invoice", "rechnung", "facture", "factura", "fattura", "factuur", "receipt", "quittung", "reçu", "recibo",
    "ricevuta", "bon", "bill", "gutschrift", "credit note", "avoir", "nota de crédito", "nota di credito",
    "creditnota", "kostenrechnung",
];

/// Generic number marks next to an ID (`No.`, `Nr.`, `N°`, `#`).
pub const NUMBER_MARKS: &[&str] = &["no", "nr", "n°", "nº", "#", "number", "nummer", "numéro", "numero", "número", "num"];

/// Labels of other identifiers (customer, order, tax id, phone …).
pub const OTHER_ID_LABELS: &[&str] = &[
    "customer", "kunde", "kunden", "client", "cliente", "klant", "order", "bestell", "auftrag", "commande",
    "pedido", "ordine", "bestelling", "tax id", "vat id", "vat no", "ust-id", "ustid", "steuer", "st.-nr",
    "siret", "siren", "cif", "nif", "partita iva", "p.iva", "kvk", "gst", "reg", "co.", "company no", "tel",
    "phone", "fax", "telefon", "mobile", "iban", "bic", "swift", "blz", "konto", "account", "member", "cashier",
    "kasse", "table", "terminal", "pos", "mid", "tid", "batch", "trace", "approval", "auth", "card", "lot",
    "postcode", "zip", "plz", "page", "seite", "hrb", "amtsgericht", "registergericht", "contract", "vertrag",
    "delivery", "liefer", "lieferschein", "sku", "ean", "art", "artikel", "item", "barcode", "serial",
];

/// Labels that introduce the seller (issuer) block.
pub const SELLER_LABELS: &[&str] = &[
    "from", "seller", "vendor", "supplier", "merchant", "issued by", "bill from", "invoice from", "sold by",
    "verkäufer", "lieferant", "rechnungssteller", "absender", "vendeur", "fournisseur", "émetteur", "proveedor",
    "vendedor", "emisor", "fornitore", "venditore", "cedente", "leverancier", "verkoper", "company", "store",
];

/// Labels that introduce the buyer block: lines after them are not the vendor.
pub const BUYER_LABELS: &[&str] = &[
    "bill to", "billed to", "ship to", "sold to", "customer", "buyer", "invoice to", "to:", "kunde",
    "rechnungsempfänger", "empfänger", "lieferadresse", "client", "destinataire", "acheteur", "facturer à",
    "cliente", "comprador", "destinatario", "klant", "afnemer", "factuuradres",
];

/// Words that end organisation names (legal forms) or name a business.
pub const ORG_WORDS: &[&str] = &[
    "gmbh", "mbh", "ag", "kg", "ohg", "ug", "e.k", "ltd", "limited", "inc", "llc", "llp", "plc", "corp",
    "corporation", "company", "co.", "sdn", "bhd", "s/b", "sarl", "sas", "s.a.", "sa", "s.l.", "sl", "srl",
    "s.r.l.", "spa", "s.p.a.", "bv", "b.v.", "nv", "n.v.", "vof", "enterprise", "enterprises", "trading",
    "industries", "holding", "group", "services", "store", "stores", "mart", "market", "supermarket",
    "restaurant", "restoran", "cafe", "café", "bakery", "pharmacy", "farmasi", "hardware", "stationery",
    "versicherung", "bank", "hotel", "shop", "gesellschaft", "handel", "solutions", "systems", "technologies",
];

/// Words of address, contact and document furniture lines: not a name.
pub const NOT_NAME_WORDS: &[&str] = &[
    "invoice", "receipt", "rechnung", "facture", "factura", "fattura", "factuur", "tax", "tel", "fax", "phone",
    "gst", "vat", "date", "datum", "total", "cashier", "page", "seite", "www", "http", "@", "jalan", "jln",
    "street", "st.", "road", "rd", "avenue", "ave", "straße", "strasse", "str.", "rue", "via ", "calle", "laan",
    "weg", "taman", "lot", "no.", "postfach", "p.o.", "box", "suite", "floor", "bill to", "ship to", "customer",
    "kunde", "order", "copy", "original", "welcome", "thank", "dear", "hello", "hi ", "subject", "to:",
    "content-type", "charset", "content-transfer-encoding", "mime-version",
];

/// Whether `lower` (an ASCII-lower-cased line) holds `word` as a whole word
/// (no letter or digit right before or after), from `from` on.
pub fn find_word(lower: &str, word: &str, from: usize) -> Option<usize> {
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
pub fn last_label_end(lower: &str, words: &[&str], before: usize) -> Option<usize> {
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

/// Whether `lower` holds any of `words` as a whole word.
pub fn has_any(lower: &str, words: &[&str]) -> bool {
    words.iter().any(|w| find_word(lower, w, 0).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert_eq!(find_word("subtotal 12", "total", 0), None);
        assert_eq!(find_word("the total 12", "total", 0), Some(4));
        assert_eq!(find_word("n° 12", "n°", 0), Some(0));
        assert_eq!(last_label_end("total: 5 total 6", &["total"], 16), Some(14));
        assert!(has_any("rechnungsnummer: 4", NUMBER_LABELS));
        assert_eq!(last_label_end("total (including gst) 5", &["total (incl*"], 22), Some(16));
    }
}
