//! `text/plain`: aligned columns or ` | ` tables, with messy whitespace
//! (extra spaces, tabs, trailing blanks, doubled blank lines) when the style asks.

use super::{body_lines, gap, DocFormat, Lines};
use crate::model::DocModel;

/// Renders printed lines as plain text.
pub fn lines_to_text(m: &DocModel, lines: &Lines) -> String {
    let mut out = String::new();
    for (n, cells) in lines.iter().enumerate() {
        let messy = m.style.messy;
        if messy && n % 5 == 1 {
            out.push_str("  "); // stray indentation
        }
        match cells.len() {
            0 => {
                if messy && n % 3 == 0 {
                    out.push_str("   \n"); // blank line with spaces
                }
            }
            1 => out.push_str(&cells[0]),
            2 if cells[0].ends_with(':') || cells[0].ends_with('#') || cells[0].ends_with('.') => {
                out.push_str(&cells[0]);
                out.push_str(gap(m, n));
                out.push_str(&cells[1]);
            }
            _ => {
                if m.style.pipes {
                    out.push_str(&cells.join(" | "));
                } else {
                    for (i, c) in cells.iter().enumerate() {
                        let width = if i == 0 { 36 } else { 14 };
                        if i + 1 == cells.len() {
                            out.push_str(c);
                        } else {
                            out.push_str(c);
                            let pad = width.max(c.chars().count() + 2) - c.chars().count();
                            out.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
        }
        if messy && n % 4 == 2 {
            out.push_str("  \t");
        }
        out.push('\n');
    }
    out
}

/// Renders `m` as a plain-text document.
pub fn render(m: &DocModel) -> Vec<u8> {
    lines_to_text(m, &body_lines(m, DocFormat::Text)).into_bytes()
}
