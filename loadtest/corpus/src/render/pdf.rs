//! `application/pdf` written with lopdf: Helvetica text in WinAnsi encoding,
//! one text object per table cell at its column position, page breaks with
//! repeated table headers, optional padding pages so multi-page PDFs occur.

use super::{body_lines, DocFormat, Lines};
use crate::model::{Class, DocModel};
use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream, StringFormat};

/// Encodes text as WinAnsi (cp1252) bytes; unmappable characters become `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '€' => 0x80,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            c if (c as u32) < 0x100 => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

const TOP: f64 = 800.0;
const BOTTOM: f64 = 60.0;
const LEADING: f64 = 14.0;
const COLUMNS: [f64; 4] = [50.0, 300.0, 360.0, 460.0];

struct Pages {
    pages: Vec<Vec<Operation>>,
    y: f64,
}

impl Pages {
    fn new() -> Self {
        Self { pages: vec![Vec::new()], y: TOP }
    }
    fn break_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }
    fn text(&mut self, x: f64, s: &str, size: f64) {
        let ops = self.pages.last_mut().unwrap();
        ops.push(Operation::new("BT", vec![]));
        ops.push(Operation::new("Tf", vec!["F1".into(), size.into()]));
        ops.push(Operation::new("Td", vec![x.into(), self.y.into()]));
        ops.push(Operation::new("Tj", vec![Object::String(win_ansi(s), StringFormat::Literal)]));
        ops.push(Operation::new("ET", vec![]));
    }
    fn line(&mut self, cells: &[String], header: Option<&[String]>, size: f64) {
        if self.y < BOTTOM {
            self.break_page();
            if let Some(h) = header {
                self.row(h, size);
            }
        }
        self.row(cells, size);
    }
    fn row(&mut self, cells: &[String], size: f64) {
        match cells.len() {
            0 => {}
            1 => self.text(COLUMNS[0], &cells[0], size),
            2 => {
                // Label and value, or a receipt line and its amount.
                self.text(COLUMNS[0], &cells[0], size);
                let x = if cells[0].ends_with(':') || cells[0].ends_with('#') || cells[0].ends_with('.') { 160.0 } else { COLUMNS[3] };
                self.text(x, &cells[1], size);
            }
            _ => {
                for (c, x) in cells.iter().zip(COLUMNS) {
                    self.text(x, c, size);
                }
            }
        }
        self.y -= LEADING;
    }
}

/// Wraps long prose at about 95 characters so it stays on the page.
fn wrap(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for w in s.split(' ') {
        if out.last().unwrap().len() + w.len() > 95 {
            out.push(String::new());
        }
        let l = out.last_mut().unwrap();
        if !l.is_empty() {
            l.push(' ');
        }
        l.push_str(w);
    }
    out
}

/// Renders printed lines as a PDF of at least `min_pages` pages.
pub fn lines_to_pdf(lines: &Lines, min_pages: usize, rows_per_first_page: Option<usize>) -> Vec<u8> {
    let mut p = Pages::new();
    let mut header: Option<Vec<String>> = None;
    let mut rows_in_table = 0usize;
    for cells in lines {
        if cells.len() >= 3 && header.is_none() {
            header = Some(cells.clone());
        } else if cells.len() >= 3 {
            rows_in_table += 1;
            if rows_per_first_page == Some(rows_in_table) {
                p.break_page(); // a forced break inside the table, header repeated
                p.row(header.as_ref().unwrap(), 10.0);
            }
        }
        if cells.len() == 1 && cells[0].len() > 95 {
            for w in wrap(&cells[0]) {
                p.line(&[w], None, 10.0);
            }
        } else if cells.is_empty() {
            p.y -= LEADING / 2.0;
        } else {
            p.line(cells, header.as_deref(), 10.0);
        }
    }
    while p.pages.len() < min_pages {
        p.break_page();
        p.text(COLUMNS[0], "This page is intentionally left blank except for this note.", 10.0);
    }
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for ops in p.pages {
        let content = Content { operations: ops };
        let stream = Stream::new(dictionary! {}, content.encode().expect("encoding content"));
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("writing a PDF to a Vec cannot fail");
    out
}

/// Renders `m` as a PDF; variant 0 breaks the items table across pages,
/// variant 3 pads contracts and e-mails to three pages.
pub fn render(m: &DocModel) -> Vec<u8> {
    let lines = body_lines(m, DocFormat::Pdf);
    let split = (m.style.variant == 0 && m.items.len() >= 2).then_some(m.items.len() / 2 + 1);
    let min_pages = if m.style.variant == 3 && matches!(m.class, Class::Contract | Class::Email) { 3 } else { 1 };
    lines_to_pdf(&lines, min_pages, split)
}
