//! A tiny document model rendered both to Markdown and to self-contained HTML.

/// One block of the report.
#[derive(Clone, Debug)]
pub enum Block {
    /// Heading of level 1-3.
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table: header row and body rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// An image (relative path, caption).
    Image(String, String),
}

/// A sequence of blocks.
#[derive(Clone, Debug, Default)]
pub struct Document {
    /// The blocks in order.
    pub blocks: Vec<Block>,
}

impl Document {
    /// Appends a heading.
    pub fn h(&mut self, level: u8, s: impl Into<String>) {
        self.blocks.push(Block::Heading(level, s.into()));
    }
    /// Appends a paragraph.
    pub fn p(&mut self, s: impl Into<String>) {
        self.blocks.push(Block::Para(s.into()));
    }
    /// Appends a list.
    pub fn list(&mut self, items: Vec<String>) {
        self.blocks.push(Block::List(items));
    }
    /// Appends a table.
    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) {
        self.blocks.push(Block::Table(
            header.iter().map(|s| s.to_string()).collect(),
            rows,
        ));
    }
    /// Appends an image.
    pub fn image(&mut self, path: impl Into<String>, caption: impl Into<String>) {
        self.blocks.push(Block::Image(path.into(), caption.into()));
    }

    /// Markdown (GitHub flavour).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => {
                    s.push_str(&"#".repeat(*l as usize));
                    s.push(' ');
                    s.push_str(t);
                    s.push_str("\n\n");
                }
                Block::Para(t) => {
                    s.push_str(t);
                    s.push_str("\n\n");
                }
                Block::List(items) => {
                    for i in items {
                        s.push_str("- ");
                        s.push_str(i);
                        s.push('\n');
                    }
                    s.push('\n');
                }
                Block::Table(h, rows) => {
                    let cell = |c: &str| c.replace('|', "\\|");
                    s.push_str(&format!(
                        "| {} |\n",
                        h.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    ));
                    s.push_str(&format!("|{}\n", "---|".repeat(h.len())));
                    for r in rows {
                        s.push_str(&format!(
                            "| {} |\n",
                            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                    s.push('\n');
                }
                Block::Image(p, c) => {
                    s.push_str(&format!("![{c}]({p})\n\n*{c}*\n\n"));
                }
            }
        }
        s
    }

    /// Self-contained HTML (inline CSS; images referenced by relative path).
    pub fn to_html(&self, title: &str) -> String {
        let esc = |t: &str| {
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}table{{border-collapse:collapse;font-size:0.85em;margin:1em 0}}td,th{{border:1px solid #bbb;padding:2px 6px;text-align:left}}th{{background:#eee}}img{{max-width:100%}}.supported{{color:#070}}.contradicted{{color:#b00}}.inconclusive{{color:#a60}}</style></head><body>\n",
            esc(title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => s.push_str(&format!("<h{l}>{}</h{l}>\n", esc(t))),
                Block::Para(t) => s.push_str(&format!("<p>{}</p>\n", esc(t))),
                Block::List(items) => {
                    s.push_str("<ul>\n");
                    for i in items {
                        s.push_str(&format!("<li>{}</li>\n", esc(i)));
                    }
                    s.push_str("</ul>\n");
                }
                Block::Table(h, rows) => {
                    s.push_str("<table><tr>");
                    for c in h {
                        s.push_str(&format!("<th>{}</th>", esc(c)));
                    }
                    s.push_str("</tr>\n");
                    for r in rows {
                        s.push_str("<tr>");
                        for c in r {
                            let class = match c.as_str() {
                                "supported" | "contradicted" | "inconclusive" => {
                                    format!(" class=\"{c}\"")
                                }
                                _ => String::new(),
                            };
                            s.push_str(&format!("<td{class}>{}</td>", esc(c)));
                        }
                        s.push_str("</tr>\n");
                    }
                    s.push_str("</table>\n");
                }
                Block::Image(p, c) => s.push_str(&format!(
                    "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n",
                    esc(p),
                    esc(c),
                    esc(c)
                )),
            }
        }
        s.push_str("</body></html>\n");
        s
    }
}
