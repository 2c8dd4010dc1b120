//! `text/html`: visible text only, through html5ever (the `scraper` crate).
//!
//! Scripts, styles, templates, `<head>` and comments are dropped; entities
//! are decoded by the parser; block elements become line breaks; table cells
//! of a row are joined with ` | ` so line items stay one row per line.
//! The walk is iterative (ego_tree's `traverse`), so deeply nested markup
//! cannot overflow the stack.

use super::{normalize, text::decode, Extracted};
use ego_tree::iter::Edge;
use scraper::{Html, Node};

/// Elements whose content is never visible.
const HIDDEN: [&str; 9] = ["script", "style", "noscript", "template", "head", "title", "svg", "iframe", "object"];

/// Elements that start and end a line.
const BLOCKS: [&str; 35] = [
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "ul",
];

/// Parses a decoded HTML string to visible text.
pub fn html_to_text(html: &str) -> String {
    let doc = Html::parse_document(html);
    let mut out = String::with_capacity(html.len() / 2);
    let mut hidden = 0usize; // depth inside hidden elements
    let mut pre = 0usize; // depth inside <pre>
    let mut cell_in_row = 0usize; // cells already written in the current <tr>
    for edge in doc.root_element().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(el) => {
                    let name = el.name();
                    if HIDDEN.contains(&name) {
                        hidden += 1;
                    } else if hidden > 0 {
                    } else if name == "br" {
                        out.push('\n');
                    } else if name == "tr" {
                        newline(&mut out);
                        cell_in_row = 0;
                    } else if name == "td" || name == "th" {
                        if cell_in_row > 0 {
                            trim_trailing_spaces(&mut out);
                            out.push_str(" | ");
                        }
                        cell_in_row += 1;
                    } else if BLOCKS.contains(&name) {
                        newline(&mut out);
                        if name == "pre" {
                            pre += 1;
                        }
                    }
                }
                Node::Text(t) if hidden == 0 => push_text(&mut out, t, pre > 0),
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(el) = node.value() {
                    let name = el.name();
                    if HIDDEN.contains(&name) {
                        hidden = hidden.saturating_sub(1);
                    } else if hidden == 0 && (BLOCKS.contains(&name) || name == "tr") {
                        newline(&mut out);
                        if name == "pre" {
                            pre = pre.saturating_sub(1);
                        }
                        if name == "p" || name.starts_with('h') && name.len() == 2 {
                            out.push('\n'); // paragraphs and headings stand apart
                        }
                    }
                }
            }
        }
    }
    normalize(&out)
}

/// Parses an HTML body (UTF-8, lossy with a warning).
pub fn parse(body: &[u8]) -> Extracted {
    let mut warnings = Vec::new();
    let html = decode(body, &mut warnings);
    Extracted { text: html_to_text(&html), warnings, ..Default::default() }
}

fn newline(out: &mut String) {
    trim_trailing_spaces(out);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn trim_trailing_spaces(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// Appends a text node, collapsing whitespace runs to one space (HTML
/// rendering rules) except inside `<pre>`.
fn push_text(out: &mut String, t: &str, pre: bool) {
    if pre {
        out.push_str(t);
        return;
    }
    let mut last_space = out.is_empty() || out.ends_with([' ', '\n']);
    for c in t.chars() {
        if c.is_whitespace() && c != '\u{a0}' {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(if c == '\u{a0}' { ' ' } else { c });
            last_space = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn visible_text_blocks_and_tables() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\
            <h1>Smith &amp; Sons</h1><!-- Total: 999 --><script>var total=5;</script>\
            <p>Invoice   no:\n INV-1</p><table><tr><th>Item</th><th>Qty</th></tr>\
            <tr><td> Widget </td><td>2</td></tr></table>a<br>b &euro;</body></html>";
        assert_eq!(
            html_to_text(html),
            "Smith & Sons\n\nInvoice no: INV-1\n\nItem | Qty\nWidget | 2\na\nb €"
        );
    }
}
