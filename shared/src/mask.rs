//! Masking for logs: full phone numbers and secrets never reach a log line. A number shows its
//! country calling code and its last two digits, no more: enough to tell two log lines apart,
//! too little to find the person.

/// `+14155550123` -> `+1***23`; `+442079460958` -> `+44***58`. Anything that is not a number in
/// E.164 form with a known country code keeps at most its last two characters.
pub fn phone(number: &str) -> String {
    let tail = |s: &str| -> String {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() > 4 {
            chars[chars.len() - 2..].iter().collect()
        } else {
            String::new()
        }
    };
    let code = crate::phone::E164::from_stored(number).and_then(|n| n.country_calling_code());
    match code {
        Some(code) => format!("+{code}***{}", tail(number)),
        None => format!("***{}", tail(number)),
    }
}

#[cfg(test)]
mod tests {
    use super::phone;

    #[test]
    fn a_number_shows_its_country_code_and_last_two_digits_only() {
        assert_eq!(phone("+14155550123"), "+1***23");
        assert_eq!(phone("+442079460958"), "+44***58");
        assert_eq!(phone("+8613800138000"), "+86***00");
        for secretive in ["(415) 555-0123", "4155550123", "+999123456789"] {
            let masked = phone(secretive);
            assert!(masked.starts_with("***") && masked.len() == 5, "{masked}");
        }
        assert_eq!(phone("1234"), "***");
        assert_eq!(phone(""), "***");
    }
}
