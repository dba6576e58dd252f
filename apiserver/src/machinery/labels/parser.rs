//! The label selector lexer and recursive-descent parser, with apimachinery's error wording.

use std::collections::BTreeSet;

use super::Requirement;
use crate::machinery::names::{is_label_key, is_label_value};

/// Tokens of the selector language; identifiers also carry keys and values.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A lexing failure; the literal is the message.
    Error,
    End,
    ClosedPar,
    Comma,
    /// `!`.
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// Where the parser is: `in`/`notin` are keywords after a key, plain identifiers where values are expected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// The operator of a requirement while it is being parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    Exists,
    DoesNotExist,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(byte: u8) -> bool {
    matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// A byte lexer; like apimachinery's, a NUL byte reads as the end of a token.
struct Lexer<'a> {
    text: &'a str,
    position: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.text.as_bytes().get(self.position) {
            Some(&byte) => {
                self.position += 1;
                byte
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.position = self.position.saturating_sub(1);
    }

    fn next_token(&mut self) -> (Token, String) {
        let mut byte = self.read();
        while is_whitespace(byte) {
            byte = self.read();
        }
        if byte == 0 {
            return (Token::End, String::new());
        }
        self.unread();
        if is_special(byte) { self.special_symbol() } else { self.identifier_or_keyword() }
    }

    fn identifier_or_keyword(&mut self) -> (Token, String) {
        let start = self.position;
        let mut end = start;
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if is_special(byte) || is_whitespace(byte) {
                self.unread();
                break;
            }
            end = self.position;
        }
        // Boundaries are ASCII bytes (or the end), so the slice is valid UTF-8.
        let text = self.text.get(start..end).unwrap_or_default().to_string();
        match keyword(&text) {
            Some(token) => (token, text),
            None => (Token::Identifier, text),
        }
    }

    fn special_symbol(&mut self) -> (Token, String) {
        let mut buffer = String::new();
        let mut last: Option<(Token, String)> = None;
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if !is_special(byte) {
                self.unread();
                break;
            }
            buffer.push(char::from(byte));
            if let Some(token) = keyword(&buffer) {
                last = Some((token, buffer.clone()));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        last.unwrap_or_else(|| (Token::Error, format!("error expected: keyword found '{buffer}'")))
    }
}

/// Parses a selector string into requirements (unsorted), or apimachinery's error text.
pub(super) fn parse(text: &str) -> Result<Vec<Requirement>, String> {
    let mut lexer = Lexer { text, position: 0 };
    let mut items = Vec::new();
    loop {
        let item = lexer.next_token();
        let done = item.0 == Token::End;
        items.push(item);
        if done {
            break;
        }
    }
    Parser { items, position: 0 }.parse()
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn lookahead(&self, context: Context) -> (Token, String) {
        let (token, literal) = self.items.get(self.position).cloned().unwrap_or((Token::End, String::new()));
        match token {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement =
                        self.parse_requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!("found '{literal}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{literal}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(requirements),
                _ => return Err(format!("found '{literal}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, operator) = self.parse_key_and_infer_operator()?;
        if let Some(operator @ (Operator::Exists | Operator::DoesNotExist)) = operator {
            return new_requirement(key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, operator, values.into_iter().collect())
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let problems = is_label_key(&literal);
        if !problems.is_empty() {
            return Err(format!("<nil>: Invalid value: {}: {}", quote(&literal), problems.join("; ")));
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::End || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{literal}', expected: {BINARY_OPERATORS}")),
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{literal}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => {}
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (next, _) = self.lookahead(Context::Values);
        if next == Token::End || next == Token::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// A JSON-quoted string, as field errors show values.
fn quote(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Builds a requirement, checking values as `labels.NewRequirement` does (errors aggregated like Go's).
fn new_requirement(key: String, operator: Operator, values: Vec<String>) -> Result<Requirement, String> {
    let mut errors: Vec<String> = Vec::new();
    let mut number = None;
    if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
        for (index, value) in values.iter().enumerate() {
            match value.parse::<i64>() {
                Ok(parsed) => number = Some(parsed),
                Err(_) => errors.push(format!(
                    "values[{index}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                    quote(value)
                )),
            }
        }
    }
    for (index, value) in values.iter().enumerate() {
        let problems = is_label_value(value);
        if !problems.is_empty() {
            errors.push(format!("values[{index}][{key}]: Invalid value: {}: {}", quote(value), problems.join("; ")));
        }
    }
    if !errors.is_empty() {
        let mut seen = BTreeSet::new();
        errors.retain(|e| seen.insert(e.clone()));
        return Err(if errors.len() == 1 { errors.remove(0) } else { format!("[{}]", errors.join(", ")) });
    }
    let single = || values.first().cloned().unwrap_or_default();
    Ok(match operator {
        Operator::In => Requirement::In(key, values),
        Operator::NotIn => Requirement::NotIn(key, values),
        Operator::Equals => Requirement::Equals(key, single()),
        Operator::DoubleEquals => Requirement::DoubleEquals(key, single()),
        Operator::NotEquals => Requirement::NotEquals(key, single()),
        Operator::GreaterThan => Requirement::GreaterThan(key, number.unwrap_or_default()),
        Operator::LessThan => Requirement::LessThan(key, number.unwrap_or_default()),
        Operator::Exists => Requirement::Exists(key),
        Operator::DoesNotExist => Requirement::DoesNotExist(key),
    })
}
