//! Reading TSIG key files in the formats operators already have:
//!
//! - BIND (`tsig-keygen`, `rndc-confgen`, a named.conf include):
//!   `key "name" { algorithm hmac-sha256; secret "base64"; };`
//! - Knot (`keymgr -t name`, a knot.conf `key:` section):
//!   `key:` / `  - id: name` / `    algorithm: hmac-sha256` / `    secret: base64`
//! - One line as `kdig -y` / `knsupdate -y` take it: `[algorithm:]name:base64`.
//!
//! Error texts name a line at most, never its content, not even a key's name: a file written
//! with name and secret swapped has the secret where the name should be.

/// One key as written in a file, before its algorithm and secret are checked.
pub(super) struct RawKey {
    /// The key's name.
    pub(super) name: String,
    /// The algorithm as written, when the format carries one.
    pub(super) algorithm: Option<String>,
    /// The base64 secret.
    pub(super) secret: String,
    /// The line the key starts on (1-based), for error messages.
    pub(super) line: usize,
}

impl std::fmt::Debug for RawKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .field("line", &self.line)
            .finish()
    }
}

/// Every key in `text`, in file order. An error is a one-line reason without file content.
pub(super) fn parse_keys(text: &str) -> Result<Vec<RawKey>, String> {
    let code = strip_bind_comments(text);
    if code.contains('{') {
        parse_bind(&code)
    } else if text.lines().any(is_knot_id_line) {
        parse_knot(text)
    } else {
        parse_one_line(text)
    }
}

/// Removes `#` and `//` line comments and `/* */` block comments, outside quotes.
fn strip_bind_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            out.push(c);
            if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                out.push(c);
            }
            '#' => skip_line(&mut chars, &mut out),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut out),
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        // Keep line numbers right for error messages.
                        out.push('\n');
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    for c in chars.by_ref() {
        if c == '\n' {
            out.push('\n');
            break;
        }
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semicolon,
}

/// Tokens with the line each starts on.
fn tokenize(code: &str) -> Result<Vec<(Token, usize)>, String> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = code.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '\n' => {
                line += 1;
                chars.next();
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            '{' | '}' | ';' => {
                chars.next();
                let t = match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    _ => Token::Semicolon,
                };
                tokens.push((t, line));
            }
            '"' => {
                chars.next();
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            s.push(c);
                        }
                        None => {
                            return Err(format!(
                                "a quoted string opened on line {start} never ends"
                            ));
                        }
                    }
                }
                tokens.push((Token::Quoted(s), start));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';' | '"') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push((Token::Word(s), line));
            }
        }
    }
    Ok(tokens)
}

fn parse_bind(code: &str) -> Result<Vec<RawKey>, String> {
    let tokens = tokenize(code)?;
    let mut keys = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].0 {
            Token::Word(w) if w.eq_ignore_ascii_case("key") => {
                let (key, next) = parse_bind_key(&tokens, i)?;
                keys.push(key);
                i = next;
            }
            // Any other statement (options, server, ...) is skipped whole.
            _ => i = skip_statement(&tokens, i)?,
        }
    }
    Ok(keys)
}

/// Index after the statement starting at `i`: its `;` at brace depth 0.
fn skip_statement(tokens: &[(Token, usize)], mut i: usize) -> Result<usize, String> {
    let line = tokens[i].1;
    let mut depth = 0usize;
    while i < tokens.len() {
        match tokens[i].0 {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("an unmatched '}}' on line {}", tokens[i].1))?;
            }
            Token::Semicolon if depth == 0 => return Ok(i + 1),
            _ => {}
        }
        i += 1;
    }
    Err(format!(
        "the statement starting on line {line} does not end with ';'"
    ))
}

/// Parses `key NAME { ... };` starting at `i` (the `key` word).
fn parse_bind_key(tokens: &[(Token, usize)], i: usize) -> Result<(RawKey, usize), String> {
    let line = tokens[i].1;
    let name = match tokens.get(i + 1) {
        Some((Token::Word(w) | Token::Quoted(w), _)) => w.clone(),
        _ => return Err(format!("the key statement on line {line} has no name")),
    };
    if tokens.get(i + 2).map(|t| &t.0) != Some(&Token::Open) {
        return Err(format!("the key statement on line {line} lacks its '{{'"));
    }
    let mut algorithm = None;
    let mut secret = None;
    let mut j = i + 3;
    loop {
        match tokens.get(j) {
            Some((Token::Close, _)) => break,
            Some((Token::Word(clause), clause_line)) => {
                // Only known keywords are quoted back: an unknown word could be a misplaced
                // secret.
                let what = match clause.to_ascii_lowercase().as_str() {
                    known @ ("algorithm" | "secret") => format!("'{known}'"),
                    _ => "a clause".to_owned(),
                };
                let value = match tokens.get(j + 1) {
                    Some((Token::Word(v) | Token::Quoted(v), _)) => v.clone(),
                    _ => return Err(format!("{what} on line {clause_line} has no value")),
                };
                if tokens.get(j + 2).map(|t| &t.0) != Some(&Token::Semicolon) {
                    return Err(format!(
                        "{what} on line {clause_line} does not end with ';'"
                    ));
                }
                if clause.eq_ignore_ascii_case("algorithm") {
                    algorithm = Some(value);
                } else if clause.eq_ignore_ascii_case("secret") {
                    secret = Some(value);
                }
                j += 3;
            }
            Some((_, l)) => {
                return Err(format!(
                    "unexpected text on line {l} in the key statement starting on line {line}"
                ));
            }
            None => return Err(format!("the key statement on line {line} never ends")),
        }
    }
    // `};`: the closing brace, then an optional semicolon.
    let mut next = j + 1;
    if tokens.get(next).map(|t| &t.0) == Some(&Token::Semicolon) {
        next += 1;
    }
    let secret = secret.ok_or_else(|| format!("the key statement on line {line} has no secret"))?;
    Ok((
        RawKey {
            name,
            algorithm,
            secret,
            line,
        },
        next,
    ))
}

fn is_knot_id_line(line: &str) -> bool {
    let t = line.trim_start().trim_start_matches('-').trim_start();
    t.strip_prefix("id")
        .is_some_and(|rest| rest.trim_start().starts_with(':'))
}

/// `key: value` with `#` comments and quotes removed; `None` for other lines.
fn yaml_pair(line: &str) -> Option<(&str, String)> {
    let line = match line.find('#') {
        Some(at) => &line[..at],
        None => line,
    };
    let t = line.trim().trim_start_matches('-').trim_start();
    let (key, value) = t.split_once(':')?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    Some((key.trim(), value.to_owned()))
}

fn parse_knot(text: &str) -> Result<Vec<RawKey>, String> {
    // In a whole knot.conf, `id:` also starts remotes, ACLs and templates: only the entries of
    // the `key:` section count. A fragment without section headers is all keys.
    let has_sections = text
        .lines()
        .any(|l| !l.starts_with([' ', '\t', '-', '#']) && l.trim_end().ends_with(':'));
    let mut in_keys = !has_sections;
    let mut entries: Vec<(usize, String, Option<String>, Option<String>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if !line.starts_with([' ', '\t', '-', '#']) && !line.trim().is_empty() {
            in_keys = line.trim_end().trim_end_matches(':').trim() == "key";
            continue;
        }
        if !in_keys {
            continue;
        }
        let Some((key, value)) = yaml_pair(line) else {
            continue;
        };
        match key {
            "id" => entries.push((n + 1, value, None, None)),
            "algorithm" | "secret" => {
                let Some(entry) = entries.last_mut() else {
                    return Err(format!("line {}: '{key}' before any key 'id'", n + 1));
                };
                if key == "algorithm" {
                    entry.2 = Some(value);
                } else {
                    entry.3 = Some(value);
                }
            }
            _ => {}
        }
    }
    entries
        .into_iter()
        .map(|(line, name, algorithm, secret)| {
            let secret = secret.ok_or_else(|| format!("the key on line {line} has no secret"))?;
            Ok(RawKey {
                name,
                algorithm,
                secret,
                line,
            })
        })
        .collect()
}

fn parse_one_line(text: &str) -> Result<Vec<RawKey>, String> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let [(index, line)] = lines.as_slice() else {
        return Err(
            "not a BIND key statement, a knot key section, or one [algorithm:]name:secret line"
                .to_owned(),
        );
    };
    let parts: Vec<&str> = line.split(':').collect();
    let (algorithm, name, secret) = match parts.as_slice() {
        [name, secret] => (None, *name, *secret),
        [algorithm, name, secret] => (Some((*algorithm).to_owned()), *name, *secret),
        _ => {
            return Err(format!("line {} is not [algorithm:]name:secret", index + 1));
        }
    };
    Ok(vec![RawKey {
        name: name.to_owned(),
        algorithm,
        secret: secret.to_owned(),
        line: index + 1,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "iA+ZtUh5pM+RSa5lCQBO8i1LdNc8WNyCvu0QejQ7z78=";

    fn one(text: &str) -> RawKey {
        let mut keys = parse_keys(text).unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        keys.remove(0)
    }

    #[test]
    fn bind_format_with_comments_and_other_statements() {
        let text = format!(
            "# made by tsig-keygen\noptions {{ directory \"/x\"; }};\n/* a\n block */\n\
             key \"certdx-key.\" {{\n\talgorithm hmac-sha256; // the default\n\tsecret \"{SECRET}\";\n}};\n"
        );
        let k = one(&text);
        assert_eq!(k.name, "certdx-key.");
        assert_eq!(k.algorithm.as_deref(), Some("hmac-sha256"));
        assert_eq!(k.secret, SECRET);
        let bare = one(&format!(
            "key bare {{ secret \"{SECRET}\"; algorithm hmac-sha512; }};"
        ));
        assert_eq!(bare.name, "bare");
        assert_eq!(bare.algorithm.as_deref(), Some("hmac-sha512"));
    }

    #[test]
    fn knot_keymgr_output_and_a_whole_knot_conf() {
        let keymgr = format!(
            "# hmac-sha256:testkey:{SECRET}\nkey:\n  - id: testkey\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"
        );
        let k = one(&keymgr);
        assert_eq!(k.name, "testkey");
        assert_eq!(k.secret, SECRET);
        let conf = format!(
            "server:\n    listen: 127.0.0.1@53\nkey:\n  - id: \"k1\"\n    algorithm: hmac-sha384\n    secret: \"{SECRET}\"\n\
             acl:\n  - id: update\n    key: k1\n    action: update\n"
        );
        let k = one(&conf);
        assert_eq!(k.name, "k1");
        assert_eq!(k.algorithm.as_deref(), Some("hmac-sha384"));
    }

    #[test]
    fn one_line_format() {
        let k = one(&format!("hmac-sha256:name:{SECRET}\n"));
        assert_eq!(k.name, "name");
        assert_eq!(k.algorithm.as_deref(), Some("hmac-sha256"));
        let k = one(&format!("name:{SECRET}"));
        assert_eq!(k.algorithm, None);
    }

    #[test]
    fn errors_never_quote_the_secret() {
        let cases = [
            format!("key \"k\" {{ algorithm hmac-sha256; secret \"{SECRET}\" }};"),
            format!("key \"k\" {{ algorithm hmac-sha256; secret \"{SECRET};\n"),
            format!("{SECRET}\n{SECRET}\n"),
            format!("a:b:c:{SECRET}"),
            format!("key:\n  - id: k\n    algorithm: hmac-sha256\n    scret: {SECRET}\n"),
            format!("key \"k\" {{ {SECRET} ; }};"),
        ];
        for text in cases {
            let err = parse_keys(&text).unwrap_err();
            assert!(!err.contains(&SECRET[..10]), "{err}");
        }
        assert!(format!("{:?}", one(&format!("k:{SECRET}"))).contains("redacted"));
    }

    /// Name and secret swapped: the secret sits where the name should be, so no error may
    /// quote the name either.
    #[test]
    fn errors_never_quote_a_name_that_may_be_the_secret() {
        let cases = [
            format!("key \"{SECRET}\" {{ algorithm hmac-sha256; oops }};"),
            format!("key \"{SECRET}\" {{ algorithm hmac-sha256; }};"),
            format!("key:\n  - id: {SECRET}\n    algorithm: hmac-sha256\n"),
        ];
        for text in cases {
            let err = parse_keys(&text).unwrap_err();
            assert!(!err.contains(&SECRET[..10]), "{err}");
            assert!(err.contains("line"), "{err}");
        }
        assert_eq!(one(&format!("\n# c\nk:{SECRET}")).line, 3);
    }
}
