//! `devbox compose config`: the merged, interpolated model as YAML (pure).

use serde_json::Value;

use super::model::Project;

/// Renders `project` as block-style YAML (keys in the model's order, maps sorted).
pub fn config_yaml(project: &Project) -> String {
    // The model only holds strings, numbers, booleans, maps and lists: this cannot fail.
    let value = serde_json::to_value(project).unwrap_or(Value::Null);
    let mut out = String::new();
    emit(&value, 0, &mut out);
    out
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&pad);
                out.push_str(&scalar_text(&Value::String(k.clone())));
                out.push(':');
                emit_child(v, indent, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                out.push_str(&pad);
                out.push('-');
                emit_child(v, indent, out);
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn emit_child(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit(v, indent + 1, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit(v, indent + 1, out);
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if needs_quotes(s) => Value::String(s.clone()).to_string(),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// A plain scalar is safe when it reads back as the same string under YAML 1.2.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || super::yaml::classify_plain(s) != super::yaml::ScalarKind::String
        || s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`".contains(c))
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(|c: char| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::{load, LoadInput, SourceFile};

    #[test]
    fn config_round_trips_through_the_loader() {
        let text = "name: demo\nservices:\n  web:\n    image: 'python:3.12'\n    command: python -m http.server\n    environment: {EMPTY: '', N: '1', T: 'true'}\n    ports: ['8000:8000']\n    healthcheck: {test: curl -f localhost, interval: 90s}\n";
        let input = LoadInput {
            files: vec![SourceFile {
                name: "a.yaml".into(),
                text: text.into(),
            }],
            working_dir: "/w".into(),
            ..LoadInput::default()
        };
        let first = load(&input).unwrap().project;
        let rendered = config_yaml(&first);
        assert!(rendered.contains("interval: 1m30s"), "{rendered}");
        let again = LoadInput {
            files: vec![SourceFile {
                name: "config".into(),
                text: rendered,
            }],
            ..input
        };
        assert_eq!(load(&again).unwrap().project, first);
    }
}
