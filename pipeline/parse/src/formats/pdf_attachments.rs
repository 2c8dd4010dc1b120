//! Files embedded in a PDF: a Factur-X / ZUGFeRD invoice carries its
//! e-invoice XML as an embedded file (`/EmbeddedFile` streams, referenced
//! from `/Filespec` dictionaries). Each candidate stream is inflated with
//! a hard output bound ([`MAX_EMBEDDED_XML_BYTES`]) and read by
//! [`super::einvoice`]; the first e-invoice found wins.

use super::einvoice::{self, EInvoice};
use lopdf::{Document, Object, ObjectId};
use std::io::Read;

/// Largest embedded XML inflated (e-invoice XMLs are tens of kilobytes).
pub const MAX_EMBEDDED_XML_BYTES: u64 = 8 * 1024 * 1024;

/// The embedded e-invoice of `doc`, if any. Broken or hostile attachments
/// are skipped (the visible text still gives fields); the error of the
/// last one tried is returned beside `None` for the warning.
pub fn embedded_einvoice(doc: &Document) -> (Option<EInvoice>, Option<String>) {
    let mut ids: Vec<ObjectId> = Vec::new();
    for (id, obj) in &doc.objects {
        match obj {
            Object::Stream(s) if is_name(s.dict.get(b"Type").ok(), b"EmbeddedFile") => ids.push(*id),
            Object::Dictionary(d) if is_name(d.get(b"Type").ok(), b"Filespec") => {
                if let Ok(Object::Dictionary(ef)) = d.get(b"EF") {
                    for key in [b"F".as_slice(), b"UF".as_slice()] {
                        if let Ok(Object::Reference(r)) = ef.get(key) {
                            ids.push(*r);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    ids.sort();
    ids.dedup();
    let mut last_error = None;
    for id in ids.into_iter().take(16) {
        let Ok(Object::Stream(s)) = doc.get_object(id) else { continue };
        let bytes = match inflate(s) {
            Ok(b) => b,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        if !einvoice::looks_like_einvoice(&bytes) {
            continue;
        }
        match einvoice::fields(&bytes) {
            Ok(Some(inv)) => return (Some(inv), None),
            Ok(None) => {}
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    (None, last_error)
}

fn is_name(o: Option<&Object>, want: &[u8]) -> bool {
    matches!(o, Some(Object::Name(n)) if n.as_slice() == want)
}

/// The stream's content, inflated when it is FlateDecode, at most
/// [`MAX_EMBEDDED_XML_BYTES`]; other filters are not read.
fn inflate(s: &lopdf::Stream) -> Result<Vec<u8>, String> {
    let filters: Vec<Vec<u8>> = match s.dict.get(b"Filter") {
        Ok(Object::Name(n)) => vec![n.clone()],
        Ok(Object::Array(a)) => a.iter().filter_map(|o| o.as_name().ok().map(<[u8]>::to_vec)).collect(),
        _ => Vec::new(),
    };
    match filters.as_slice() {
        [] => Ok(s.content.iter().copied().take(MAX_EMBEDDED_XML_BYTES as usize).collect()),
        [f] if f.as_slice() == b"FlateDecode" => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(s.content.as_slice())
                .take(MAX_EMBEDDED_XML_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("embedded file does not inflate: {e}"))?;
            if out.len() as u64 > MAX_EMBEDDED_XML_BYTES {
                return Err(format!("embedded file inflates beyond {MAX_EMBEDDED_XML_BYTES} bytes"));
            }
            Ok(out)
        }
        _ => Err("embedded file uses a filter other than FlateDecode".to_string()),
    }
}
