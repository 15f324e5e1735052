//! `devbox history` / `devbox image history`: the config's history, newest first.

use serde_json::json;

use super::images::{columns, created_at, created_since, parse_time};
use crate::cli::image::{HistoryArgs, ListFormat};
use crate::context::Context;
use crate::ui::diagnostics::ExitStatus;
use crate::ui::units::human_size_with_precision;

pub fn history(args: HistoryArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let store = ctx.store()?;
    let image = store.resolve_image(&args.image)?;
    let mut layers = image.manifest.layers.iter().map(|l| l.size);
    let mut entries: Vec<_> = image
        .config
        .history
        .iter()
        .map(|h| {
            let size = if h.empty_layer {
                0
            } else {
                layers.next().unwrap_or(0)
            };
            (h.clone(), size)
        })
        .collect();
    // Images without history (some importers) get one line per layer.
    entries.extend(layers.map(|size| (Default::default(), size)));
    entries.reverse();
    let mut table = vec![["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        .map(String::from)
        .to_vec()];
    for (i, (entry, size)) in entries.iter().enumerate() {
        let id = match (i, args.no_trunc) {
            (0, true) => image.id.to_string(),
            (0, false) => image.id.short().to_string(),
            _ => "<missing>".to_string(),
        };
        if args.quiet {
            ctx.printer.data(id);
            continue;
        }
        let created = parse_time(entry.created.as_deref());
        let created_by = entry.created_by.clone().unwrap_or_default();
        let comment = entry.comment.clone().unwrap_or_default();
        if args.format == ListFormat::Json {
            ctx.printer.data(
                json!({
                    "Comment": comment,
                    "CreatedAt": created_at(created),
                    "CreatedBy": created_by,
                    "CreatedSince": created_since(created),
                    "ID": id,
                    "Size": human_size_with_precision(*size, 3),
                })
                .to_string(),
            );
            continue;
        }
        let created_by = if args.no_trunc {
            created_by
        } else {
            ellipsis(&created_by, 45)
        };
        table.push(vec![
            id,
            created_since(created),
            created_by,
            human_size_with_precision(*size, 3),
            comment,
        ]);
    }
    if !args.quiet && args.format == ListFormat::Table {
        for line in columns(&table) {
            ctx.printer.data(line.trim_end());
        }
    }
    Ok(ExitStatus::Success)
}

/// Docker's `stringutils.Ellipsis`: at most `max` characters, `…` last.
fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ellipsis_keeps_short_text() {
        assert_eq!(super::ellipsis("devbox import", 45), "devbox import");
        assert_eq!(super::ellipsis("abcdef", 4), "abc…");
    }
}
