//! `application/json`: a documented mapping from JSON to labelled text.
//!
//! The mapping (stable; producers can rely on it):
//! - a scalar under key path `p` becomes the line `p: value` (nested object
//!   keys are joined with `.`, array elements get `[i]`); `null` is skipped;
//!   a multi-line string keeps its line breaks after the label;
//! - an array of scalars becomes one line `p: a, b, c`;
//! - an array of flat objects (a table, e.g. line items) becomes the line
//!   `p:` followed by a header row of the keys and one row per element, cells
//!   joined with ` | `, exactly like an HTML table;
//! - any other array is mapped element by element as `p[i]`.
//!
//! Object key order is preserved. Nesting deeper than
//! [`crate::ParseLimits::max_json_depth`] is rejected while parsing, before
//! the whole tree is built, so a hostile document cannot exhaust the stack.

use super::{normalize, Extracted};
use crate::error::ParseError;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A JSON value with object key order preserved.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    /// Numbers keep their textual form (no float rounding of money).
    Num(String),
    Str(String),
    Arr(Vec<JsonValue>),
    Obj(Vec<(String, JsonValue)>),
}

const DEPTH_MARKER: &str = "docflow: json depth limit exceeded";

/// Parses JSON bytes with a nesting limit.
pub fn parse_value(body: &[u8], max_depth: usize) -> Result<JsonValue, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = DepthSeed { left: max_depth }.deserialize(&mut de).map_err(|e| map_err(e, max_depth))?;
    de.end().map_err(|e| map_err(e, max_depth))?;
    Ok(v)
}

fn map_err(e: serde_json::Error, limit: usize) -> ParseError {
    let msg = e.to_string();
    // serde_json's own guard (128 levels) reports "recursion limit exceeded".
    if msg.contains(DEPTH_MARKER) || msg.contains("recursion limit exceeded") {
        ParseError::JsonTooDeep { limit }
    } else {
        ParseError::Json(msg)
    }
}

/// Parses a JSON body and renders it with the mapping above.
pub fn parse(body: &[u8], max_depth: usize) -> Result<Extracted, ParseError> {
    let v = parse_value(body, max_depth)?;
    let mut out = String::with_capacity(body.len());
    render(&v, "", &mut out);
    Ok(Extracted { text: normalize(&out), ..Default::default() })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn scalar(v: &JsonValue) -> Option<&str> {
    match v {
        JsonValue::Bool(true) => Some("true"),
        JsonValue::Bool(false) => Some("false"),
        JsonValue::Num(n) => Some(n),
        JsonValue::Str(s) => Some(s),
        _ => None,
    }
}

fn line(path: &str, value: &str, out: &mut String) {
    if path.is_empty() {
        out.push_str(value);
    } else {
        out.push_str(path);
        out.push_str(": ");
        out.push_str(value);
    }
    out.push('\n');
}

fn render(v: &JsonValue, path: &str, out: &mut String) {
    match v {
        JsonValue::Null => {}
        JsonValue::Obj(fields) => {
            for (k, val) in fields {
                render(val, &join(path, k), out);
            }
        }
        JsonValue::Arr(items) => render_array(items, path, out),
        other => line(path, scalar(other).unwrap_or_default(), out),
    }
}

fn render_array(items: &[JsonValue], path: &str, out: &mut String) {
    if items.is_empty() {
        return;
    }
    if items.iter().all(|i| scalar(i).is_some() || *i == JsonValue::Null) {
        let vals: Vec<&str> = items.iter().filter_map(scalar).collect();
        line(path, &vals.join(", "), out);
        return;
    }
    let flat = items.iter().all(|i| match i {
        JsonValue::Obj(f) => f.iter().all(|(_, v)| !matches!(v, JsonValue::Obj(_) | JsonValue::Arr(_))),
        _ => false,
    });
    if flat {
        let mut cols: Vec<&str> = Vec::new();
        for i in items {
            if let JsonValue::Obj(f) = i {
                for (k, _) in f {
                    if !cols.contains(&k.as_str()) {
                        cols.push(k);
                    }
                }
            }
        }
        out.push('\n');
        if !path.is_empty() {
            out.push_str(path);
            out.push_str(":\n");
        }
        out.push_str(&cols.join(" | "));
        out.push('\n');
        for i in items {
            if let JsonValue::Obj(f) = i {
                let cells: Vec<&str> = cols
                    .iter()
                    .map(|c| f.iter().find(|(k, _)| k == c).and_then(|(_, v)| scalar(v)).unwrap_or(""))
                    .collect();
                out.push_str(&cells.join(" | "));
                out.push('\n');
            }
        }
        out.push('\n');
        return;
    }
    for (n, i) in items.iter().enumerate() {
        render(i, &format!("{path}[{n}]"), out);
    }
}

/// Deserialises a [`JsonValue`], failing once nesting exceeds `left` levels.
struct DepthSeed {
    left: usize,
}

impl<'de> DeserializeSeed<'de> for DepthSeed {
    type Value = JsonValue;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<JsonValue, D::Error> {
        d.deserialize_any(self)
    }
}

impl DepthSeed {
    fn child<E: serde::de::Error>(&self) -> Result<DepthSeed, E> {
        if self.left == 0 {
            return Err(E::custom(DEPTH_MARKER));
        }
        Ok(DepthSeed { left: self.left - 1 })
    }
}

impl<'de> Visitor<'de> for DepthSeed {
    type Value = JsonValue;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<JsonValue, E> {
        Ok(JsonValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JsonValue, E> {
        Ok(JsonValue::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JsonValue, E> {
        Ok(JsonValue::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<JsonValue, E> {
        Ok(JsonValue::Num(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<JsonValue, E> {
        Ok(JsonValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<JsonValue, E> {
        Ok(JsonValue::Str(v))
    }
    fn visit_unit<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        let child = self.child()?;
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(DepthSeed { left: child.left })? {
            v.push(x);
        }
        Ok(JsonValue::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        let child = self.child()?;
        let mut v = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let val = map.next_value_seed(DepthSeed { left: child.left })?;
            v.push((k, val));
        }
        if v.len() > 1_000_000 {
            return Err(A::Error::custom("too many keys"));
        }
        Ok(JsonValue::Obj(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_labelled_lines_and_tables() {
        let body = br#"{"vendor":{"name":"Acme"},"invoice_number":"A-1","total":1234.5,"tags":["x","y"],
            "items":[{"description":"Pen","quantity":2,"amount":"3.00"},{"description":"Ink","amount":"1.00"}],
            "note":null}"#;
        let e = parse(body, 8).unwrap();
        assert_eq!(
            e.text,
            "vendor.name: Acme\ninvoice_number: A-1\ntotal: 1234.5\ntags: x, y\n\nitems:\ndescription | quantity | amount\nPen | 2 | 3.00\nInk |  | 1.00"
        );
    }

    #[test]
    fn depth_limit_is_typed() {
        assert_eq!(parse(b"[[[1]]]", 2).unwrap_err(), ParseError::JsonTooDeep { limit: 2 });
        assert!(parse(b"[[[1]]]", 3).is_ok());
        let deep = "[".repeat(100_000);
        assert_eq!(parse(deep.as_bytes(), 64).unwrap_err().kind(), "json_too_deep");
        assert_eq!(parse(b"{\"a\":", 64).unwrap_err().kind(), "invalid_json");
    }
}
