//! The one way a value reaches a page: [`escape`], and [`render`] for the `{{name}}` and
//! `{{#flag}}…{{/flag}}` templates of `www/`.

use core::fmt;

/// `text` as HTML text or a quoted attribute value: `& < > " '` become character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Why a page template could not be filled: the template and its values disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageError {
    /// `{{name}}` in the template has no value.
    UnknownPlaceholder(String),
    /// `{{#name}}` opens a section that never closes, or closes one never opened.
    UnbalancedSection(String),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPlaceholder(name) => write!(f, "the page has no value for {{{{{name}}}}}"),
            Self::UnbalancedSection(name) => {
                write!(
                    f,
                    "the page's section {{{{#{name}}}}} is not closed properly"
                )
            }
        }
    }
}

impl std::error::Error for PageError {}

/// Fills `template`: `{{name}}` with the escaped value of `name` in `values`, and keeps the body
/// of `{{#flag}}…{{/flag}}` only when `flag` is true in `flags` (an absent flag is false).
pub fn render(
    template: &str,
    values: &[(&str, &str)],
    flags: &[(&str, bool)],
) -> Result<String, PageError> {
    let mut out = String::with_capacity(template.len() + 256);
    // The open sections, and whether each one is shown.
    let mut open: Vec<(&str, bool)> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let shown = open.iter().all(|(_, shown)| *shown);
        if shown {
            out.push_str(&rest[..start]);
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(PageError::UnknownPlaceholder(after.to_owned()));
        };
        let tag = after[..end].trim();
        rest = &after[end + 2..];
        if let Some(name) = tag.strip_prefix('#') {
            let on = flags.iter().any(|(flag, on)| *flag == name && *on);
            open.push((name, on));
        } else if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some((opened, _)) if opened == name => {}
                _ => return Err(PageError::UnbalancedSection(name.to_owned())),
            }
        } else {
            let value = values
                .iter()
                .find(|(key, _)| *key == tag)
                .map(|(_, value)| *value)
                .ok_or_else(|| PageError::UnknownPlaceholder(tag.to_owned()))?;
            if shown {
                out.push_str(&escape(value));
            }
        }
    }
    if let Some((name, _)) = open.pop() {
        return Err(PageError::UnbalancedSection(name.to_owned()));
    }
    out.push_str(rest);
    Ok(out)
}
