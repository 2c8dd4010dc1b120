//! [`RawDocument`]'s serde, written by hand for one reason: JSON producers send
//! the body as text.
//!
//! - Serialising to a binary format (MessagePack): `body` as `bin`, fields and
//!   order exactly as a derive would give (`content_type` and an empty
//!   `metadata` are omitted).
//! - Serialising to a human-readable format (JSON): `body` as a string when it
//!   is UTF-8, otherwise `body_base64` (standard alphabet, padded).
//! - Deserialising (any format): exactly one of `body` (bytes, a string, or an
//!   array of byte values) or `body_base64` (standard alphabet, padding
//!   optional); unknown fields are ignored (additive schema changes).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::RawDocument;

/// Standard alphabet; decoding accepts padded and unpadded input.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

impl Serialize for RawDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let human = s.is_human_readable();
        let fields =
            3 + usize::from(self.content_type.is_some()) + usize::from(!self.metadata.is_empty());
        let mut st = s.serialize_struct("RawDocument", fields)?;
        st.serialize_field("id", &self.id)?;
        match &self.content_type {
            Some(ct) => st.serialize_field("content_type", ct)?,
            None => st.skip_field("content_type")?,
        }
        match (human, std::str::from_utf8(&self.body)) {
            (false, _) => st.serialize_field("body", serde_bytes::Bytes::new(&self.body))?,
            (true, Ok(text)) => st.serialize_field("body", text)?,
            (true, Err(_)) => st.serialize_field("body_base64", &BASE64.encode(&self.body))?,
        }
        if self.metadata.is_empty() {
            st.skip_field("metadata")?;
        } else {
            st.serialize_field("metadata", &self.metadata)?;
        }
        st.serialize_field("created_at_ms", &self.created_at_ms)?;
        st.end()
    }
}

/// What is on the wire; turned into a [`RawDocument`] by `TryFrom`.
#[derive(Deserialize)]
pub struct RawDocumentWire {
    id: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    created_at_ms: i64,
}

impl TryFrom<RawDocumentWire> for RawDocument {
    type Error = String;

    fn try_from(w: RawDocumentWire) -> Result<Self, String> {
        let body = match (w.body, w.body_base64) {
            (Some(Body(bytes)), None) => bytes,
            (None, Some(b64)) => BASE64
                .decode(b64.trim())
                .map_err(|e| format!("field `body_base64` is not valid base64: {e}"))?,
            (Some(_), Some(_)) => {
                return Err("both `body` and `body_base64` are set; send exactly one".into())
            }
            (None, None) => return Err("missing field `body` (or `body_base64`)".into()),
        };
        Ok(RawDocument {
            id: w.id,
            content_type: w.content_type,
            body,
            metadata: w.metadata,
            created_at_ms: w.created_at_ms,
        })
    }
}

/// A body given as bytes, a string, or a sequence of byte values.
struct Body(Vec<u8>);

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the document body as bytes, a UTF-8 string, or an array of byte values")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Body, E> {
        Ok(Body(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Body, E> {
        Ok(Body(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Body, E> {
        Ok(Body(v.as_bytes().to_vec()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Body, E> {
        Ok(Body(v.into_bytes()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
        // Never trust a size hint for the allocation (cap as serde's own
        // `cautious` helper does).
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(Body(out))
    }
}
