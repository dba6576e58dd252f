//! CronJob schedules: five-field cron syntax and `@` descriptors, with the messages of kube's cron parser.

const DESCRIPTORS: &[&str] = &["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One field's bounds and names (names map to `offset + index`).
struct Bounds {
    min: i64,
    max: i64,
    names: &'static [&'static str],
    offset: i64,
}

const FIELDS: [Bounds; 5] = [
    Bounds { min: 0, max: 59, names: &[], offset: 0 },
    Bounds { min: 0, max: 23, names: &[], offset: 0 },
    Bounds { min: 1, max: 31, names: &[], offset: 0 },
    Bounds { min: 1, max: 12, names: MONTHS, offset: 1 },
    Bounds { min: 0, max: 6, names: DAYS, offset: 0 },
];

fn number(text: &str, bounds: &Bounds) -> Result<i64, String> {
    if let Some(index) = bounds.names.iter().position(|name| name.eq_ignore_ascii_case(text)) {
        return Ok(bounds.offset + index as i64);
    }
    match text.parse::<i64>() {
        Ok(value) if value < 0 => Err(format!("negative number ({value}) not allowed: {text}")),
        Ok(value) => Ok(value),
        Err(_) => Err(format!("failed to parse int from {text}: strconv.Atoi: parsing {text:?}: invalid syntax")),
    }
}

fn range(expression: &str, bounds: &Bounds) -> Result<(), String> {
    let slashes: Vec<&str> = expression.split('/').collect();
    if slashes.len() > 2 {
        return Err(format!("too many slashes: {expression}"));
    }
    let hyphens: Vec<&str> = slashes[0].split('-').collect();
    let (start, end) = match hyphens.as_slice() {
        ["*" | "?"] => (bounds.min, bounds.max),
        [single] => {
            let value = number(single, bounds)?;
            (value, if slashes.len() == 2 { bounds.max } else { value })
        }
        [low, high] => (number(low, bounds)?, number(high, bounds)?),
        _ => return Err(format!("too many hyphens: {expression}")),
    };
    if let [_, step] = slashes.as_slice()
        && number(step, bounds)? <= 0
    {
        return Err(format!("step of range should be a positive number: {expression}"));
    }
    if start < bounds.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expression}", bounds.min));
    }
    if end > bounds.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expression}", bounds.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expression}"));
    }
    Ok(())
}

/// Checks a schedule; the error is the parser's message.
pub(crate) fn parse(schedule: &str) -> Result<(), String> {
    let spec = schedule.trim();
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    if let Some(descriptor) = spec.strip_prefix('@') {
        if let Some(every) = descriptor.strip_prefix("every ") {
            return humantime::parse_duration(every.trim())
                .map(|_| ())
                .map_err(|_| format!("failed to parse duration {spec}: time: invalid duration {:?}", every.trim()));
        }
        return if DESCRIPTORS.contains(&spec) { Ok(()) } else { Err(format!("unrecognized descriptor: {spec}")) };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    for (field, bounds) in fields.iter().zip(FIELDS.iter()) {
        for expression in field.split(',') {
            range(expression, bounds)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn standard_schedules_and_descriptors_are_accepted() {
        for schedule in
            ["*/5 * * * *", "0 0 * * 0", "15 2 1-15 JAN-MAR mon-fri", "@hourly", "@every 1h30m", "0 0 ? * *"]
        {
            assert_eq!(parse(schedule), Ok(()), "{schedule}");
        }
    }

    #[test]
    fn malformed_schedules_are_rejected_with_the_parsers_words() {
        assert_eq!(parse("* * *"), Err("expected exactly 5 fields, found 3: [* * *]".to_string()));
        assert_eq!(parse("0 24 * * *"), Err("end of range (24) above maximum (23): 24".to_string()));
        assert_eq!(parse("@weekdays"), Err("unrecognized descriptor: @weekdays".to_string()));
        assert!(parse("x * * * *").is_err_and(|e| e.starts_with("failed to parse int from x")));
    }
}
