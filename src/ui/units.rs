//! Sizes and durations the way Docker prints them (its `go-units` package).

use std::time::Duration;

/// Docker's `units.HumanSize`: decimal units, four significant digits (`0B`, `1.5kB`,
/// `23.46MB`), as in `Total reclaimed space`.
pub fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes, 4)
}

/// Docker's `units.HumanSizeWithPrecision`: decimal units, `digits` significant digits
/// (`images` and `ps -s` use 3: `4.26MB`, `12.3kB`).
pub fn human_size_with_precision(bytes: u64, digits: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let whole_digits = if value >= 100.0 {
        3
    } else if value >= 10.0 {
        2
    } else {
        1
    };
    let decimals = digits.saturating_sub(whole_digits);
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

/// Docker's `units.HumanDuration` (`About a minute`, `3 hours`, `2 weeks`).
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1500), "1.5kB");
        assert_eq!(human_size(23_456_789), "23.46MB");
        assert_eq!(human_size(5_000_000_000), "5GB");
        assert_eq!(human_size_with_precision(4_264_000, 3), "4.26MB");
        assert_eq!(human_size_with_precision(12_345, 3), "12.3kB");
        assert_eq!(human_size_with_precision(123_456, 3), "123kB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(
            human_duration(Duration::from_millis(10)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(human_duration(Duration::from_secs(20 * 86400)), "2 weeks");
    }
    #[test]
    fn durations_read_like_docker() {
        assert_eq!(
            human_duration(Duration::from_millis(10)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
    }

    #[test]
    fn sizes_use_decimal_units() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(1_500_000), "1.5MB");
    }

    #[test]
    fn sizes_with_three_digits() {
        assert_eq!(human_size_with_precision(0, 3), "0B");
        assert_eq!(human_size_with_precision(999, 3), "999B");
        assert_eq!(human_size_with_precision(4_261_234, 3), "4.26MB");
        assert_eq!(human_size_with_precision(12_345, 3), "12.3kB");
        assert_eq!(human_size_with_precision(123_456_789, 3), "123MB");
        assert_eq!(human_size_with_precision(1_500_000_000, 3), "1.5GB");
    }

    #[test]
    fn durations_in_every_range() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(59)), "59 seconds");
        assert_eq!(human_duration(s(90)), "About a minute");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(5 * 3600)), "5 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(21 * 86400)), "3 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(800 * 86400)), "2 years");
    }
}
