//! Hostile documents, built on the spot, for the tests that hold docflow to
//! its limits: PDF decompression bombs (one Flate layer that inflates to
//! 1 GiB from about 1 MiB, the same in a second layer from a few KB), a
//! PDF padded to any size, deep nesting, an e-mail of many parts, deeply
//! nested HTML.

use std::io::Write;
use std::sync::OnceLock;

/// 1 GiB.
pub const GIB: usize = 1 << 30;

/// A zlib stream of 1 GiB of zeros (about 1 MiB), written without
/// compressing 1 GiB: one full-flushed deflate chunk of 1 MiB of zeros (a
/// full flush resets the window, so the chunk can be repeated) 1024 times,
/// an empty final block and the Adler-32 of 1 GiB of zeros (a = 1,
/// b = n mod 65521).
pub fn one_gib_of_zeros_zlib() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let mut chunk = Vec::with_capacity(8 << 10);
        c.compress_vec(&vec![0u8; 1 << 20], &mut chunk, flate2::FlushCompress::Full).expect("deflate");
        assert_eq!(c.total_in(), 1 << 20, "the chunk buffer was too small");
        let mut out = vec![0x78, 0xda];
        for _ in 0..GIB / (1 << 20) {
            out.extend_from_slice(&chunk);
        }
        out.extend_from_slice(&[0x03, 0x00]); // final fixed-Huffman block, end of block only
        let adler = (((GIB % 65521) as u32) << 16) | 1;
        out.extend_from_slice(&adler.to_be_bytes());
        out
    })
}

/// zlib (Flate) of `data`.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("in-memory write");
    e.finish().expect("in-memory write")
}

/// A one-page PDF (Helvetica) whose content stream is `data` under `filter`
/// (a PDF filter value such as `/FlateDecode` or `[/FlateDecode /FlateDecode]`),
/// plus `extra` objects appended as objects 5, 6, …
pub fn pdf_with_content(filter: &str, data: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> /Contents 4 0 R >>".to_vec(),
    ];
    let filter = if filter.is_empty() { String::new() } else { format!(" /Filter {filter}") };
    objects.push([format!("<< /Length {}{filter} >>\nstream\n", data.len()).into_bytes(), data.to_vec(), b"\nendstream".to_vec()].concat());
    objects.extend(extra.iter().cloned());
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

/// A PDF whose single page inflates to 1 GiB of zeros through one Flate layer (about 1 MiB).
pub fn flate_bomb_pdf() -> Vec<u8> {
    pdf_with_content("/FlateDecode", one_gib_of_zeros_zlib(), &[])
}

/// The same 1 GiB behind two Flate layers (a few KB).
pub fn double_flate_bomb_pdf() -> Vec<u8> {
    pdf_with_content("[/FlateDecode /FlateDecode]", &zlib(one_gib_of_zeros_zlib()), &[])
}

/// A genuine one-page text PDF saying `text`, padded to about `size` bytes
/// with an image XObject of incompressible (JPEG-filtered) bytes, as a
/// scanned attachment would pad it. The text extractor never decodes it.
pub fn padded_text_pdf(text: &str, size: usize, seed: u64) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 40 700 Td ({text}) Tj ET");
    let blob = incompressible_bytes(size.saturating_sub(1024), seed);
    let image = [
        format!("<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n", blob.len()).into_bytes(),
        blob,
        b"\nendstream".to_vec(),
    ]
    .concat();
    pdf_with_content("", content.as_bytes(), &[image])
}

/// `n` bytes that no compressor shrinks (xorshift64 from `seed`).
pub fn incompressible_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// `depth` nested JSON arrays around `1`.
pub fn deep_json_array(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` nested MessagePack one-element arrays around `1`.
pub fn deep_msgpack_array(depth: usize) -> Vec<u8> {
    let mut v = vec![0x91; depth];
    v.push(0x01);
    v
}

/// An RFC 822 message with `parts` small text/plain parts.
pub fn many_part_email(parts: usize) -> Vec<u8> {
    let mut out = String::from("From: a@example.com\r\nTo: b@example.com\r\nSubject: Invoice INV-2000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n");
    for i in 0..parts {
        out.push_str(&format!("--XX\r\nContent-Type: text/plain\r\n\r\nPart {i}: Total 1.00 EUR\r\n"));
    }
    out.push_str("--XX--\r\n");
    out.into_bytes()
}

/// `depth` nested `<div>` elements around a line of text.
pub fn deep_html(depth: usize) -> Vec<u8> {
    let mut out = String::with_capacity(depth * 11 + 64);
    out.push_str("<html><body>");
    for _ in 0..depth {
        out.push_str("<div>");
    }
    out.push_str("Invoice INV-9 Total 9.00 EUR");
    for _ in 0..depth {
        out.push_str("</div>");
    }
    out.push_str("</body></html>");
    out.into_bytes()
}

/// A genuine one-page PDF that is slow to extract: `words` separately
/// positioned words (a `Tm` and a `Tj` each), which the text extractor walks
/// one by one. About 1 ms of parsing per 100 words on a laptop core.
pub fn slow_text_pdf(words: usize) -> Vec<u8> {
    let mut content = String::from("BT /F1 6 Tf");
    for i in 0..words {
        content.push_str(&format!(" 1 0 0 1 {} {} Tm (w{}) Tj", 20 + (i % 80) * 7, 780 - (i / 80) % 120 * 6, i % 97));
    }
    content.push_str(" ET");
    pdf_with_content("", content.as_bytes(), &[])
}
