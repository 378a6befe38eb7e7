//! Splits query text into tokens, each with its byte offset for error messages.

use std::fmt;

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    /// A name: keyword, function or path segment (may start with `$`).
    Ident(String),
    /// A number literal (decimal or `0x…`).
    Number(f64),
    /// A string literal, escapes resolved.
    Str(String),
    /// `*`
    Star,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    LtEq,
    /// `>=`
    GtEq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// End of input.
    End,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ident(name) => write!(f, "'{name}'"),
            Self::Number(number) => write!(f, "number {number}"),
            Self::Str(text) => write!(f, "string '{text}'"),
            Self::End => f.write_str("the end of the query"),
            symbol => write!(f, "'{}'", symbol.symbol()),
        }
    }
}

impl Token {
    fn symbol(&self) -> &'static str {
        match self {
            Self::Star => "*",
            Self::Comma => ",",
            Self::Dot => ".",
            Self::LParen => "(",
            Self::RParen => ")",
            Self::LBracket => "[",
            Self::RBracket => "]",
            Self::Eq => "=",
            Self::NotEq => "!=",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::LtEq => "<=",
            Self::GtEq => ">=",
            Self::Plus => "+",
            Self::Minus => "-",
            Self::Slash => "/",
            Self::Percent => "%",
            Self::Ident(_) | Self::Number(_) | Self::Str(_) | Self::End => "",
        }
    }

    /// True for an identifier equal to `keyword`, ignoring case.
    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Self::Ident(name) if name.eq_ignore_ascii_case(keyword))
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    /// The token.
    pub token: Token,
    /// Byte offset into the query text.
    pub offset: usize,
}

/// A lexical error at a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// Byte offset.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Tokenizes `text`; the last token is always [`Token::End`].
pub fn tokenize(text: &str) -> Result<Vec<Spanned>, LexError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(offset, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let token = match c {
            '\'' | '"' => {
                chars.next();
                Token::Str(read_string(&mut chars, c, offset)?)
            }
            '0'..='9' => Token::Number(read_number(text, &mut chars, offset)?),
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut name = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '$' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                Token::Ident(name)
            }
            _ => {
                chars.next();
                let next = chars.peek().map(|&(_, c)| c);
                let (token, two_chars) = match (c, next) {
                    ('!', Some('=')) | ('<', Some('>')) => (Token::NotEq, true),
                    ('<', Some('=')) => (Token::LtEq, true),
                    ('>', Some('=')) => (Token::GtEq, true),
                    ('*', _) => (Token::Star, false),
                    (',', _) => (Token::Comma, false),
                    ('.', _) => (Token::Dot, false),
                    ('(', _) => (Token::LParen, false),
                    (')', _) => (Token::RParen, false),
                    ('[', _) => (Token::LBracket, false),
                    (']', _) => (Token::RBracket, false),
                    ('=', _) => (Token::Eq, false),
                    ('<', _) => (Token::Lt, false),
                    ('>', _) => (Token::Gt, false),
                    ('+', _) => (Token::Plus, false),
                    ('-', _) => (Token::Minus, false),
                    ('/', _) => (Token::Slash, false),
                    ('%', _) => (Token::Percent, false),
                    _ => {
                        return Err(LexError { offset, message: format!("unexpected character '{}'", c.escape_debug()) });
                    }
                };
                if two_chars {
                    chars.next();
                }
                token
            }
        };
        tokens.push(Spanned { token, offset });
    }
    tokens.push(Spanned { token: Token::End, offset: text.len() });
    Ok(tokens)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn read_string(chars: &mut Chars<'_>, quote: char, start: usize) -> Result<String, LexError> {
    let mut text = String::new();
    loop {
        let Some((offset, c)) = chars.next() else {
            return Err(LexError { offset: start, message: "this string is never closed".to_owned() });
        };
        match c {
            c if c == quote => return Ok(text),
            '\\' => {
                let Some((_, escaped)) = chars.next() else {
                    return Err(LexError { offset, message: "the string ends in the middle of an escape".to_owned() });
                };
                match escaped {
                    '\'' | '"' | '\\' | '/' => text.push(escaped),
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                        let decoded = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| LexError { offset, message: format!("'\\u{hex}' is not a valid unicode escape") })?;
                        text.push(decoded);
                    }
                    other => {
                        return Err(LexError { offset, message: format!("'\\{other}' is not a known escape") });
                    }
                }
            }
            c => text.push(c),
        }
    }
}

fn read_number(text: &str, chars: &mut Chars<'_>, start: usize) -> Result<f64, LexError> {
    let mut end = start;
    let is_hex = text[start..].starts_with("0x") || text[start..].starts_with("0X");
    if is_hex {
        chars.next();
        chars.next();
        end += 2;
    }
    while let Some(&(offset, c)) = chars.peek() {
        let part_of_number = if is_hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
                || c == '.'
                || c == 'e'
                || c == 'E'
                || ((c == '+' || c == '-') && matches!(text[..offset].chars().last(), Some('e' | 'E')))
        };
        if !part_of_number {
            break;
        }
        end = offset + c.len_utf8();
        chars.next();
    }
    let literal = &text[start..end];
    let parsed = if is_hex {
        #[allow(clippy::cast_precision_loss)] // hex literals beyond 2^53 lose precision, as in JSON
        u64::from_str_radix(&literal[2..], 16).ok().map(|value| value as f64)
    } else {
        literal.parse::<f64>().ok()
    };
    parsed.ok_or_else(|| LexError { offset: start, message: format!("'{literal}' is not a number") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token> {
        tokenize(text).unwrap().into_iter().map(|spanned| spanned.token).collect()
    }

    #[test]
    fn reads_every_token_kind() {
        assert_eq!(
            kinds("SELECT * FROM devices WHERE tags.b >= 4.5 AND x <> 'it''s' OR y != \"a\\\"b\" AND z IN [0x1F, -2e3]"),
            vec![
                Token::Ident("SELECT".into()),
                Token::Star,
                Token::Ident("FROM".into()),
                Token::Ident("devices".into()),
                Token::Ident("WHERE".into()),
                Token::Ident("tags".into()),
                Token::Dot,
                Token::Ident("b".into()),
                Token::GtEq,
                Token::Number(4.5),
                Token::Ident("AND".into()),
                Token::Ident("x".into()),
                Token::NotEq,
                Token::Str("it".into()),
                Token::Str("s".into()),
                Token::Ident("OR".into()),
                Token::Ident("y".into()),
                Token::NotEq,
                Token::Str("a\"b".into()),
                Token::Ident("AND".into()),
                Token::Ident("z".into()),
                Token::Ident("IN".into()),
                Token::LBracket,
                Token::Number(31.0),
                Token::Comma,
                Token::Minus,
                Token::Number(2000.0),
                Token::RBracket,
                Token::End,
            ]
        );
    }

    #[test]
    fn dollar_names_and_unicode_escapes() {
        assert_eq!(kinds("$version '\\u00e9'"), vec![Token::Ident("$version".into()), Token::Str("é".into()), Token::End]);
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(tokenize("a = 'open").unwrap_err().offset, 4);
        assert_eq!(tokenize("a = #").unwrap_err(), LexError { offset: 4, message: "unexpected character '#'".into() });
        assert!(tokenize("'\\q'").unwrap_err().message.contains("\\q"));
    }
}
