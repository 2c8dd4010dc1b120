//! `application/json`: the shapes a business system would export, with key
//! names, nesting and number encodings varying by style variant.

use super::{fmt_date, fmt_money, fmt_number, receipt_lines, DocFormat};
use crate::model::{Class, DocModel};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// A money value: a JSON number, a styled string, or a string with currency.
fn money(m: &DocModel, v: Decimal) -> Value {
    match m.style.variant {
        0 | 3 => json!(v.to_f64().unwrap_or(0.0)),
        1 => json!(fmt_number(v, m.style.number)),
        _ => json!(fmt_money(v, m)),
    }
}

fn person(p: &crate::model::Person) -> Value {
    json!({"name": p.name, "email": p.email})
}

/// JSON objects keep their key order here (serde_json's map would sort
/// them): objects are built as ordered pairs and written by [`write`].
const ORDERED: &str = "\u{1}ordered";

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    // An array whose first element is a marker: [ORDERED, [k, v], [k, v], …].
    let mut v = vec![json!(ORDERED)];
    v.extend(pairs.into_iter().map(|(k, val)| json!([k, val])));
    Value::Array(v)
}

fn write(v: &Value, pretty: bool, indent: usize, out: &mut String) {
    let nl = |out: &mut String, n: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(n));
        }
    };
    match v {
        Value::Array(a) if a.first() == Some(&json!(ORDERED)) => {
            out.push('{');
            for (i, pair) in a[1..].iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, indent + 1);
                out.push_str(&serde_json::to_string(&pair[0]).unwrap());
                out.push_str(if pretty { ": " } else { ":" });
                write(&pair[1], pretty, indent + 1, out);
            }
            nl(out, indent);
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, indent + 1);
                write(x, pretty, indent + 1, out);
            }
            nl(out, indent);
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap()),
    }
}

/// Renders `m` as JSON.
pub fn render(m: &DocModel) -> Vec<u8> {
    let date = if m.style.variant == 2 { fmt_date(m.date, m.style.date) } else { m.date.format("%Y-%m-%d").to_string() };
    let phone = m.phone.as_ref().map(|p| json!(p.0)).unwrap_or(Value::Null);
    let v = match m.class {
        Class::Invoice => {
            let items: Vec<Value> = m
                .items
                .iter()
                .map(|i| {
                    if m.style.variant == 1 {
                        obj(vec![("item", json!(i.description)), ("qty", json!(i.quantity.to_f64())), ("price", money(m, i.unit_price)), ("line_total", money(m, i.amount))])
                    } else {
                        obj(vec![("description", json!(i.description)), ("quantity", json!(i.quantity.to_f64())), ("unit_price", money(m, i.unit_price)), ("amount", money(m, i.amount))])
                    }
                })
                .collect();
            let iban = m.iban.as_ref().map(|i| json!(i)).unwrap_or(Value::Null);
            if m.style.variant == 1 {
                obj(vec![("invoice", obj(vec![
                    ("number", json!(m.number)),
                    ("date", json!(date)),
                    ("seller", obj(vec![("name", json!(m.vendor.name)), ("email", json!(m.vendor_email)), ("phone", phone), ("iban", iban)])),
                    ("buyer", obj(vec![("name", json!(m.customer))])),
                    ("currency_code", json!(m.vendor.currency)),
                    ("lines", Value::Array(items)),
                    ("totals", obj(with_charges(m, vec![("net", money(m, m.subtotal)), ("vat", money(m, m.tax)), ("grand_total", money(m, m.total))]))),
                ]))])
            } else {
                obj(with_charges(m, vec![
                    ("document_type", json!("invoice")),
                    ("invoice_number", json!(m.number)),
                    ("invoice_date", json!(date)),
                    ("due_date", json!(m.due_date.format("%Y-%m-%d").to_string())),
                    ("vendor", obj(vec![("name", json!(m.vendor.name)), ("email", json!(m.vendor_email)), ("phone", phone), ("iban", iban)])),
                    ("customer", obj(vec![("name", json!(m.customer))])),
                    ("currency", json!(m.vendor.currency)),
                    ("items", Value::Array(items)),
                    ("subtotal", money(m, m.subtotal)),
                    ("tax", money(m, m.tax)),
                    (if m.style.variant == 0 { "total" } else { "amount_due" }, money(m, m.total)),
                ]))
            }
        }
        Class::Receipt => {
            debug_assert_eq!(receipt_lines(m, DocFormat::Json), super::ReceiptLines::Table);
            let items: Vec<Value> = m
                .items
                .iter()
                .map(|i| obj(vec![("description", json!(i.description)), ("quantity", json!(i.quantity.to_f64())), ("unit_price", money(m, i.unit_price)), ("amount", money(m, i.amount))]))
                .collect();
            obj(vec![("receipt", obj(vec![
                ("store", json!(m.vendor.name)),
                ("phone", phone),
                ("receipt_no", json!(m.receipt_no)),
                ("date", json!(date)),
                ("items", Value::Array(items)),
                ("total", money(m, m.total)),
                ("currency", json!(m.vendor.currency)),
                ("payment", json!("card")),
            ]))])
        }
        Class::Email => {
            let mut body = String::new();
            let mut l = Vec::new();
            super::email_body_lines(m, &mut l);
            for cells in l {
                body.push_str(&cells.join(" "));
                body.push('\n');
            }
            obj(vec![
                ("from", person(&m.sender)),
                ("to", Value::Array(m.recipients.iter().map(person).collect())),
                ("cc", Value::Array(m.cc.iter().map(person).collect())),
                ("subject", json!(m.subject)),
                ("date", json!(if m.style.variant == 2 { date.clone() } else { format!("{}T09:30:00Z", m.date.format("%Y-%m-%d")) })),
                ("body", json!(body)),
            ])
        }
        Class::Contract => obj(vec![
            ("type", json!("contract")),
            ("title", json!(m.contract_title)),
            ("effective_date", json!(date)),
            ("provider", obj(vec![("name", json!(m.vendor.name)), ("notices_email", json!(m.vendor_email)), ("phone", phone)])),
            ("client", obj(vec![("name", json!(m.customer))])),
            ("fee", obj(vec![("amount", json!(fmt_number(m.fee, m.style.number))), ("currency", json!(m.vendor.currency)), ("period", json!("monthly"))])),
            ("clauses", Value::Array(m.clauses.iter().map(|c| json!(c)).collect())),
        ]),
    };
    let mut out = String::new();
    write(&v, m.style.messy, 0, &mut out);
    out.into_bytes()
}

/// `fields` with the discount and shipping (extended notations) inserted
/// before the tax, where a reader of the totals expects them.
fn with_charges(m: &DocModel, mut fields: Vec<(&'static str, Value)>) -> Vec<(&'static str, Value)> {
    let at = fields.iter().position(|(k, _)| *k == "vat" || *k == "tax").unwrap_or(fields.len());
    for (i, (k, v)) in crate::charges::amounts(m).into_iter().enumerate() {
        fields.insert(at + i, (k, money(m, v)));
    }
    fields
}
