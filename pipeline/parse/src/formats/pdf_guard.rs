//! Bounded stream decoding for PDFs: a decompression bomb is refused
//! *while* it inflates, before lopdf or pdf-extract inflate anything.
//!
//! lopdf decodes a stream's filters (`FlateDecode`, `LZWDecode`,
//! `ASCII85Decode`) into memory with no bound: object and xref streams while
//! it loads the file, content, font and colour-space streams when
//! pdf-extract asks. A 2 KB PDF with two Flate layers can expand to a GiB.
//! So before the PDF crates see a document, [`check_raw`] walks every
//! `stream … endstream` in the file and decodes it *streaming*, through the
//! same filter chain lopdf would apply, into a counting sink: nothing is
//! kept, memory is a few small buffers per layer, and decoding stops at the
//! first byte over [`ParseLimits::max_inflated_bytes`] (per stream, and in
//! total over the streams that are not images, which the text extractor
//! never decodes) or at the parse deadline. [`check_document`] does the same
//! on a loaded document whose streams were encrypted in the file (the raw
//! bytes could not be decoded there).
//!
//! The limits are conservative on purpose: every layer's output counts
//! (lopdf holds each one in memory), and a stream whose dictionary cannot be
//! read but whose data looks like zlib is inflated anyway.

use crate::error::ParseError;
use crate::limits::ParseLimits;
use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

/// Refuses `body` if any stream inflates past the limits or the deadline.
/// Cost: one streaming decode of every filtered stream (memory: O(1)).
pub fn check_raw(body: &[u8], limits: &ParseLimits) -> Result<(), ParseError> {
    let mut budget = Budget::new(limits);
    let mut from = 0usize;
    let mut window_start = 0usize;
    while let Some(at) = find(&body[from..], b"stream").map(|i| from + i) {
        from = at + 6;
        if at >= 3 && &body[at - 3..at] == b"end" {
            window_start = from;
            continue;
        }
        let data_start = match body.get(at + 6..at + 8) {
            Some([b'\r', b'\n', ..]) => at + 8,
            Some([b'\n' | b'\r', ..]) => at + 7,
            _ => continue,
        };
        let data_end = find(&body[data_start..], b"endstream").map_or(body.len(), |i| data_start + i);
        let dict = dict_before(body, window_start.max(at.saturating_sub(64 << 10)), at);
        let (filters, image) = match dict {
            Some(d) => (top_level_filters(d), is_image(d)),
            None => (Vec::new(), false),
        };
        let mut filters: Vec<&[u8]> = filters.iter().map(Vec::as_slice).collect();
        // Unreadable dictionary but zlib-looking data: inflate it anyway.
        if filters.is_empty() && looks_like_zlib(&body[data_start..data_end]) {
            filters.push(b"FlateDecode");
        }
        budget.decode(&body[data_start..data_end], &filters, image)?;
        from = data_end;
        window_start = data_end;
    }
    Ok(())
}

/// [`check_raw`] for a loaded (decrypted) document: every stream through the
/// filters lopdf itself reads from its dictionary.
pub fn check_document(doc: &lopdf::Document, limits: &ParseLimits) -> Result<(), ParseError> {
    let mut budget = Budget::new(limits);
    for object in doc.objects.values() {
        if let lopdf::Object::Stream(stream) = object {
            let filters = stream.filters().unwrap_or_default();
            let image = stream.dict.get(b"Subtype").and_then(lopdf::Object::as_name).is_ok_and(|n| n == b"Image");
            budget.decode(&stream.content, &filters, image)?;
        }
    }
    Ok(())
}

/// What is left of the document's inflation allowance.
struct Budget {
    per_stream: u64,
    total_left: u64,
    limit: usize,
    deadline: Instant,
    deadline_ms: u64,
}

impl Budget {
    fn new(limits: &ParseLimits) -> Self {
        Self {
            per_stream: limits.max_inflated_bytes as u64,
            total_left: limits.max_inflated_bytes as u64,
            limit: limits.max_inflated_bytes,
            deadline: Instant::now() + Duration::from_millis(limits.deadline_ms),
            deadline_ms: limits.deadline_ms,
        }
    }

    /// Decodes `data` through `filters` (in decoding order, as far as lopdf
    /// would go: it stops at the first filter it does not implement) and
    /// counts every layer's output.
    fn decode(&mut self, data: &[u8], filters: &[&[u8]], image: bool) -> Result<(), ParseError> {
        let chain: Vec<Layer> = filters.iter().map_while(|f| Layer::of(f)).collect();
        if chain.is_empty() || data.is_empty() {
            return Ok(());
        }
        let counters: Vec<std::rc::Rc<std::cell::Cell<u64>>> = chain.iter().map(|_| Default::default()).collect();
        let mut reader: Box<dyn Read + '_> = Box::new(data);
        for (layer, counter) in chain.iter().zip(&counters) {
            let decoded: Box<dyn Read + '_> = match layer {
                Layer::Flate => Box::new(flate2::read::ZlibDecoder::new(reader)),
                Layer::Lzw => Box::new(LzwReader::new(reader)),
                Layer::Ascii85 => Box::new(Ascii85Reader::new(reader)),
            };
            reader = Box::new(Counting { inner: decoded, count: counter.clone() });
        }
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                // lopdf keeps what inflated before an error; so does the count.
                Err(_) => break,
            }
            let (largest, sum) = counters.iter().fold((0u64, 0u64), |(m, s), c| (m.max(c.get()), s + c.get()));
            if largest > self.per_stream || (!image && sum > self.total_left) {
                return Err(ParseError::DecompressionBomb { limit: self.limit });
            }
            if Instant::now() > self.deadline {
                return Err(ParseError::Deadline { ms: self.deadline_ms });
            }
        }
        if !image {
            let sum: u64 = counters.iter().map(|c| c.get()).sum();
            self.total_left = self.total_left.saturating_sub(sum);
        }
        Ok(())
    }
}

/// The filters lopdf decodes (`Stream::decompressed_content`).
enum Layer {
    Flate,
    Lzw,
    Ascii85,
}

impl Layer {
    fn of(name: &[u8]) -> Option<Layer> {
        match name {
            b"FlateDecode" => Some(Layer::Flate),
            b"LZWDecode" => Some(Layer::Lzw),
            b"ASCII85Decode" => Some(Layer::Ascii85),
            _ => None,
        }
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Streaming LZW (PDF: MSB first, early change as lopdf's default).
struct LzwReader<R> {
    inner: BufReader<R>,
    decoder: weezl::decode::Decoder,
    done: bool,
}

impl<R: Read> LzwReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner: BufReader::with_capacity(16 << 10, inner),
            decoder: weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8),
            done: false,
        }
    }
}

impl<R: Read> Read for LzwReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while !self.done && !buf.is_empty() {
            let input = self.inner.fill_buf()?;
            if input.is_empty() {
                break;
            }
            let r = self.decoder.decode_bytes(input, buf);
            self.inner.consume(r.consumed_in);
            // The end code, an error, or no progress: the data ends (lopdf stops too).
            self.done = matches!(r.status, Ok(weezl::LzwStatus::Done) | Err(_)) || (r.consumed_in == 0 && r.consumed_out == 0);
            if r.consumed_out > 0 {
                return Ok(r.consumed_out);
            }
        }
        self.done = true;
        Ok(0)
    }
}

/// Streaming ASCII85 (as lopdf decodes it: `z` is four zeros, whitespace
/// skipped, anything outside `!`..=`u` ends the data).
struct Ascii85Reader<R> {
    inner: BufReader<R>,
    group: u32,
    count: usize,
    pending: Vec<u8>,
    done: bool,
}

impl<R: Read> Ascii85Reader<R> {
    fn new(inner: R) -> Self {
        Self { inner: BufReader::with_capacity(16 << 10, inner), group: 0, count: 0, pending: Vec::new(), done: false }
    }
}

impl<R: Read> Read for Ascii85Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.len() < buf.len() && !self.done {
            let input = self.inner.fill_buf()?;
            if input.is_empty() {
                self.done = true;
                break;
            }
            let mut used = 0;
            for &c in input {
                if self.pending.len() >= buf.len() || self.done {
                    break;
                }
                used += 1;
                match c {
                    b'z' if self.count == 0 => self.pending.extend_from_slice(&[0; 4]),
                    c if c.is_ascii_whitespace() => {}
                    b'!'..=b'u' => {
                        self.group = self.group.wrapping_mul(85).wrapping_add(u32::from(c - b'!'));
                        self.count += 1;
                        if self.count == 5 {
                            self.pending.extend_from_slice(&self.group.to_be_bytes());
                            self.group = 0;
                            self.count = 0;
                        }
                    }
                    _ => self.done = true,
                }
            }
            self.inner.consume(used);
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// A zlib header: deflate method, a window of at most 32 KiB, valid check bits.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// The dictionary (`<< … >>`) that ends right before the `stream` keyword
/// at `at`, looked for no further back than `floor`.
fn dict_before(body: &[u8], floor: usize, at: usize) -> Option<&[u8]> {
    let mut end = at;
    while end > floor && body[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end < floor + 2 || &body[end - 2..end] != b">>" {
        return None;
    }
    let mut depth = 0i32;
    let mut i = end;
    while i >= floor + 2 {
        match &body[i - 2..i] {
            b">>" => {
                depth += 1;
                i -= 2;
            }
            b"<<" => {
                depth -= 1;
                i -= 2;
                if depth == 0 {
                    return Some(&body[i..end]);
                }
            }
            _ => i -= 1,
        }
    }
    None
}

/// PDF tokens of a dictionary, enough to read its top-level keys.
#[derive(Debug, PartialEq)]
enum Token {
    Name(Vec<u8>),
    /// A number, `R`, `true`, … (anything bare).
    Word(Vec<u8>),
    /// A literal or hex string.
    Str,
    DictOpen,
    DictClose,
    ArrayOpen,
    ArrayClose,
}

fn tokens(d: &[u8]) -> Vec<Token> {
    let delim = |c: u8| c.is_ascii_whitespace() || b"()<>[]{}/%".contains(&c);
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        match d[i] {
            c if c.is_ascii_whitespace() => i += 1,
            b'%' => {
                while i < d.len() && d[i] != b'\n' && d[i] != b'\r' {
                    i += 1;
                }
            }
            b'<' if d.get(i + 1) == Some(&b'<') => {
                out.push(Token::DictOpen);
                i += 2;
            }
            b'>' if d.get(i + 1) == Some(&b'>') => {
                out.push(Token::DictClose);
                i += 2;
            }
            b'<' => {
                while i < d.len() && d[i] != b'>' {
                    i += 1;
                }
                i += 1;
                out.push(Token::Str);
            }
            b'(' => {
                let mut depth = 0;
                while i < d.len() {
                    match d[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Str);
            }
            b'[' => {
                out.push(Token::ArrayOpen);
                i += 1;
            }
            b']' => {
                out.push(Token::ArrayClose);
                i += 1;
            }
            b'/' => {
                i += 1;
                let mut name = Vec::new();
                while i < d.len() && !delim(d[i]) {
                    // `#xx` escapes, as lopdf reads them.
                    if d[i] == b'#' && i + 2 < d.len() {
                        if let (Some(h), Some(l)) = (hex(d[i + 1]), hex(d[i + 2])) {
                            name.push((h * 16 + l) as u8);
                            i += 3;
                            continue;
                        }
                    }
                    name.push(d[i]);
                    i += 1;
                }
                out.push(Token::Name(name));
            }
            _ => {
                let start = i;
                while i < d.len() && !delim(d[i]) {
                    i += 1;
                }
                if i == start {
                    i += 1; // a stray delimiter such as `)` or `{`
                }
                out.push(Token::Word(d[start..i].to_vec()));
            }
        }
    }
    out
}

/// How many tokens the object starting at `toks[i]` takes.
fn object_len(toks: &[Token], i: usize) -> usize {
    match toks.get(i) {
        Some(Token::DictOpen | Token::ArrayOpen) => {
            let mut depth = 0i32;
            for (n, t) in toks[i..].iter().enumerate() {
                match t {
                    Token::DictOpen | Token::ArrayOpen => depth += 1,
                    Token::DictClose | Token::ArrayClose => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    return n + 1;
                }
            }
            toks.len() - i
        }
        // `12 0 R`: an indirect reference.
        Some(Token::Word(_)) if matches!(toks.get(i + 2), Some(Token::Word(r)) if r == b"R") => 3,
        Some(_) => 1,
        None => 0,
    }
}

/// The value of the top-level `key` of the dictionary whose tokens are
/// `toks` (the last occurrence, as in lopdf's dictionary).
fn top_level<'t>(toks: &'t [Token], key: &[u8]) -> Option<&'t [Token]> {
    if toks.first() != Some(&Token::DictOpen) {
        return None;
    }
    let mut found = None;
    let mut i = 1;
    while let Some(Token::Name(k)) = toks.get(i) {
        let n = object_len(toks, i + 1);
        if k == key {
            found = Some(&toks[i + 1..i + 1 + n]);
        }
        i += 1 + n.max(1);
    }
    found
}

fn top_level_filters(dict: &[u8]) -> Vec<Vec<u8>> {
    let toks = tokens(dict);
    match top_level(&toks, b"Filter") {
        Some([Token::Name(n)]) => vec![n.clone()],
        Some([Token::ArrayOpen, rest @ ..]) => {
            rest.iter().map_while(|t| if let Token::Name(n) = t { Some(n.clone()) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

fn is_image(dict: &[u8]) -> bool {
    let toks = tokens(dict);
    matches!(top_level(&toks, b"Subtype"), Some([Token::Name(n)]) if n == b"Image")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn pdf_with_stream(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n1 0 obj\n".to_vec();
        out.extend_from_slice(dict.as_bytes());
        out.extend_from_slice(b"\nstream\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        out
    }

    fn limits(max: usize) -> ParseLimits {
        ParseLimits { max_inflated_bytes: max, ..ParseLimits::default() }
    }

    #[test]
    fn filters_are_read_from_the_top_level_only() {
        assert_eq!(top_level_filters(b"<< /Length 5 /Filter /FlateDecode >>"), vec![b"FlateDecode".to_vec()]);
        assert_eq!(
            top_level_filters(b"<</Filter[/ASCII85Decode/Fl#61teDecode]/DecodeParms<</Filter/LZWDecode>>>>"),
            vec![b"ASCII85Decode".to_vec(), b"FlateDecode".to_vec()]
        );
        assert_eq!(top_level_filters(b"<< /DecodeParms << /Filter /LZWDecode >> /X (a>>b) >>"), Vec::<Vec<u8>>::new());
        assert!(is_image(b"<< /Type /XObject /Subtype /Image /Filter /DCTDecode >>"));
        assert!(!is_image(b"<< /Resources << /Subtype /Image >> >>"));
    }

    #[test]
    fn two_flate_layers_are_counted_while_inflating() {
        let inner = zlib(&vec![0u8; 8 << 20]);
        let outer = zlib(&inner);
        let pdf = pdf_with_stream("<< /Length 1 /Filter [/FlateDecode /FlateDecode] >>", &outer);
        assert_eq!(check_raw(&pdf, &limits(1 << 20)), Err(ParseError::DecompressionBomb { limit: 1 << 20 }));
        assert_eq!(check_raw(&pdf, &limits(16 << 20)), Ok(()));
    }

    #[test]
    fn the_total_over_streams_is_bounded_but_images_only_per_stream() {
        let one = zlib(&vec![b'a'; 600 << 10]);
        let mut pdf = pdf_with_stream("<< /Filter /FlateDecode >>", &one);
        pdf.extend(pdf_with_stream("<< /Filter /FlateDecode >>", &one));
        assert!(matches!(check_raw(&pdf, &limits(1 << 20)), Err(ParseError::DecompressionBomb { .. })));
        let mut with_images = pdf_with_stream("<< /Filter /FlateDecode /Subtype /Image >>", &one);
        with_images.extend(pdf_with_stream("<< /Filter /FlateDecode >>", &one));
        assert_eq!(check_raw(&with_images, &limits(1 << 20)), Ok(()));
    }

    #[test]
    fn an_unreadable_dictionary_does_not_hide_zlib_data() {
        let pdf = pdf_with_stream("<< /Filter 7 0 R ", &zlib(&vec![0u8; 2 << 20]));
        assert!(matches!(check_raw(&pdf, &limits(1 << 20)), Err(ParseError::DecompressionBomb { .. })));
    }

    #[test]
    fn lzw_and_ascii85_layers_are_decoded_too() {
        let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(&vec![b'x'; 2 << 20]).unwrap();
        let pdf = pdf_with_stream("<< /Filter /LZWDecode >>", &lzw);
        assert!(matches!(check_raw(&pdf, &limits(1 << 20)), Err(ParseError::DecompressionBomb { .. })));
        assert_eq!(check_raw(&pdf, &limits(4 << 20)), Ok(()));
        let a85 = "z".repeat(300_000) + "~>";
        let pdf = pdf_with_stream("<< /Filter /ASCII85Decode >>", a85.as_bytes());
        assert!(matches!(check_raw(&pdf, &limits(1 << 20)), Err(ParseError::DecompressionBomb { .. })));
        let mut out = Vec::new();
        Ascii85Reader::new(&b"9jqo^BlbD-BleB1DJ+*+F(f,q~>"[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"Man is distinguished"); // (a final partial group, at most 3 bytes, is not counted)
    }

    #[test]
    fn the_deadline_stops_inflation() {
        let pdf = pdf_with_stream("<< /Filter /FlateDecode >>", &zlib(&vec![0u8; 64 << 20]));
        let l = ParseLimits { max_inflated_bytes: usize::MAX / 2, deadline_ms: 0, ..ParseLimits::default() };
        assert_eq!(check_raw(&pdf, &l), Err(ParseError::Deadline { ms: 0 }));
    }
}
