//! A small spanned YAML tree built from saphyr-parser events (pure).
//!
//! We keep every node's line so that errors can say `compose.yaml:7: services.web.ports[0]`.
//! Anchors and aliases are resolved here (an alias is a copy of the anchored node), as are
//! `<<` merge keys. Copies are budgeted: a document whose aliases expand to more than
//! [`ALIAS_BUDGET`] nodes fails with "excessive aliasing" (the billion-laughs defence).

use saphyr_parser::{Event, Parser, ScalarStyle};

/// The most nodes that alias expansion may add to one document.
pub const ALIAS_BUDGET: usize = 200_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    /// A local tag such as `!reset` or `!override` (kept, not interpreted here).
    pub tag: Option<String>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// A scalar; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// What a plain scalar means under YAML 1.2's core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("{message}")]
    Syntax { line: usize, message: String },
    #[error("excessive aliasing: aliases expand to more than {ALIAS_BUDGET} nodes")]
    ExcessiveAliasing { line: usize },
    #[error("cycle detected: node at path {path} references node at path {anchor_path}")]
    AliasCycle {
        line: usize,
        path: String,
        anchor_path: String,
    },
    #[error("unknown anchor for alias")]
    UnknownAnchor { line: usize },
    #[error("merge key `<<` needs a mapping or a list of mappings")]
    BadMerge { line: usize },
}

impl YamlError {
    pub fn line(&self) -> usize {
        match self {
            YamlError::Syntax { line, .. }
            | YamlError::ExcessiveAliasing { line }
            | YamlError::AliasCycle { line, .. }
            | YamlError::UnknownAnchor { line }
            | YamlError::BadMerge { line } => *line,
        }
    }
}

impl Node {
    pub fn scalar_kind(&self) -> ScalarKind {
        match &self.value {
            Value::Null => ScalarKind::Null,
            Value::Scalar { text, plain: true } => classify_plain(text),
            _ => ScalarKind::String,
        }
    }

    /// The text of a scalar (any style), `None` for null, sequences and mappings.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn size(&self) -> usize {
        match &self.value {
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
            _ => 1,
        }
    }
}

pub fn classify_plain(text: &str) -> ScalarKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | "+.inf" | ".Inf" | "+.Inf" | ".INF" | "+.INF" => {
            return ScalarKind::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    let int = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = text.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
        && text.bytes().skip(1).all(|b| b.is_ascii_digit())
    {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return ScalarKind::Int(i);
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    match text.parse::<f64>() {
        Ok(f) if looks_numeric => ScalarKind::Float(f),
        _ => ScalarKind::String,
    }
}

/// Deeper nesting than any compose file needs is refused.
const MAX_DEPTH: usize = 64;

/// Parses the first document of `text`. `Ok(None)` means the stream holds no document
/// (an empty file or only comments).
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: Vec::new(),
        in_progress: Vec::new(),
        expanded: 0,
        path: Vec::new(),
    };
    builder.document()
}

struct Builder<'t> {
    parser: Parser<'t, saphyr_parser::StrInput<'t>>,
    /// anchor id → finished node (ids are dense, starting at 1).
    anchors: Vec<Option<Node>>,
    /// Anchors whose node is still being built, with their path (an alias to them is a cycle).
    in_progress: Vec<(usize, String)>,
    expanded: usize,
    /// Keys (and list indexes) from the root to the node being built.
    path: Vec<String>,
}

enum Step {
    Node(Node),
    End,
}

impl<'t> Builder<'t> {
    fn next(&mut self) -> Result<(Event<'t>, usize), YamlError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, span.start.line())),
            Some(Err(e)) => Err(YamlError::Syntax {
                line: e.marker().line(),
                message: e.info().to_string(),
            }),
            None => Ok((Event::StreamEnd, 0)),
        }
    }

    fn document(&mut self) -> Result<Option<Node>, YamlError> {
        loop {
            let (event, _) = self.next()?;
            match event {
                Event::StreamStart => {}
                Event::StreamEnd => return Ok(None),
                Event::DocumentStart(_) => break,
                _ => {}
            }
        }
        match self.node()? {
            Step::Node(node) => Ok(Some(node)),
            Step::End => Ok(None),
        }
    }

    fn remember(&mut self, id: usize, node: &Node) {
        if id == 0 {
            return;
        }
        if self.anchors.len() <= id {
            self.anchors.resize(id + 1, None);
        }
        self.anchors[id] = Some(node.clone());
        self.in_progress.retain(|(a, _)| *a != id);
    }

    fn node(&mut self) -> Result<Step, YamlError> {
        let (event, line) = self.next()?;
        // Each level is a stack frame here and in the loader: a hostile file
        // of `[[[[...` must fail, not overflow the stack (found by src/fuzz.rs).
        if self.path.len() > MAX_DEPTH {
            return Err(YamlError::Syntax {
                line,
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let tag_of = |tag: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>| {
            tag.filter(|t| t.handle == "!")
                .map(|t| format!("!{}", t.suffix))
        };
        let node = match event {
            Event::Scalar(text, style, id, tag) => {
                let plain = style == ScalarStyle::Plain;
                let core_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let tag = tag_of(tag);
                let value = if plain && !core_str && classify_plain(&text) == ScalarKind::Null {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain: plain && !core_str,
                    }
                };
                let node = Node { line, tag, value };
                self.remember(id, &node);
                node
            }
            Event::SequenceStart(id, tag) => {
                self.in_progress.push((id, self.path.join(".")));
                let mut items = Vec::new();
                loop {
                    self.path.push(items.len().to_string());
                    let step = self.node()?;
                    self.path.pop();
                    let Step::Node(item) = step else { break };
                    items.push(item);
                }
                let node = Node {
                    line,
                    tag: tag_of(tag),
                    value: Value::Seq(items),
                };
                self.remember(id, &node);
                node
            }
            Event::MappingStart(id, tag) => {
                self.in_progress.push((id, self.path.join(".")));
                let mut entries = Vec::new();
                let mut merges = Vec::new();
                while let Step::Node(key) = self.node()? {
                    self.path.push(key.as_text().unwrap_or("?").to_string());
                    let step = self.node()?;
                    self.path.pop();
                    let Step::Node(value) = step else { break };
                    if key.as_text() == Some("<<")
                        && matches!(key.value, Value::Scalar { plain: true, .. })
                    {
                        merges.push(value);
                    } else {
                        entries.push((key, value));
                    }
                }
                for merge in merges {
                    apply_merge(&mut entries, merge)?;
                }
                let node = Node {
                    line,
                    tag: tag_of(tag),
                    value: Value::Map(entries),
                };
                self.remember(id, &node);
                node
            }
            Event::Alias(id) => {
                if let Some((_, anchor_path)) = self.in_progress.iter().find(|(a, _)| *a == id) {
                    return Err(YamlError::AliasCycle {
                        line,
                        path: self.path.join("."),
                        anchor_path: anchor_path.clone(),
                    });
                }
                let target = self
                    .anchors
                    .get(id)
                    .and_then(Option::as_ref)
                    .ok_or(YamlError::UnknownAnchor { line })?;
                self.expanded += target.size();
                if self.expanded > ALIAS_BUDGET {
                    return Err(YamlError::ExcessiveAliasing { line });
                }
                target.clone()
            }
            Event::SequenceEnd | Event::MappingEnd | Event::DocumentEnd | Event::StreamEnd => {
                return Ok(Step::End)
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => {
                return Err(YamlError::Syntax {
                    line,
                    message: "unexpected document structure".to_string(),
                })
            }
        };
        Ok(Step::Node(node))
    }
}

/// `<<: *base` or `<<: [*a, *b]`: keys not already present are added, earlier sources first.
fn apply_merge(entries: &mut Vec<(Node, Node)>, merge: Node) -> Result<(), YamlError> {
    let sources = match merge.value {
        Value::Map(_) => vec![merge],
        Value::Seq(items) => items,
        _ => return Err(YamlError::BadMerge { line: merge.line }),
    };
    for source in sources {
        let Value::Map(source_entries) = source.value else {
            return Err(YamlError::BadMerge { line: source.line });
        };
        for (k, v) in source_entries {
            if !entries
                .iter()
                .any(|(existing, _)| existing.value == k.value)
            {
                entries.push((k, v));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_kinds() {
        let doc = parse("a: 1\nb:\n  - 'x'\n  - ~\n").unwrap().unwrap();
        let b = doc.get("b").unwrap();
        assert_eq!(b.line, 3);
        let Value::Seq(items) = &b.value else {
            panic!()
        };
        assert_eq!(items[0].scalar_kind(), ScalarKind::String);
        assert!(items[1].is_null());
        assert_eq!(doc.get("a").unwrap().scalar_kind(), ScalarKind::Int(1));
    }

    #[test]
    fn merge_keys_and_aliases() {
        let doc = parse("base: &b {x: 1, y: 2}\nsvc:\n  <<: *b\n  y: 3\n")
            .unwrap()
            .unwrap();
        let svc = doc.get("svc").unwrap();
        assert_eq!(svc.get("x").unwrap().as_text(), Some("1"));
        assert_eq!(svc.get("y").unwrap().as_text(), Some("3"));
    }

    #[test]
    fn self_reference_is_a_cycle() {
        let err = parse("a: &a\n  b:\n    <<: *a\n").unwrap_err();
        assert!(matches!(err, YamlError::AliasCycle { .. }), "{err:?}");
    }

    #[test]
    fn empty_stream() {
        assert_eq!(parse("# nothing\n").unwrap(), None);
    }
}
