//! Name, label-key and label-value syntax with apimachinery's exact messages, and `generateName` suffixes.

mod object_meta;
#[cfg(test)]
mod tests;

pub(crate) use object_meta::{FIELD_MANAGER_MAX_LENGTH, is_printable};
pub use object_meta::{
    validate_annotations, validate_field_manager, validate_labels, validate_object_meta, validate_object_meta_update,
};

/// Checks a name (or, with `prefix`, a `generateName`) and returns one message per broken rule; empty = valid.
pub type NameValidator = fn(&str, bool) -> Vec<String>;

/// Longest DNS-1123 label (and label name part, and label value).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;

/// How many random characters `generateName` appends.
const RANDOM_LENGTH: usize = 5;
/// Longest `generateName` prefix kept before the random suffix (so the result fits a 63-byte label).
const MAX_GENERATED_PREFIX_LENGTH: usize = DNS1123_LABEL_MAX_LENGTH - RANDOM_LENGTH;
/// The characters of generated suffixes: no vowels, no look-alikes.
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `must be no more than N bytes`.
pub fn max_len_message(length: usize) -> String {
    format!("must be no more than {length} bytes")
}

/// A regex-failure message in apimachinery's wording, examples included.
fn regex_message(message: &str, regex: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{regex}')");
    }
    let mut text = format!("{message} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            text.push_str(" or ");
        }
        text.push('\'');
        text.push_str(example);
        text.push_str("', ");
    }
    text.push_str("regex used for validation is '");
    text.push_str(regex);
    text.push_str("')");
    text
}

/// Whether `value` matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn matches_dns_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-'),
        _ => false,
    }
}

/// Whether `value` matches the DNS-1123 subdomain regex (dot-separated labels).
fn matches_dns_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns_label)
}

/// Whether `value` matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_label_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Problems of `value` as a DNS-1123 label (namespace names, many resource names); empty = valid.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errors.push(max_len_message(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns_label(value) {
        if matches_dns_subdomain(value) {
            errors.push("must not contain dots".to_string());
        } else {
            errors.push(regex_message(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errors
}

/// Problems of `value` as a lowercase DNS-1123 subdomain (most resource names); empty = valid.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errors.push(max_len_message(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns_subdomain(value) {
        errors.push(regex_message(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errors
}

/// Problems of `value` as a label key (a "qualified name": optional DNS-subdomain prefix and `/`, then a name of
/// at most 63 characters); also used for annotation keys and finalizers. Empty = valid.
pub fn is_label_key(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(is_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errors.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_message(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > DNS1123_LABEL_MAX_LENGTH {
        errors.push(format!("name part {}", max_len_message(DNS1123_LABEL_MAX_LENGTH)));
    }
    if !matches_label_name(name) {
        errors.push(format!(
            "name part {}",
            regex_message(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errors
}

/// Problems of `value` as a label value (empty is valid); empty list = valid.
pub fn is_label_value(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errors.push(max_len_message(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_label_name(value) {
        errors.push(regex_message(LABEL_VALUE_ERR, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errors
}

/// apimachinery's treatment of a `generateName` prefix: a trailing dash is allowed because characters follow it.
/// (It replaces the last two characters by `a`, exactly as apimachinery does.)
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        // Both the dash and the byte before it are dropped. Cutting inside a multi-byte character leaves invalid
        // UTF-8 in Go, which never validates; a replacement character keeps that outcome.
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            format!("{}a", &name[..cut])
        } else {
            let mut boundary = cut;
            while !name.is_char_boundary(boundary) {
                boundary -= 1;
            }
            format!("{}\u{FFFD}a", &name[..boundary])
        }
    } else {
        name.to_string()
    }
}

/// A [`NameValidator`] for names that must be DNS-1123 subdomains (ConfigMaps, Deployments, CRs, ...).
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix { is_dns1123_subdomain(&mask_trailing_dash(name)) } else { is_dns1123_subdomain(name) }
}

/// A [`NameValidator`] for names that must be DNS-1123 labels (Namespaces, Services, ...).
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix { is_dns1123_label(&mask_trailing_dash(name)) } else { is_dns1123_label(name) }
}

/// A name for `generateName`: the prefix (cut to 58 bytes) followed by 5 random characters.
pub fn generate_name(prefix: &str) -> String {
    let mut cut = prefix.len().min(MAX_GENERATED_PREFIX_LENGTH);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = String::with_capacity(cut + RANDOM_LENGTH);
    name.push_str(&prefix[..cut]);
    for _ in 0..RANDOM_LENGTH {
        let index = fastrand::usize(..SUFFIX_ALPHABET.len());
        name.push(char::from(SUFFIX_ALPHABET[index]));
    }
    name
}
