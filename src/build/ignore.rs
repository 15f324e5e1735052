//! `.dockerignore`: reading the file's text into patterns, and matching
//! context paths with moby/patternmatcher semantics.
//!
//! - Patterns apply in order; the last one that matches decides. A `!pattern`
//!   re-includes what earlier patterns excluded.
//! - Each pattern is tried against the path and each of its parent
//!   directories, so `docs` excludes `docs/a/b`.
//! - `*` and `?` do not cross `/`; `[...]` classes (`[^...]`, ranges, `\`
//!   escapes); `\` escapes outside classes; `**` spans any number of
//!   directories (`**/` is the same as `**`), a trailing `**` matches
//!   everything below, a leading `**` matches any suffix.
//! - Patterns are cleaned like Go's `filepath.Clean`; a malformed pattern is an
//!   error when the matcher is built.
//!
//! Pure: text in, decisions out. The context walk lives elsewhere.

/// An error in a `.dockerignore` pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error("illegal exclusion pattern: \"!\"")]
    LoneExclamation,
    #[error("syntax error in pattern `{pattern}`")]
    BadPattern { pattern: String },
}

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The cleaned pattern, without its `!`.
    pub cleaned: String,
    /// A `!` pattern: matching paths are re-included.
    pub exclusion: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MatchKind {
    /// Plain string equality.
    Exact,
    /// `dir/**`: path starts with `dir/`.
    Prefix(String),
    /// `**foo` / `**/foo`: path ends with the rest.
    Suffix(String),
    Glob(Vec<Token>),
    /// Passed the syntax check but cannot be compiled (e.g. a reversed range
    /// such as `[l-O]`): every match is an error.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `*`: any run of non-`/` characters.
    Star,
    /// `?`: one non-`/` character.
    One,
    /// `**` followed by more pattern: `(.*/)?`.
    AnyDirs,
    /// `**` at the end: `.*`.
    AnyRest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// An ordered list of patterns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatternMatcher {
    pub patterns: Vec<Pattern>,
}

impl PatternMatcher {
    /// Builds a matcher. Patterns are trimmed; empty ones are dropped.
    pub fn new<I, S>(patterns: I) -> Result<PatternMatcher, IgnoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let p = clean_path(p);
            let (exclusion, p) = match p.strip_prefix('!') {
                Some("") => return Err(IgnoreError::LoneExclamation),
                Some(rest) => (true, rest.to_string()),
                None => (false, p),
            };
            check_syntax(&p).map_err(|()| IgnoreError::BadPattern { pattern: p.clone() })?;
            let kind = compile(&p);
            out.push(Pattern {
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(PatternMatcher { patterns: out })
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether `path` (slash-separated, relative to the context root) is
    /// excluded, considering the path and all its parent directories. The
    /// path is cleaned first; `.` is never excluded.
    pub fn matches(&self, path: &str) -> Result<bool, IgnoreError> {
        let path = clean_path(path);
        if path == "." {
            return Ok(false);
        }
        self.matches_or_parent_matches(&path)
    }

    /// patternmatcher's `MatchesOrParentMatches`, on an uncleaned path.
    pub fn matches_or_parent_matches(&self, path: &str) -> Result<bool, IgnoreError> {
        let parent = dir_name(path);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let mut hit = pattern.matches(path)?;
            if !hit && parent != "." {
                for i in 1..=parent_dirs.len() {
                    if pattern
                        .matches(&parent_dirs[..i].join("/"))
                        .unwrap_or(false)
                    {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        Ok(matched)
    }
}

impl Pattern {
    /// Matches this pattern against exactly `path` (no parent walk).
    pub fn matches(&self, path: &str) -> Result<bool, IgnoreError> {
        Ok(match &self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|s| s == path)
            }
            MatchKind::Glob(tokens) => {
                let chars: Vec<char> = path.chars().collect();
                glob_match(tokens, &chars)
            }
            MatchKind::Invalid => {
                return Err(IgnoreError::BadPattern {
                    pattern: self.cleaned.clone(),
                })
            }
        })
    }
}

/// Reads a `.dockerignore` file's text into patterns: a BOM is dropped, lines
/// starting with `#` are comments, lines are trimmed and blank ones dropped,
/// patterns are cleaned and one leading `/` removed; `!` is kept.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean_path(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Dir` for `/`-separated paths.
fn dir_name(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean_path(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Go's `filepath.Match` syntax check: classes must be well formed (`]` or
/// `-` cannot start a range item, ranges need both ends) and `\` must escape
/// something.
fn check_syntax(pattern: &str) -> Result<(), ()> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => {
                i += 1;
                parse_class(&chars, &mut i)?;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses a class body after `[` (Go's rules); `i` ends after the `]`.
fn parse_class(chars: &[char], i: &mut usize) -> Result<(bool, Vec<(char, char)>), ()> {
    let mut negated = false;
    if chars.get(*i) == Some(&'^') {
        negated = true;
        *i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(*i) == Some(&']') && !ranges.is_empty() {
            *i += 1;
            return Ok((negated, ranges));
        }
        let lo = class_char(chars, i)?;
        let mut hi = lo;
        if chars.get(*i) == Some(&'-') {
            *i += 1;
            hi = class_char(chars, i)?;
        }
        ranges.push((lo, hi));
    }
}

/// Go's `getEsc`: one (possibly escaped) class character, which must be
/// followed by more pattern.
fn class_char(chars: &[char], i: &mut usize) -> Result<char, ()> {
    let mut c = *chars.get(*i).ok_or(())?;
    if c == '-' || c == ']' {
        return Err(());
    }
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i).ok_or(())?;
    }
    *i += 1;
    if *i >= chars.len() {
        return Err(());
    }
    Ok(c)
}

/// Classifies and compiles a syntactically valid, cleaned pattern.
fn compile(pattern: &str) -> MatchKind {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut is_glob = false;
    let mut suffix = false;
    let mut trailing_double_star = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                let at_start = tokens.is_empty();
                if i >= chars.len() {
                    if !is_glob && !suffix && !at_start {
                        trailing_double_star = true;
                    } else {
                        is_glob = true;
                    }
                    tokens.push(Token::AnyRest);
                } else {
                    is_glob = true;
                    tokens.push(Token::AnyDirs);
                }
                if at_start {
                    suffix = true;
                    is_glob = false;
                }
            }
            '*' => {
                is_glob = true;
                tokens.push(Token::Star);
            }
            '?' => {
                is_glob = true;
                tokens.push(Token::One);
            }
            '\\' => {
                is_glob = true;
                tokens.push(Token::Lit(chars[i]));
                i += 1;
            }
            '[' => {
                is_glob = true;
                match parse_class(&chars, &mut i) {
                    Ok((negated, ranges)) if ranges.iter().all(|(lo, hi)| lo <= hi) => {
                        tokens.push(Token::Class { negated, ranges });
                    }
                    _ => return MatchKind::Invalid,
                }
            }
            c => tokens.push(Token::Lit(c)),
        }
    }
    if is_glob {
        return MatchKind::Glob(tokens);
    }
    if suffix {
        return MatchKind::Suffix(pattern[2..].to_string());
    }
    if trailing_double_star {
        return MatchKind::Prefix(pattern[..pattern.len() - 2].to_string());
    }
    MatchKind::Exact
}

/// Whether `tokens` match the whole text. Dynamic programming over (token,
/// position), one row per token from the last: O(tokens x text) time, where
/// plain backtracking is exponential in the number of `*` (the fuzzer's find:
/// a pattern of a few hundred `*` hung `build`).
fn glob_match(tokens: &[Token], text: &[char]) -> bool {
    let n = text.len();
    // next[s]: whether the tokens after the current one match text[s..].
    let mut next = vec![false; n + 1];
    next[n] = true;
    let mut row = vec![false; n + 1];
    for token in tokens.iter().rev() {
        // For `**/`: whether some `/` at or after s has a match right after it.
        let mut slash_then_rest = false;
        for s in (0..=n).rev() {
            let c = text.get(s);
            row[s] = match token {
                Token::Lit(l) => c == Some(l) && next[s + 1],
                Token::One => c.is_some_and(|c| *c != '/') && next[s + 1],
                Token::Class { negated, ranges } => {
                    c.is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                        && next[s + 1]
                }
                // Nothing more, or one more non-`/` character and again.
                Token::Star => next[s] || (c.is_some_and(|c| *c != '/') && row[s + 1]),
                Token::AnyRest => true,
                // Zero directories, or anything ending with `/`.
                Token::AnyDirs => {
                    slash_then_rest |= c == Some(&'/') && next[s + 1];
                    next[s] || slash_then_rest
                }
            };
        }
        std::mem::swap(&mut next, &mut row);
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain backtracking matcher the linear one replaced: the reference.
    fn backtrack(tokens: &[Token], text: &[char]) -> bool {
        let Some((first, rest)) = tokens.split_first() else {
            return text.is_empty();
        };
        match first {
            Token::Lit(c) => text.first() == Some(c) && backtrack(rest, &text[1..]),
            Token::One => text.first().is_some_and(|c| *c != '/') && backtrack(rest, &text[1..]),
            Token::Class { negated, ranges } => {
                text.first()
                    .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                    && backtrack(rest, &text[1..])
            }
            Token::Star => {
                let max = text.iter().position(|c| *c == '/').unwrap_or(text.len());
                (0..=max).any(|n| backtrack(rest, &text[n..]))
            }
            Token::AnyRest => true,
            Token::AnyDirs => {
                backtrack(rest, text)
                    || (0..text.len()).any(|i| text[i] == '/' && backtrack(rest, &text[i + 1..]))
            }
        }
    }

    /// Every pattern and path of up to 5 symbols from a small alphabet: the
    /// linear matcher agrees with backtracking.
    #[test]
    fn linear_matcher_agrees_with_backtracking() {
        // Every string of up to `n` parts from `parts`, once each.
        fn words(parts: &[&str], n: usize) -> Vec<String> {
            let mut words = vec![String::new()];
            for _ in 0..n {
                let longer: Vec<String> = words
                    .iter()
                    .flat_map(|w| parts.iter().map(move |p| format!("{w}{p}")))
                    .collect();
                words.extend(longer);
            }
            words.sort();
            words.dedup();
            words
        }
        let patterns = words(&["a", "/", "*", "?", "**/", "**", "[a-b]"], 4);
        let paths = words(&["a", "b", "/"], 5);
        for pattern in &patterns {
            let MatchKind::Glob(tokens) = compile(pattern) else {
                continue;
            };
            for path in &paths {
                let text: Vec<char> = path.chars().collect();
                assert_eq!(
                    glob_match(&tokens, &text),
                    backtrack(&tokens, &text),
                    "pattern {pattern:?} path {path:?}"
                );
            }
        }
    }

    fn m(patterns: &[&str], path: &str) -> bool {
        PatternMatcher::new(patterns)
            .unwrap()
            .matches(path)
            .unwrap()
    }

    #[test]
    fn directories_and_exceptions() {
        assert!(m(&["docs"], "docs/a/b.md"));
        assert!(!m(&["docs", "!docs/README.md"], "docs/README.md"));
        assert!(m(&["*.pyc"], "x.pyc"));
        assert!(!m(&["*.pyc"], "a/x.pyc"));
        assert!(m(&["**/*.pyc"], "a/b/x.pyc"));
        assert!(m(&["**/__pycache__"], "pkg/__pycache__/x.pyc"));
        assert!(!m(&["*"], "."));
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(
            PatternMatcher::new(["!"]),
            Err(IgnoreError::LoneExclamation)
        );
        assert!(PatternMatcher::new(["[a-"]).is_err());
        let pm = PatternMatcher::new(["[Local-Only]/"]).unwrap();
        assert!(pm.matches("x").is_err());
    }

    #[test]
    fn reading_the_file() {
        assert_eq!(
            read_patterns("\u{feff}# c\n/a/b/\n\n  !/c  \n.venv\n"),
            ["a/b", "!c", ".venv"]
        );
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean_path("./a//b/../c/"), "a/c");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("../a"), "../a");
    }
}
