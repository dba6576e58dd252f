//! Resource quantities as exact integers (milli-units), with the canonical text Kubernetes writes for sums.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// How a quantity prints: powers of 1024 (`Ki`, `Mi`, ...) or powers of 1000 (`m`, `k`, `M`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, `Gi`, ... when the value is a whole multiple, else decimal.
    BinarySi,
    /// `m`, (none), `k`, `M`, `G`, ...
    DecimalSi,
}

/// A parsed quantity: its value in thousandths of a unit (rounded up, as Kubernetes' `MilliValue` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    /// Value × 1000.
    pub milli: i128,
    /// Suffix family it was written in.
    pub format: Format,
}

const BINARY: [(&str, u32); 6] = [("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60)];
const DECIMAL: [(&str, i32); 8] = [("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15)];

impl Amount {
    /// Parses Kubernetes quantity syntax (`1500m`, `2`, `128Gi`, `1e3`, `0.5`); `None` when it is not one.
    pub fn parse(text: &str) -> Option<Amount> {
        let text = text.trim();
        let split =
            text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let (negative, number) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        // digits as an integer scaled by 10^-len(fraction)
        let digits: i128 = format!("{whole}{fraction}").trim_start_matches('0').parse().unwrap_or(0);
        let scale = -(fraction.len() as i32);
        let (mut numerator, mut exponent10, format) =
            if let Some(&(_, shift)) = BINARY.iter().find(|(name, _)| *name == suffix) {
                (digits.checked_mul(1i128 << shift)?, scale, Format::BinarySi)
            } else if suffix.is_empty() {
                (digits, scale, Format::DecimalSi)
            } else if let Some(&(_, exp)) = DECIMAL.iter().find(|(name, _)| *name == suffix) {
                (digits, scale + exp, Format::DecimalSi)
            } else if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
                (digits, scale + exp.parse::<i32>().ok()?, Format::DecimalSi)
            } else {
                return None;
            };
        // to milli-units, rounding up
        exponent10 += 3;
        while exponent10 > 0 {
            numerator = numerator.checked_mul(10)?;
            exponent10 -= 1;
        }
        while exponent10 < 0 {
            numerator = (numerator + 9) / 10;
            exponent10 += 1;
        }
        Some(Amount { milli: if negative { -numerator } else { numerator }, format })
    }

    /// Reads a `Quantity`; unparsable text counts as zero (the API server validates quantities on write).
    pub fn of(quantity: &Quantity) -> Amount {
        Amount::parse(&quantity.0).unwrap_or(Amount { milli: 0, format: Format::DecimalSi })
    }

    /// Whole units, rounded up (Kubernetes' `Value`).
    pub fn value(&self) -> i128 {
        if self.milli >= 0 { (self.milli + 999) / 1000 } else { self.milli / 1000 }
    }

    /// The canonical text, as Kubernetes prints a quantity of this value and format.
    pub fn to_quantity(self) -> Quantity {
        Quantity(self.canonical())
    }

    fn canonical(self) -> String {
        if self.milli == 0 {
            return "0".to_owned();
        }
        if self.format == Format::BinarySi && self.milli % 1000 == 0 {
            let units = self.milli / 1000;
            if units.abs() >= 1024 {
                for &(name, shift) in BINARY.iter().rev() {
                    let size = 1i128 << shift;
                    if units % size == 0 {
                        return format!("{}{name}", units / size);
                    }
                }
            } else {
                return units.to_string();
            }
        }
        let suffixes = [(18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, "")];
        for (exp, name) in suffixes {
            let size = 10i128.pow(exp + 3);
            if self.milli % size == 0 {
                return format!("{}{name}", self.milli / size);
            }
        }
        format!("{}m", self.milli)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Amount::parse(text).map(|a| a.to_quantity().0).unwrap_or_else(|| "invalid".into())
    }

    #[test]
    fn quantities_read_and_print_the_way_kubernetes_does() {
        assert_eq!(canonical("1500m"), "1500m");
        assert_eq!(canonical("2000m"), "2");
        assert_eq!(canonical("0.5"), "500m");
        assert_eq!(canonical("128Gi"), "128Gi");
        assert_eq!(canonical("1536Mi"), "1536Mi");
        assert_eq!(canonical("1e3"), "1k");
        assert_eq!(canonical("110"), "110");
        assert_eq!(canonical("100Mi").len(), 5);
        assert_eq!(canonical("abc"), "invalid");
        assert_eq!(Amount::parse("1Gi").map(|a| a.value()), Some(1 << 30));
        assert_eq!(Amount::parse("1n").map(|a| a.milli), Some(1));
    }
}
