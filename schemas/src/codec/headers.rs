//! Kafka headers → [`Codec`], and the `docflow-schema` version check.

use super::{Codec, CodecError, HEADER_CODEC, HEADER_CONTENT_TYPE, HEADER_SCHEMA};
use crate::SCHEMA_VERSION;

/// The `docflow-schema` header value of this build, e.g. `docflow.v1`.
pub fn schema_header_value() -> String {
    format!("docflow.v{SCHEMA_VERSION}")
}

/// Decide the codec from Kafka headers: the `docflow-codec` header, else a JSON
/// `content-type` (`application/json` or `…+json`, parameters ignored), else
/// MessagePack. When a `docflow-schema` header is present its major version
/// must be this build's ([`SCHEMA_VERSION`]); `docflow.v1` and `docflow.v1.7`
/// both read as major 1.
///
/// Header names match ASCII case-insensitively; when a header repeats, the
/// last one wins (Kafka's `lastHeader` convention). A `content-type` header
/// with a null value is ignored; a null `docflow-codec` or `docflow-schema`
/// is an error (the producer meant to say something and said nothing).
pub fn codec_from_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Result<Codec, CodecError> {
    let mut codec = None;
    let mut schema = None;
    let mut content_type = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(HEADER_CODEC) {
            codec = Some(value);
        } else if name.eq_ignore_ascii_case(HEADER_SCHEMA) {
            schema = Some(value);
        } else if name.eq_ignore_ascii_case(HEADER_CONTENT_TYPE) {
            content_type = value;
        }
    }
    if let Some(value) = schema {
        check_schema(&text(value))?;
    }
    if let Some(value) = codec {
        let v = text(value);
        return Codec::from_header(&v).ok_or(CodecError::UnsupportedCodec(v));
    }
    if content_type.is_some_and(is_json_media_type) {
        return Ok(Codec::Json);
    }
    Ok(Codec::MsgPack)
}

/// A header value as text for parsing and error messages (lossy: invalid
/// UTF-8 can only fail the comparisons anyway).
fn text(value: Option<&[u8]>) -> String {
    match value {
        Some(v) => String::from_utf8_lossy(v).into_owned(),
        None => "<null>".to_string(),
    }
}

fn check_schema(v: &str) -> Result<(), CodecError> {
    let unsupported = || CodecError::UnsupportedSchemaVersion(v.to_string());
    let rest = v.trim().strip_prefix("docflow.v").ok_or_else(unsupported)?;
    let (major, minor) = match rest.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (rest, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(major) || minor.is_some_and(|m| !all_digits(m)) {
        return Err(unsupported());
    }
    match major.parse::<u16>() {
        Ok(m) if m == SCHEMA_VERSION => Ok(()),
        _ => Err(unsupported()),
    }
}

fn is_json_media_type(value: &[u8]) -> bool {
    let Ok(v) = std::str::from_utf8(value) else {
        return false;
    };
    let media = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs<'a>(list: &'a [(&'a str, Option<&'a str>)]) -> Result<Codec, CodecError> {
        codec_from_headers(list.iter().map(|(k, v)| (*k, v.map(str::as_bytes))))
    }

    #[test]
    fn codec_header_wins_over_content_type() {
        let h = [
            ("content-type", Some("application/json")),
            ("docflow-codec", Some("msgpack+lz4")),
        ];
        assert_eq!(hdrs(&h).unwrap(), Codec::MsgPackLz4);
    }

    #[test]
    fn content_type_json_variants() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.docflow+json",
        ] {
            assert_eq!(
                hdrs(&[("Content-Type", Some(ct))]).unwrap(),
                Codec::Json,
                "{ct}"
            );
        }
        for ct in ["text/plain", "application/msgpack", "application/jsonx", ""] {
            assert_eq!(
                hdrs(&[("content-type", Some(ct))]).unwrap(),
                Codec::MsgPack,
                "{ct}"
            );
        }
        assert_eq!(hdrs(&[("content-type", None)]).unwrap(), Codec::MsgPack);
    }

    #[test]
    fn no_headers_means_msgpack() {
        assert_eq!(hdrs(&[]).unwrap(), Codec::MsgPack);
        assert_eq!(
            hdrs(&[("traceparent", Some("00-abc-def-01"))]).unwrap(),
            Codec::MsgPack
        );
    }

    #[test]
    fn unknown_or_null_codec_is_an_error() {
        let e = hdrs(&[("docflow-codec", Some("zstd"))]).unwrap_err();
        assert_eq!(e.kind(), "unsupported_codec");
        let e = hdrs(&[("docflow-codec", None)]).unwrap_err();
        assert_eq!(e.kind(), "unsupported_codec");
    }

    #[test]
    fn last_repeated_header_wins() {
        let h = [
            ("docflow-codec", Some("zstd")),
            ("docflow-codec", Some("json")),
        ];
        assert_eq!(hdrs(&h).unwrap(), Codec::Json);
    }

    #[test]
    fn schema_versions() {
        let ok = schema_header_value();
        assert_eq!(ok, "docflow.v1");
        for v in [ok.as_str(), "docflow.v1.0", "docflow.v1.12", " docflow.v1 "] {
            assert!(hdrs(&[("docflow-schema", Some(v))]).is_ok(), "{v}");
        }
        for v in [
            "docflow.v2",
            "docflow.v0",
            "docflow.v",
            "docflow.v1.",
            "docflow.v1.x",
            "v1",
            "docflow.v01x",
            "docflow.v99999999",
        ] {
            let e = hdrs(&[
                ("docflow-schema", Some(v)),
                ("docflow-codec", Some("msgpack")),
            ])
            .unwrap_err();
            assert_eq!(e.kind(), "unsupported_schema_version", "{v}");
        }
        let e = hdrs(&[("docflow-schema", None)]).unwrap_err();
        assert_eq!(e.kind(), "unsupported_schema_version");
    }

    #[test]
    fn codec_header_values_round_trip() {
        for c in [Codec::MsgPack, Codec::MsgPackLz4, Codec::Json] {
            assert_eq!(Codec::from_header(c.header_value()), Some(c));
            assert_eq!(
                Codec::from_header(&c.header_value().to_uppercase()),
                Some(c)
            );
        }
        assert_eq!(Codec::from_header("lz4"), None);
    }

    #[test]
    fn invalid_utf8_header_values() {
        let bad: &[u8] = &[0xff, 0xfe];
        let e = codec_from_headers([("docflow-codec", Some(bad))]).unwrap_err();
        assert_eq!(e.kind(), "unsupported_codec");
        assert_eq!(
            codec_from_headers([("content-type", Some(bad))]).unwrap(),
            Codec::MsgPack
        );
    }
}
