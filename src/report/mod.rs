//! Exports diagnoses for an incident ticket (Markdown), for machines (JSON) and as one
//! self-contained page to share (HTML).

mod document;
mod html;
mod markdown;
mod next;
mod quotes;

pub use document::{ReadinessGroup, Report, SCHEMA_VERSION, Summary};
pub use html::to_html;
pub use markdown::to_markdown;
pub use next::next_command;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown for a ticket or chat.
    Markdown,
    /// One JSON document with `schema_version`.
    Json,
    /// One self-contained HTML page.
    Html,
    /// The JSON document's content as YAML, for those who read kubectl's `-o yaml`.
    Yaml,
}

impl Format {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Html => "html",
            Format::Yaml => "yaml",
        }
    }
}

/// Renders a report in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Markdown => to_markdown(report),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report).expect("a report always serialises");
            s.push('\n');
            s
        }
        Format::Html => to_html(report),
        Format::Yaml => serde_norway::to_string(report).expect("a report always serialises"),
    }
}
