//! `--format` as Docker scripts use it: `json`, `table`, or a small, pure
//! subset of Go's text/template over a JSON value: `{{.Field}}`, nested
//! `{{.State.ExitCode}}`, `{{.}}`, functions `json`, `upper`, `lower`,
//! `join .X ","` and `index .Labels "key"`, and a leading `table` that adds
//! a header row and aligns the tab-separated columns.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("template: unclosed action `{{{{` in `{0}`")]
    Unclosed(String),
    #[error("template: unsupported action `{{{{{0}}}}}`: devbox understands fields (`.A.B`), json, upper, lower, join and index")]
    Unsupported(String),
}

/// What `--format` asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// The command's own table.
    Table,
    /// One JSON document per item (`ps`), or the array (`inspect`).
    Json,
    Template(Template),
}

impl Format {
    pub fn parse(value: Option<&str>) -> Result<Format, FormatError> {
        match value.map(str::trim) {
            None | Some("") | Some("table") => Ok(Format::Table),
            Some("json") | Some("{{json .}}") => Ok(Format::Json),
            Some(t) => Ok(Format::Template(Template::parse(t)?)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Field(Vec<String>),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Value(Arg),
    Call(String, Vec<Arg>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `table ...`: print a header and align columns.
    pub table: bool,
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, FormatError> {
        let (table, body) = match text.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, text),
        };
        // Docker turns the two-character escapes into the real characters.
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut nodes = Vec::new();
        let mut rest = body.as_str();
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                nodes.push(Node::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| FormatError::Unclosed(text.to_string()))?;
            nodes.push(action(after[..close].trim())?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_string()));
        }
        Ok(Template { table, nodes })
    }

    /// Renders the template for one value.
    pub fn render(&self, value: &Value) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Value(arg) => out.push_str(&display(&resolve(arg, value))),
                Node::Call(f, args) => out.push_str(&call(f, args, value)),
            }
        }
        out
    }

    /// The header row of a `table` template: each field's column name.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Value(Arg::Field(path)) => out.push_str(&column_name(path)),
                Node::Call(_, args) => {
                    if let Some(Arg::Field(path)) = args.first() {
                        out.push_str(&column_name(path));
                    }
                }
                Node::Value(Arg::Str(s)) => out.push_str(s),
            }
        }
        out
    }

    /// Renders every row (with the header for `table`), columns aligned.
    pub fn render_rows(&self, rows: &[Value]) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        if self.table {
            lines.push(self.header());
        }
        lines.extend(rows.iter().map(|r| self.render(r)));
        if self.table {
            align(&lines)
        } else {
            lines
        }
    }
}

fn action(text: &str) -> Result<Node, FormatError> {
    let words = split_words(text);
    let unsupported = || FormatError::Unsupported(text.to_string());
    let arg = |w: &str| -> Result<Arg, FormatError> {
        if let Some(s) = w.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
            return Ok(Arg::Str(s.to_string()));
        }
        if w == "." {
            return Ok(Arg::Field(Vec::new()));
        }
        match w.strip_prefix('.') {
            Some(path) => Ok(Arg::Field(path.split('.').map(str::to_string).collect())),
            None => Err(unsupported()),
        }
    };
    match words.as_slice() {
        [one] => Ok(Node::Value(arg(one)?)),
        [f, args @ ..] if ["json", "upper", "lower", "join", "index"].contains(&f.as_str()) => {
            Ok(Node::Call(
                f.clone(),
                args.iter().map(|a| arg(a)).collect::<Result<_, _>>()?,
            ))
        }
        _ => Err(unsupported()),
    }
}

/// Splits on spaces, keeping "quoted strings" whole.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `None`: the field does not exist (Go prints `<no value>`).
fn resolve(arg: &Arg, value: &Value) -> Option<Value> {
    match arg {
        Arg::Str(s) => Some(Value::String(s.clone())),
        Arg::Field(path) => {
            let mut v = value;
            for key in path {
                v = v.get(key)?;
            }
            Some(v.clone())
        }
    }
}

fn display(value: &Option<Value>) -> String {
    match value {
        None => "<no value>".into(),
        Some(Value::Null) => "<nil>".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| display(&Some(i.clone())))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Some(Value::Object(map)) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", display(&Some(v.clone()))))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Some(other) => other.to_string(),
    }
}

fn call(f: &str, args: &[Arg], value: &Value) -> String {
    let arg = |i: usize| args.get(i).and_then(|a| resolve(a, value));
    match f {
        "json" => serde_json::to_string(&arg(0).unwrap_or(Value::Null)).unwrap_or_default(),
        "upper" => display(&arg(0)).to_uppercase(),
        "lower" => display(&arg(0)).to_lowercase(),
        "join" => {
            let sep = display(&arg(1));
            match arg(0) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| display(&Some(i.clone())))
                    .collect::<Vec<_>>()
                    .join(&sep),
                other => display(&other),
            }
        }
        "index" => {
            let key = display(&arg(1));
            let item = match arg(0) {
                Some(Value::Object(map)) => map.get(&key).cloned(),
                Some(Value::Array(items)) => key
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i).cloned()),
                _ => None,
            };
            display(&item.or(Some(Value::String(String::new()))))
        }
        _ => String::new(),
    }
}

/// Docker's column names for the fields of its listings.
fn column_name(path: &[String]) -> String {
    let last = path.last().map(String::as_str).unwrap_or("");
    match last {
        "ID" => "CONTAINER ID".into(),
        "RunningFor" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        other => other.to_uppercase(),
    }
}

/// Aligns tab-separated columns like Docker's tabwriter (minimum width 10,
/// padding 3); the last column is not padded.
pub fn align(lines: &[String]) -> Vec<String> {
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count() + 3).max(10);
            }
        }
    }
    cells
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v)
    }

    #[test]
    fn fields_and_nested_fields() {
        let v = json!({"Names": "web", "State": {"ExitCode": 3, "Running": false}});
        assert_eq!(render("{{.Names}}", &v), "web");
        assert_eq!(render("{{ .State.ExitCode }}!", &v), "3!");
        assert_eq!(render("{{.State.Running}}", &v), "false");
        assert_eq!(render("{{.Nope}}", &v), "<no value>");
    }

    #[test]
    fn json_and_functions() {
        let v = json!({"Config": {"Cmd": ["sh", "-c"], "Labels": {"a": "1"}}, "Name": "Web"});
        assert_eq!(render("{{json .Config.Cmd}}", &v), r#"["sh","-c"]"#);
        assert_eq!(render("{{json .}}", &v), serde_json::to_string(&v).unwrap());
        assert_eq!(render("{{join .Config.Cmd \" \"}}", &v), "sh -c");
        assert_eq!(render("{{index .Config.Labels \"a\"}}", &v), "1");
        assert_eq!(render("{{lower .Name}}", &v), "web");
    }

    #[test]
    fn table_has_a_header_and_aligned_columns() {
        let t = Template::parse("table {{.ID}}\\t{{.Names}}").unwrap();
        assert!(t.table);
        let rows = [json!({"ID": "abc", "Names": "web"})];
        assert_eq!(
            t.render_rows(&rows),
            ["CONTAINER ID   NAMES", "abc            web"]
        );
    }

    #[test]
    fn format_keywords() {
        assert_eq!(Format::parse(None).unwrap(), Format::Table);
        assert_eq!(Format::parse(Some("json")).unwrap(), Format::Json);
        assert!(matches!(
            Format::parse(Some("{{.ID}}")).unwrap(),
            Format::Template(_)
        ));
        assert!(Template::parse("{{.ID").is_err());
        assert!(Template::parse("{{range .X}}").is_err());
    }
}
