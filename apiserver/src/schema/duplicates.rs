//! A streaming pass over a raw JSON body: duplicate keys (as kube's strict decoder reports them) and key positions.

use std::collections::{HashMap, HashSet};

/// At most this many duplicates are reported, as kube's decoder caps its strict errors.
const MAX_REPORTED: usize = 100;

/// Duplicate keys of `raw` as `(byte offset, path)` in document order, e.g. `spec.replicas` or
/// `spec.containers[0].name`; each path once. Stops quietly at malformed JSON.
pub(super) fn duplicates(raw: &[u8]) -> Vec<(usize, String)> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    scan(raw, true, |offset, path, duplicate| {
        if duplicate && found.len() < MAX_REPORTED && seen.insert(path.to_string()) {
            found.push((offset, path.to_string()));
        }
    });
    found
}

/// The byte offset where each of `paths` first appears as a key in `raw` (`None` when it does not).
pub(super) fn positions(raw: &[u8], paths: &[String]) -> Vec<Option<usize>> {
    let wanted: HashMap<&str, usize> = paths.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
    let mut positions = vec![None; paths.len()];
    scan(raw, false, |offset, path, _| {
        if let Some(&index) = wanted.get(path) {
            positions[index].get_or_insert(offset);
        }
    });
    positions
}

enum Frame {
    Object { path_len: usize, keys: HashSet<String> },
    Array { path_len: usize, index: usize },
}

enum State {
    Value,
    AfterValue,
    Key,
}

struct Cursor<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn skip_whitespace(&mut self) {
        while matches!(self.raw.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.raw.get(self.pos).copied()
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.raw.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let value = u32::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(value)
    }

    /// The string starting at the current `"`, unescaped (`decode`) or skipped.
    fn string(&mut self, decode: bool) -> Option<String> {
        self.pos += 1;
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let byte = self.peek()?;
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escape = self.peek()?;
                    self.pos += 1;
                    let decoded: char = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let high = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&high)
                                && self.raw.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                match self.hex4() {
                                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                                    }
                                    _ => {
                                        self.pos = save;
                                        0xFFFD
                                    }
                                }
                            } else {
                                high
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return None,
                    };
                    if decode {
                        let mut buffer = [0u8; 4];
                        bytes.extend_from_slice(decoded.encode_utf8(&mut buffer).as_bytes());
                    }
                }
                other => {
                    if decode {
                        bytes.push(other);
                    }
                }
            }
        }
        Some(if decode { String::from_utf8_lossy(&bytes).into_owned() } else { String::new() })
    }

    fn scalar(&mut self) -> Option<()> {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }
}

/// Walks `raw`, calling `on_key(offset, path, duplicate)` for every object key; `duplicate` is only computed when
/// `find_duplicates`. Iterative, so deep nesting cannot overflow the stack; stops at the first syntax error.
fn scan(raw: &[u8], find_duplicates: bool, mut on_key: impl FnMut(usize, &str, bool)) {
    let mut cursor = Cursor { raw, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    let mut path = String::new();
    let mut state = State::Value;
    loop {
        match state {
            State::Value => {
                cursor.skip_whitespace();
                match cursor.peek() {
                    Some(b'{') => {
                        cursor.pos += 1;
                        stack.push(Frame::Object { path_len: path.len(), keys: HashSet::new() });
                        cursor.skip_whitespace();
                        if cursor.peek() == Some(b'}') {
                            cursor.pos += 1;
                            stack.pop();
                            state = State::AfterValue;
                        } else {
                            state = State::Key;
                        }
                    }
                    Some(b'[') => {
                        cursor.pos += 1;
                        stack.push(Frame::Array { path_len: path.len(), index: 0 });
                        cursor.skip_whitespace();
                        if cursor.peek() == Some(b']') {
                            cursor.pos += 1;
                            stack.pop();
                            state = State::AfterValue;
                        } else {
                            path.push_str("[0]");
                        }
                    }
                    Some(b'"') => {
                        if cursor.string(false).is_none() {
                            return;
                        }
                        state = State::AfterValue;
                    }
                    Some(_) => {
                        if cursor.scalar().is_none() {
                            return;
                        }
                        state = State::AfterValue;
                    }
                    None => return,
                }
            }
            State::AfterValue => {
                let Some(frame) = stack.last_mut() else { return };
                cursor.skip_whitespace();
                match (cursor.peek(), frame) {
                    (Some(b','), Frame::Object { path_len, .. }) => {
                        path.truncate(*path_len);
                        cursor.pos += 1;
                        state = State::Key;
                    }
                    (Some(b','), Frame::Array { path_len, index }) => {
                        path.truncate(*path_len);
                        cursor.pos += 1;
                        *index += 1;
                        path.push_str(&format!("[{index}]"));
                        state = State::Value;
                    }
                    (Some(b'}'), Frame::Object { path_len, .. }) | (Some(b']'), Frame::Array { path_len, .. }) => {
                        path.truncate(*path_len);
                        cursor.pos += 1;
                        stack.pop();
                    }
                    _ => return,
                }
            }
            State::Key => {
                cursor.skip_whitespace();
                if cursor.peek() != Some(b'"') {
                    return;
                }
                let offset = cursor.pos;
                let Some(key) = cursor.string(true) else { return };
                cursor.skip_whitespace();
                if cursor.peek() != Some(b':') {
                    return;
                }
                cursor.pos += 1;
                let Some(Frame::Object { path_len, keys }) = stack.last_mut() else { return };
                path.truncate(*path_len);
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let duplicate = find_duplicates && !keys.insert(key);
                on_key(offset, &path, duplicate);
                state = State::Value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(raw: &str) -> Vec<String> {
        duplicates(raw.as_bytes()).into_iter().map(|(_, path)| path).collect()
    }

    #[test]
    fn a_repeated_key_is_reported_with_its_full_path() {
        let raw = r#"{"a":1,"b":{"c":1,"c":2},"e":[{"f":1},{"f":1,"f":2}],"a":3}"#;
        assert_eq!(paths(raw), vec!["b.c", "e[1].f", "a"]);
    }

    #[test]
    fn keys_that_differ_only_by_escaping_are_the_same_key() {
        assert_eq!(paths(r#"{"a":1,"\u0061":2}"#), vec!["a"]);
    }

    #[test]
    fn a_body_without_repeats_has_no_duplicates() {
        assert!(paths(r#"{"a":{"a":{"a":[1,"x",{"a":null}]}},"b":"\"}"}"#).is_empty());
    }

    #[test]
    fn malformed_or_deep_input_does_not_panic() {
        for raw in ["", "{", "{\"a\"", "{\"a\":", "[1,", "{\"a\":1,}", "\"\\u12", "{\"a\":tru"] {
            let _ = paths(raw);
        }
        let deep = "[".repeat(100_000);
        assert!(paths(&deep).is_empty());
        let deep_objects = "{\"a\":".repeat(50_000);
        assert!(paths(&deep_objects).is_empty());
    }

    #[test]
    fn positions_follow_the_document() {
        let raw = br#"{"spec":{"zeta":1,"alpha":2},"kind":"X"}"#;
        let wanted = vec!["spec.alpha".to_string(), "spec.zeta".to_string(), "nope".to_string()];
        let found = positions(raw, &wanted);
        assert!(found[1] < found[0]);
        assert_eq!(found[2], None);
    }
}
