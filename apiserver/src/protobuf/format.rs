//! Go's text forms of the values Kubernetes' special types marshal to: RFC 3339 times and `time.Duration`.

use super::DecodeError;

/// Seconds from 0001-01-01T00:00:00Z (Go's zero `time.Time`) to the Unix epoch, negated: the zero time's Unix().
pub(super) const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// `metav1.Time` as JSON: `2006-01-02T15:04:05Z` (UTC, whole seconds).
///
/// # Errors
/// A year outside 0000–9999, which RFC 3339 cannot write.
pub(super) fn time(seconds: i64) -> Result<String, DecodeError> {
    let (date, clock) = civil(seconds)?;
    Ok(format!("{date}T{clock}Z"))
}

/// `metav1.MicroTime` as JSON: `2006-01-02T15:04:05.000000Z`; `seconds` and `micros` as after Go's normalization.
///
/// # Errors
/// As [`time`].
pub(super) fn micro_time(seconds: i64, micros: u32) -> Result<String, DecodeError> {
    let (date, clock) = civil(seconds)?;
    Ok(format!("{date}T{clock}.{micros:06}Z"))
}

/// The date (`YYYY-MM-DD`) and clock (`hh:mm:ss`) of a Unix time in UTC.
fn civil(seconds: i64) -> Result<(String, String), DecodeError> {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Days since 0000-03-01, so each 400-year era starts right after a leap day.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return Err(DecodeError::new(format!("time: year {year} is outside of range [0,9999]")));
    }
    let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    Ok((format!("{year:04}-{month:02}-{day:02}"), format!("{hour:02}:{minute:02}:{second:02}")))
}

/// Go's `time.Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `1.5µs`, `7ns`, `0s`.
pub(super) fn duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let total = nanos.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    let body = if total < SECOND {
        let (unit, digits) = match total {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        format!("{}{unit}", decimal(total, digits))
    } else {
        let seconds = decimal(total % (60 * SECOND), 9);
        let minutes = total / (60 * SECOND);
        match (minutes / 60, minutes % 60) {
            (0, 0) => format!("{seconds}s"),
            (0, m) => format!("{m}m{seconds}s"),
            (h, m) => format!("{h}h{m}m{seconds}s"),
        }
    };
    format!("{sign}{body}")
}

/// `value / 10^digits` with the fraction's trailing zeros (and a bare point) left out.
fn decimal(value: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_kubernetes_json_does() {
        assert_eq!(time(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_767_225_600).unwrap(), "2026-01-01T00:00:00Z");
        assert_eq!(time(951_827_696).unwrap(), "2000-02-29T12:34:56Z");
        assert_eq!(time(GO_ZERO_UNIX).unwrap(), "0001-01-01T00:00:00Z");
        assert_eq!(time(253_402_300_799).unwrap(), "9999-12-31T23:59:59Z");
        assert_eq!(time(-1).unwrap(), "1969-12-31T23:59:59Z");
        assert_eq!(micro_time(1_767_225_600, 42).unwrap(), "2026-01-01T00:00:00.000042Z");
    }

    #[test]
    fn times_beyond_year_9999_are_refused() {
        assert!(time(253_402_300_800).is_err());
        assert!(time(i64::MAX).is_err());
        assert!(time(i64::MIN).is_err());
    }

    #[test]
    fn durations_print_as_go_does() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_000_000, "1ms"),
            (500_000_000, "500ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_661_000_000_001, "1h1m1.000000001s"),
            (-2_000_000_000, "-2s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(duration(nanos), text, "{nanos}");
        }
    }
}
