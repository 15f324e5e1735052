//! Container ids (64 hex digits, like Docker's) and generated names.

/// Makes a 64-hex id from 32 random bytes.
pub fn container_id(random: [u8; 32]) -> String {
    hex::encode(random)
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "agile",
    "amazing",
    "brave",
    "bold",
    "calm",
    "clever",
    "cool",
    "crisp",
    "dazzling",
    "eager",
    "elegant",
    "fervent",
    "focused",
    "gallant",
    "gentle",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "lucid",
    "merry",
    "modest",
    "nifty",
    "noble",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "sweet",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];

const NOUNS: &[&str] = &[
    "albattani",
    "babbage",
    "bohr",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "fermi",
    "feynman",
    "galileo",
    "gauss",
    "hamilton",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamport",
    "lovelace",
    "mccarthy",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "wozniak",
];

/// An adjective_noun name, like Docker's, chosen by `random`.
pub fn generated_name(random: u32) -> String {
    let a = ADJECTIVES[random as usize % ADJECTIVES.len()];
    let n = NOUNS[(random as usize / ADJECTIVES.len()) % NOUNS.len()];
    format!("{a}_{n}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid container name `{0}`: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
pub struct NameError(pub String);

/// Docker's rule for `--name`.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        Ok(())
    } else {
        Err(NameError(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert_eq!(container_id([0xab; 32]).len(), 64);
        assert_eq!(generated_name(0), "admiring_albattani");
        assert!(generated_name(123456).contains('_'));
        assert!(validate_name("web-1").is_ok());
        assert!(validate_name("my.app_2").is_ok());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("").is_err());
    }
}
