//! String formats kube-apiserver validates in CRD schemas (`date-time`, `uuid`, `ipv4`, `k8s-short-name`, ...).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::OnceLock,
};

use base64::Engine;
use regex::Regex;

fn regex(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

macro_rules! matches_regex {
    ($pattern:literal, $value:expr) => {{
        static CELL: OnceLock<Option<Regex>> = OnceLock::new();
        regex(&CELL, $pattern).is_none_or(|r| r.is_match($value))
    }};
}

/// Whether `value` is valid for `format`; `None` when kube does not check that format (anything goes).
pub(super) fn check(format: &str, value: &str) -> Option<bool> {
    let normalized = format.replace('-', "");
    Some(match normalized.as_str() {
        "datetime" => is_date_time(value),
        "date" => is_date(value),
        "duration" => is_duration(value),
        "byte" => base64::engine::general_purpose::STANDARD.decode(value).is_ok(),
        "uuid" => matches_regex!(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", value),
        "uuid3" => matches_regex!(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", value),
        "uuid4" => {
            matches_regex!(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", value)
        }
        "uuid5" => {
            matches_regex!(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", value)
        }
        "ipv4" => value.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => value.contains(':') && value.parse::<IpAddr>().is_ok(),
        "cidr" => is_cidr(value),
        "mac" => matches_regex!(
            r"^([0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){7}|[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){19}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){2}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){3}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){9})$",
            value
        ),
        "hostname" => is_hostname(value),
        "email" => matches_regex!(r"^([^<>@\s]+@[^<>@\s]+\.?[^<>@\s]*|[^<>]*<[^<>@\s]+@[^<>@\s]+>)$", value),
        "uri" => value.starts_with('/') || matches_regex!(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$", value),
        "bsonobjectid" => matches_regex!(r"^[0-9a-fA-F]{24}$", value),
        "hexcolor" => matches_regex!(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", value),
        "rgbcolor" => matches_regex!(
            r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$",
            value
        ),
        "ssn" => matches_regex!(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", value),
        "k8sshortname" => is_dns_label(value),
        "k8slongname" => is_dns_subdomain(value),
        "password" | "isbn" | "isbn10" | "isbn13" | "creditcard" => true,
        _ => return None,
    })
}

fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| value.get(range).and_then(|s| s.parse::<u32>().ok());
    match (number(0..4), number(5..7), number(8..10)) {
        (Some(year), Some(month), Some(day)) => {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let days = match month {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => return false,
            };
            (1..=days).contains(&day)
        }
        _ => false,
    }
}

fn is_date_time(value: &str) -> bool {
    let Some(date) = value.get(..10) else { return false };
    if !is_date(date) {
        return false;
    }
    matches_regex!(
        r"^[Tt ]([01]\d|2[0-3]):[0-5]\d(:([0-5]\d|60)(\.\d+)?)?([Zz]|[+-]([01]\d|2[0-3]):?[0-5]\d)?$",
        &value[10..]
    )
}

fn is_duration(value: &str) -> bool {
    matches_regex!(
        r"^[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)([-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))*$",
        value
    ) || value == "0"
        || matches_regex!(
            r"^\d+\s?(ns|nanoseconds?|us|microseconds?|ms|milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?|w|weeks?)$",
            value
        )
}

fn is_cidr(value: &str) -> bool {
    let Some((address, prefix)) = value.split_once('/') else { return false };
    let Ok(prefix) = prefix.parse::<u8>() else { return false };
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => prefix <= 32,
        Ok(IpAddr::V6(_)) => prefix <= 128 && address.parse::<Ipv6Addr>().is_ok(),
        Err(_) => false,
    }
}

fn is_hostname(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// RFC 1123 label: lower-case alphanumerics and `-`, starting and ending alphanumeric, at most 63 characters.
pub(super) fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub(super) fn is_dns_subdomain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 253 && value.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_formats_accept_good_values_and_refuse_bad_ones() {
        let cases = [
            ("date-time", "2024-02-29T10:00:00Z", true),
            ("date-time", "2024-02-30T10:00:00Z", false),
            ("date-time", "yesterday", false),
            ("date", "2023-12-31", true),
            ("date", "2023-13-01", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "not-a-uuid", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0.256", false),
            ("ipv6", "::1", true),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "***", false),
            ("duration", "1h30m", true),
            ("duration", "soon", false),
            ("k8s-short-name", "my-name", true),
            ("k8s-short-name", "My_Name", false),
            ("k8s-long-name", "a.b-c.d", true),
            ("hostname", "example.com", true),
            ("hostname", "-bad-.com", false),
            ("mac", "00:1a:2b:3c:4d:5e", true),
        ];
        for (format, value, valid) in cases {
            assert_eq!(check(format, value), Some(valid), "{format} {value}");
        }
        assert_eq!(check("int-or-string", "x"), None);
    }
}
