//! Single values checked with their span: durations, sizes, templates,
//! base URLs, directories and paths relative to the file.

use super::*;

/// A humantime duration such as `250ms`, `30s`, `15m` or `1h`.
pub(super) fn duration(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    positive: bool,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(humantime::parse_duration(default).expect("valid default duration"));
    };
    let text = value.get_ref().trim();
    let parsed = humantime::parse_duration(text).map_err(|e| {
        src.error(
            Some(value.span()),
            key,
            format!(
                "invalid duration \"{text}\": {e} (write e.g. \"250ms\", \"30s\", \"15m\", \"1h\")"
            ),
        )
    })?;
    if positive && parsed.is_zero() {
        return Err(src.error(Some(value.span()), key, "must be greater than zero"));
    }
    Ok(parsed)
}

/// A size such as `"512MiB"`, `"2GB"`, `"100KiB"` or `"0"` (bytes).
pub(super) fn size(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    positive: bool,
) -> Result<u64, ConfigError> {
    let Some(value) = value else {
        return Ok(parse_size(default).expect("valid default size"));
    };
    let text = value.get_ref().trim();
    let parsed = parse_size(text).ok_or_else(|| {
        src.error(
            Some(value.span()),
            key,
            format!("invalid size \"{text}\" (write e.g. \"500MiB\", \"2GiB\", \"1GB\")"),
        )
    })?;
    if positive && parsed == 0 {
        return Err(src.error(Some(value.span()), key, "must be greater than zero"));
    }
    Ok(parsed)
}

/// Bytes in `text`: a number and an optional unit (B, KB, MB, GB, TB in
/// powers of 1000; KiB, MiB, GiB, TiB in powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * factor as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

pub(super) fn at_least_one(
    src: &Source,
    value: &Option<toml::Spanned<u32>>,
    key: &str,
    default: u32,
) -> Result<u32, ConfigError> {
    match value {
        Some(v) if *v.get_ref() == 0 => Err(src.error(Some(v.span()), key, "must be at least 1")),
        Some(v) => Ok(*v.get_ref()),
        None => Ok(default),
    }
}

pub(super) fn non_empty(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
) -> Result<String, ConfigError> {
    match value {
        Some(v) if v.get_ref().trim().is_empty() => {
            Err(src.error(Some(v.span()), key, "must not be empty"))
        }
        Some(v) => Ok(v.get_ref().clone()),
        None => Ok(default.to_owned()),
    }
}

/// A name template, parsed so that a bad placeholder is a configuration error.
pub(super) fn template(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    kind: TemplateKind,
) -> Result<Template, ConfigError> {
    let text = non_empty(src, value, key, default)?;
    Template::parse(&text, kind)
        .map_err(|e| src.error(value.as_ref().map(|v| v.span()), key, e.to_string()))
}

/// An http(s) URL, with any trailing `/` removed so paths can be appended.
pub(super) fn http_base_url(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok(default.to_owned());
    };
    let text = value.get_ref().trim();
    feeds::check_http_url(text).map_err(|m| src.error(Some(value.span()), key, m))?;
    Ok(text.trim_end_matches('/').to_owned())
}

pub(super) fn dir(
    src: &Source,
    value: &Str,
    key: &str,
    default: &str,
    base: &Path,
) -> Result<PathBuf, ConfigError> {
    match value {
        Some(v) if v.get_ref().trim().is_empty() => {
            Err(src.error(Some(v.span()), key, "must not be empty"))
        }
        Some(v) => Ok(resolve_path(base, v.get_ref())),
        None => Ok(PathBuf::from(default)),
    }
}

/// `path` made absolute against the config file's folder, `.` components
/// dropped (`./state` → `<folder>/state`).
pub(super) fn resolve_path(base: &Path, path: &str) -> PathBuf {
    base.join(path).components().collect()
}
