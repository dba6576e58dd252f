//! The subset of kubectl's JSONPath that printer columns and selectable fields use (`.a[0]`, filters, ...).

use serde_json::Value;

/// A JSONPath that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized column definition {0:?}")]
pub struct PathError(pub String);

#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `..name`: the field at any depth.
    Descend(String),
    /// `[*]` or `.*`: every element or property value.
    Wildcard,
    /// `[n]`, negative counting from the end.
    Index(i64),
    /// `[a:b]`.
    Slice(Option<i64>, Option<i64>),
    /// `[?(...)]`.
    Filter(Filter),
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    /// `@.a.b` relative to the element.
    Path(Vec<Step>),
    /// A literal.
    Literal(Value),
}

#[derive(Clone, Debug, PartialEq)]
enum Filter {
    /// `@.x`: the element has a non-null `x`.
    Exists(Vec<Step>),
    /// `left op right`.
    Compare(Operand, String, Operand),
}

/// A parsed JSONPath.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn error(&self) -> PathError {
        PathError(self.text.to_string())
    }

    fn identifier(&mut self) -> String {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == '.' || c == '[' || c.is_whitespace() || "=!<>)".contains(c) {
                break;
            }
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn quoted(&mut self) -> Result<String, PathError> {
        let quote = self.peek().ok_or_else(|| self.error())?;
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error()),
                Some('\\') => {
                    self.at += 1;
                    text.push(self.peek().ok_or_else(|| self.error())?);
                    self.at += 1;
                }
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Option<i64> {
        let start = self.at;
        if self.peek() == Some('-') {
            self.at += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        if text.is_empty() || text == "-" {
            self.at = start;
            return None;
        }
        text.parse().ok()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// Steps until the end, or (inside a filter) until an operator or `)`.
    fn steps(&mut self, in_filter: bool) -> Result<Vec<Step>, PathError> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                None => return Ok(steps),
                Some(c) if in_filter && (c.is_whitespace() || "=!<>)".contains(c)) => return Ok(steps),
                Some('.') => {
                    self.at += 1;
                    if self.eat('.') {
                        let name = self.identifier();
                        if name.is_empty() {
                            return Err(self.error());
                        }
                        steps.push(Step::Descend(name));
                    } else if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else {
                        let name = self.identifier();
                        if !name.is_empty() {
                            steps.push(Step::Field(name));
                        } else if self.peek().is_some() && self.peek() != Some('[') {
                            return Err(self.error());
                        }
                    }
                }
                Some('[') => {
                    self.at += 1;
                    steps.push(self.bracket()?);
                    if !self.eat(']') {
                        return Err(self.error());
                    }
                }
                Some(_) if steps.is_empty() && !in_filter => {
                    let name = self.identifier();
                    if name.is_empty() {
                        return Err(self.error());
                    }
                    steps.push(Step::Field(name));
                }
                Some(_) => return Err(self.error()),
            }
        }
    }

    fn bracket(&mut self) -> Result<Step, PathError> {
        self.skip_spaces();
        match self.peek() {
            Some('*') => {
                self.at += 1;
                Ok(Step::Wildcard)
            }
            Some('\'' | '"') => Ok(Step::Field(self.quoted()?)),
            Some('?') => {
                self.at += 1;
                if !self.eat('(') {
                    return Err(self.error());
                }
                let filter = self.filter()?;
                if !self.eat(')') {
                    return Err(self.error());
                }
                Ok(Step::Filter(filter))
            }
            _ => {
                let start = self.integer();
                if self.eat(':') {
                    let end = self.integer();
                    return Ok(Step::Slice(start, end));
                }
                start.map(Step::Index).ok_or_else(|| self.error())
            }
        }
    }

    fn operand(&mut self) -> Result<Operand, PathError> {
        self.skip_spaces();
        match self.peek() {
            Some('@') => {
                self.at += 1;
                Ok(Operand::Path(self.steps(true)?))
            }
            Some('\'' | '"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            _ => {
                let word = self.identifier();
                match word.as_str() {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" | "nil" => Ok(Operand::Literal(Value::Null)),
                    _ => word
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(|n| Operand::Literal(Value::Number(n)))
                        .ok_or_else(|| self.error()),
                }
            }
        }
    }

    fn filter(&mut self) -> Result<Filter, PathError> {
        let left = self.operand()?;
        self.skip_spaces();
        let mut operator = String::new();
        while let Some(c) = self.peek().filter(|c| "=!<>".contains(*c)) {
            operator.push(c);
            self.at += 1;
        }
        if operator.is_empty() {
            self.skip_spaces();
            return match left {
                Operand::Path(steps) => Ok(Filter::Exists(steps)),
                Operand::Literal(_) => Err(self.error()),
            };
        }
        if !["==", "!=", "<", ">", "<=", ">="].contains(&operator.as_str()) {
            return Err(self.error());
        }
        let right = self.operand()?;
        self.skip_spaces();
        Ok(Filter::Compare(left, operator, right))
    }
}

impl JsonPath {
    /// Parses a path such as `.status.conditions[?(@.type=="Ready")].status` (braces `{...}` are accepted).
    ///
    /// # Errors
    /// [`PathError`] for anything outside the supported subset.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let trimmed = text.trim();
        let inner = trimmed.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(trimmed);
        let inner = inner.strip_prefix('$').unwrap_or(inner);
        let mut parser = Parser { text, chars: inner.chars().collect(), at: 0 };
        let steps = parser.steps(false)?;
        Ok(Self { steps })
    }

    /// Every value the path selects in `value`, in document order (missing keys select nothing).
    pub fn find<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        evaluate(&self.steps, vec![value])
    }

    /// The first selected value.
    pub fn first<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.find(value).into_iter().next()
    }
}

fn evaluate<'a>(steps: &[Step], mut current: Vec<&'a Value>) -> Vec<&'a Value> {
    for step in steps {
        let mut next = Vec::new();
        for value in current {
            apply(step, value, &mut next);
        }
        current = next;
    }
    current
}

fn index(len: usize, i: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then(|| usize::try_from(i).ok()).flatten()
}

fn descend<'a>(name: &str, value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(found) = map.get(name) {
                out.push(found);
            }
            map.values().for_each(|child| descend(name, child, out));
        }
        Value::Array(items) => items.iter().for_each(|child| descend(name, child, out)),
        _ => {}
    }
}

fn apply<'a>(step: &Step, value: &'a Value, out: &mut Vec<&'a Value>) {
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => out.extend(map.get(name)),
        (Step::Descend(name), _) => descend(name, value, out),
        (Step::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Step::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Step::Index(i), Value::Array(items)) => out.extend(index(items.len(), *i).and_then(|i| items.get(i))),
        (Step::Slice(start, end), Value::Array(items)) => {
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
            let (start, end) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
            let range = usize::try_from(start).unwrap_or(0)..usize::try_from(end.max(start)).unwrap_or(0);
            out.extend(items.get(range).into_iter().flatten());
        }
        (Step::Filter(filter), Value::Array(items)) => out.extend(items.iter().filter(|item| matches(filter, item))),
        _ => {}
    }
}

fn resolve<'a>(operand: &'a Operand, item: &'a Value) -> Option<&'a Value> {
    match operand {
        Operand::Path(steps) => evaluate(steps, vec![item]).into_iter().next(),
        Operand::Literal(value) => Some(value),
    }
}

fn matches(filter: &Filter, item: &Value) -> bool {
    match filter {
        Filter::Exists(steps) => evaluate(steps, vec![item]).iter().any(|v| !v.is_null()),
        Filter::Compare(left, operator, right) => {
            let (Some(left), Some(right)) = (resolve(left, item), resolve(right, item)) else { return false };
            let ordering = match (left, right) {
                (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                (a, b) if a == b => Some(std::cmp::Ordering::Equal),
                _ => None,
            };
            match operator.as_str() {
                "==" => ordering == Some(std::cmp::Ordering::Equal),
                "!=" => ordering != Some(std::cmp::Ordering::Equal),
                "<" => ordering == Some(std::cmp::Ordering::Less),
                ">" => ordering == Some(std::cmp::Ordering::Greater),
                "<=" => ordering.is_some_and(|o| o != std::cmp::Ordering::Greater),
                ">=" => ordering.is_some_and(|o| o != std::cmp::Ordering::Less),
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::JsonPath;

    fn first(path: &str, value: &serde_json::Value) -> Option<serde_json::Value> {
        JsonPath::parse(path).ok().and_then(|p| p.first(value).cloned())
    }

    #[test]
    fn dotted_fields_indexes_and_quoted_keys_select_values() {
        let object = json!({"spec": {"replicas": 3, "containers": [{"image": "a"}, {"image": "b"}]},
                            "metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
        assert_eq!(first(".spec.replicas", &object), Some(json!(3)));
        assert_eq!(first(".spec.containers[1].image", &object), Some(json!("b")));
        assert_eq!(first(".spec.containers[-1].image", &object), Some(json!("b")));
        assert_eq!(first("{.spec.containers[*].image}", &object), Some(json!("a")));
        assert_eq!(first(".metadata.labels['app.kubernetes.io/name']", &object), Some(json!("web")));
        assert_eq!(first("..image", &object), Some(json!("a")));
        assert_eq!(first(".spec.missing.deeper", &object), None);
    }

    #[test]
    fn filters_pick_the_matching_condition() {
        let object = json!({"status": {"conditions": [
            {"type": "Scheduled", "status": "True", "count": 1},
            {"type": "Ready", "status": "False", "count": 5}]}});
        assert_eq!(first(r#".status.conditions[?(@.type=="Ready")].status"#, &object), Some(json!("False")));
        assert_eq!(first(".status.conditions[?(@.type=='Scheduled')].status", &object), Some(json!("True")));
        assert_eq!(first(".status.conditions[?(@.count > 2)].type", &object), Some(json!("Ready")));
        assert_eq!(first(".status.conditions[?(@.missing)].type", &object), None);
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for path in [".spec[", ".status.conditions[?(@.type==)]", ".a[x]", "..", ".spec.conditions[?(@.a ~ 1)]"] {
            assert!(JsonPath::parse(path).is_err(), "{path}");
        }
    }
}
