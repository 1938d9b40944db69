//! Masking for logs: full phone numbers and secrets never reach a log line.

/// `+15551231234` -> `+1555***1234`. Short or odd inputs keep at most their last two characters.
pub fn phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() >= 9 {
        let head: String = chars[..5].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}***{tail}")
    } else if chars.len() > 2 {
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("***{tail}")
    } else {
        "***".to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_the_middle_of_a_number() {
        assert_eq!(super::phone("+15551231234"), "+1555***1234");
        assert_eq!(super::phone("+442079460958"), "+4420***0958");
        assert_eq!(super::phone("12345"), "***45");
        assert_eq!(super::phone(""), "***");
    }
}
