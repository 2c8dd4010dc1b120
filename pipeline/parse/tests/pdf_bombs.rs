//! PDF decompression bombs: refused as `decompression_bomb` while inflating,
//! with the process's peak memory barely moving. The bombs are built here:
//! a single Flate layer that inflates to 1 GiB (about 1 MiB on disk) and the
//! same wrapped in a second Flate layer (a few KB, like the 2.4 KB PDF that
//! took a stage past 4.5 GB before the guard existed).
//!
//! Own test binary (own process), so the peak-RSS readings see only these tests.

use docflow_core::{ErrorDomain, StageError};
use docflow_parse::{parse_document, parse_document_with_deadline, ParseError, ParseLimits};
use docflow_schemas::RawDocument;
use docflow_corpus::hostile::{double_flate_bomb_pdf, flate_bomb_pdf, one_gib_of_zeros_zlib, pdf_with_content, zlib};
use std::sync::Mutex;

fn raw(body: Vec<u8>) -> RawDocument {
    RawDocument { id: "bomb".into(), content_type: Some("application/pdf".into()), body, metadata: Default::default(), created_at_ms: 0 }
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `f` and returns how far the peak RSS rose above the RSS before it
/// (MiB); `None` where /proc cannot tell (not Linux).
fn peak_rise_mib(f: impl FnOnce()) -> Option<u64> {
    // One measurement at a time: the tests of this binary run in parallel.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    // "5" resets the peak (VmHWM) to the current RSS (Linux >= 4.0).
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let before = proc_status_kib("VmRSS:")?;
    f();
    let peak = proc_status_kib("VmHWM:")?;
    Some(peak.saturating_sub(before) / 1024)
}

fn assert_bomb_refused(name: &str, pdf: Vec<u8>) {
    let limits = ParseLimits::default();
    let mut result = None;
    let started = std::time::Instant::now();
    let rise = peak_rise_mib(|| result = Some(parse_document(&raw(pdf.clone()), &limits)));
    let elapsed = started.elapsed();
    let err = result.unwrap().unwrap_err();
    assert_eq!(err, ParseError::DecompressionBomb { limit: limits.max_inflated_bytes }, "{name}");
    let stage: StageError = err.into();
    assert_eq!((stage.kind.as_str(), stage.domain), ("decompression_bomb", ErrorDomain::UserInput), "{name}");
    match rise {
        Some(mib) => {
            println!("{name}: {} bytes of PDF refused in {elapsed:?}, peak RSS rose {mib} MiB", pdf.len());
            assert!(mib < 64, "{name}: peak RSS rose {mib} MiB while refusing a bomb");
        }
        None => println!("{name}: peak RSS not measured (no /proc/self/clear_refs here)"),
    }
    // The deadline path (the parse stage's) says the same.
    let again = parse_document_with_deadline(&raw(pdf), &limits).unwrap_err();
    assert_eq!(again.kind(), "decompression_bomb", "{name}");
}

#[test]
fn a_single_layer_one_gib_flate_bomb_is_refused_with_bounded_memory() {
    let data = one_gib_of_zeros_zlib();
    // The hand-made stream really is 1 GiB of zeros: inflate its start.
    let mut head = vec![0u8; 4 << 20];
    let n = std::io::Read::read(&mut flate2::read::ZlibDecoder::new(data), &mut head).unwrap();
    assert!(n > 0 && head[..n].iter().all(|b| *b == 0));
    assert_bomb_refused("single-layer 1 GiB", flate_bomb_pdf());
}

#[test]
fn a_double_flate_bomb_is_refused_with_bounded_memory() {
    let pdf = double_flate_bomb_pdf();
    assert!(pdf.len() < 64 << 10, "{} bytes", pdf.len());
    assert_bomb_refused("double-Flate 1 GiB", pdf);
}

#[test]
fn an_object_stream_bomb_is_refused_before_the_pdf_reader_loads_it() {
    // lopdf inflates object streams while loading the file; the guard runs first.
    let mut pdf = pdf_with_content("/FlateDecode", &zlib(b"BT ET"), &[]);
    let bomb = zlib(one_gib_of_zeros_zlib());
    let at = pdf.len() - b"%%EOF\n".len();
    let objstm = [format!("9 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Length {} /Filter [/FlateDecode /FlateDecode] >>\nstream\n", bomb.len()).into_bytes(), bomb, b"\nendstream\nendobj\n".to_vec()].concat();
    pdf.splice(at..at, objstm);
    assert_bomb_refused("object stream", pdf);
}

#[test]
fn a_genuine_compressed_pdf_still_parses() {
    let content = b"BT /F1 12 Tf 20 150 Td (Invoice INV-7 Total 12.50 EUR) Tj ET";
    let pdf = pdf_with_content("/FlateDecode", &zlib(content), &[]);
    let out = parse_document(&raw(pdf), &ParseLimits::default()).unwrap();
    assert!(out.text.contains("INV-7"), "{:?}", out.text);
}
