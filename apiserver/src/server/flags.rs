//! The command-line defaults of a flag group, for code that builds options without a command line.

/// The values `T`'s flags take when only `required` (the flags `T` cannot do without) are given.
///
/// # Panics
/// When `required` does not satisfy `T`'s flags: a programming error in the caller, never user input.
pub fn defaults<T: clap::Args>(required: &[&str]) -> T {
    let command = T::augment_args(clap::Command::new("flotilla").no_binary_name(true));
    let parsed = command.try_get_matches_from(required).and_then(|matches| T::from_arg_matches(&matches));
    parsed.unwrap_or_else(|error| panic!("the defaults of a flag group with {required:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::defaults;

    #[derive(clap::Args, Debug, PartialEq)]
    struct Group {
        #[arg(long, default_value_t = 7)]
        retries: u32,
        #[arg(long)]
        target: String,
    }

    #[test]
    fn defaults_fill_what_the_required_flags_leave_out() {
        assert_eq!(defaults::<Group>(&["--target", "x"]), Group { retries: 7, target: "x".into() });
    }

    #[test]
    #[should_panic(expected = "--target")]
    fn a_missing_required_flag_is_named() {
        let _ = defaults::<Group>(&[]);
    }
}
