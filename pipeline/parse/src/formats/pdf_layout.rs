//! A PDF page's glyphs laid out as lines in reading order: by position on
//! the page, not by the order the content stream draws them. Many
//! generators draw a form's values before its labels, or a table column by
//! column; read in stream order, `Invoice Date: 20-10-2015` comes out as
//! `20-10-2015Invoice Date:`. Sorted by baseline and then by x, the label
//! stands before its value again, columns stay apart (two spaces for a
//! wide gap) and a label above a value is the line above it.

/// One drawn character (or ligature) with its place on the page.
#[derive(Debug, Clone, Copy)]
pub struct Glyph {
    /// Left edge, device units.
    pub x: f64,
    /// Baseline, growing downwards.
    pub y: f64,
    /// Right edge.
    pub end: f64,
    /// Font size on the page.
    pub size: f64,
    /// Its text: `start..start + len` of the page's text buffer.
    pub start: u32,
    pub len: u32,
}

/// Appends the page's glyphs (`text` holds their characters) to `out` as
/// lines: glyphs whose baselines lie within 40 % of the font size share a
/// line, a line reads left to right, a gap wider than the font size is a
/// column gap (two spaces), a smaller one a word gap (one space).
pub fn lay_out(glyphs: &[Glyph], text: &str, out: &mut String) {
    let mut order: Vec<usize> = (0..glyphs.len()).collect();
    order.sort_by(|&a, &b| glyphs[a].y.total_cmp(&glyphs[b].y));
    let mut line: Vec<usize> = Vec::new();
    let mut first = true;
    let mut k = 0;
    while k < order.len() {
        let base = glyphs[order[k]];
        line.clear();
        while k < order.len() && glyphs[order[k]].y - base.y <= 0.4 * base.size.max(glyphs[order[k]].size) {
            line.push(order[k]);
            k += 1;
        }
        // Left to right; glyphs at the same x keep the stream order.
        line.sort_by(|&a, &b| glyphs[a].x.total_cmp(&glyphs[b].x).then(a.cmp(&b)));
        if !first {
            out.push('\n');
        }
        first = false;
        let mut last_end: Option<f64> = None;
        for &g in &line {
            let g = glyphs[g];
            if let Some(end) = last_end {
                let gap = g.x - end;
                if gap > g.size {
                    out.push_str("  ");
                } else if gap > 0.1 * g.size {
                    out.push(' ');
                }
            }
            out.push_str(&text[g.start as usize..(g.start + g.len) as usize]);
            last_end = Some(last_end.map_or(g.end, |e: f64| e.max(g.end)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Glyphs of `words` (text, x, y), one glyph per character, 10 units wide at size 10.
    fn glyphs(words: &[(&str, f64, f64)]) -> (Vec<Glyph>, String) {
        let mut text = String::new();
        let mut out = Vec::new();
        for &(w, x, y) in words {
            for (i, c) in w.chars().enumerate() {
                let start = text.len() as u32;
                text.push(c);
                let x = x + 6.0 * i as f64;
                out.push(Glyph { x, y, end: x + 6.0, size: 10.0, start, len: c.len_utf8() as u32 });
            }
        }
        (out, text)
    }

    #[test]
    fn values_drawn_before_labels_read_after_them() {
        // The stream draws the value first, then its label to the left.
        let (g, t) = glyphs(&[("20-10-2015", 120.0, 100.0), ("Invoice", 10.0, 100.0), ("Date:", 58.0, 100.1), ("Total", 10.0, 130.0)]);
        let mut out = String::new();
        lay_out(&g, &t, &mut out);
        assert_eq!(out, "Invoice Date:  20-10-2015\nTotal");
    }

    #[test]
    fn columns_drawn_one_after_the_other_become_rows() {
        let (g, t) = glyphs(&[("Qty", 10.0, 10.0), ("1", 10.0, 22.0), ("Price", 100.0, 10.0), ("9.50", 100.0, 22.0)]);
        let mut out = String::new();
        lay_out(&g, &t, &mut out);
        assert_eq!(out, "Qty  Price\n1  9.50");
    }
}
