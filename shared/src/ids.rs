//! Identifiers that appear in keys and URL paths: tenant ids, provider names, group names.

/// Tenant ids, provider names and group names: short, URL-safe, unambiguous in keys.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn ids_are_short_url_safe_and_unambiguous_in_keys() {
        assert!(valid_id("acme-bank_2"));
        for bad in ["", "a#b", "a/b", "a b", "ünï", &"x".repeat(65)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
